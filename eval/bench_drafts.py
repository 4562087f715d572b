"""Draft latency benchmark: template-mode drafts over real HTTP with N statements indexed.

    .venv/bin/python -m eval.bench_drafts [--statements 100000] [--requests 200] [--home DIR] [--keep] [--profile]
                                          [--torch-threads T]

Target (drafts issue): template-mode latency p95 <= 150 ms per draft over HTTP with 100,000 statements indexed.

Builds a service on a temporary FEEDBACK_HOME with the real default Config (SQLite, embedded Chroma, the packaged
all-MiniLM-L6-v2; no LLM: OPENAI_* and FEEDBACK_LLM_MODEL are ignored), ingests the bundled sample notes, imports
the bundled roadmap, then ingests synthetic notes (sentences of service/sample_data/notes.jsonl and
eval/datasets/theme_notes.jsonl recombined, with varied lead-ins, accounts, dates and contacts) through the normal
ingest path until about N statements are stored and embedded, and runs themes once without an LLM. The app is then
served by a werkzeug server on 127.0.0.1 (one thread, like `gunicorn -w 1`) and POST /api/v1/drafts is timed from
the client for R questions of eval/datasets/questions.jsonl (cycled, audience "customer") after 5 warm-up requests.
The first warm-up fits the roadmap matcher and is reported separately.

`--home DIR` builds (or reuses) the index in DIR and keeps it: a second run on the same DIR skips the ingest when
DIR already holds N statements. `--keep` keeps the temporary folder. `--profile` adds a cProfile of one request
(the Flask test client, same code path without the socket) and prints the top costs in service/ code.
`--torch-threads T` calls torch.set_num_threads(T) first (the same as OMP_NUM_THREADS=T for a deployment): on a
busy 2-core machine torch's default of one thread per core makes one-sentence query embeddings many times slower.

Prints a table and one JSON line; figures also go to eval/out/bench_drafts.json. Always exits 0: this is a
benchmark, not a test. Timings depend on the machine and on what else runs on it.
"""
from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import random
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

EVAL_DIR = Path(__file__).resolve().parent
OUT = EVAL_DIR / "out"
SAMPLE = EVAL_DIR.parent / "service" / "sample_data"
DATASETS = EVAL_DIR / "datasets"
TARGET_P95_MS = 150.0
WARMUP = 5
BATCH_NOTES = 2000  # notes per ingest call: the API's MAX_NOTES_PER_REQUEST default

LEAD_INS = [
    "Again,", "On the call,", "Per their admin,", "Their ops lead said", "As a follow-up,", "Quick note:",
    "From the QBR:", "Heard again today:", "Their CFO mentioned", "During onboarding,", "In the renewal meeting,",
    "Support escalation:", "From the champion:", "Paraphrasing their IT team:",
]
SOURCES = ["call", "interview", "email", "ticket"]


# ---- synthetic notes ----------------------------------------------------------------------------------------
def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def sentence_pool() -> tuple[list[str], list[str], list[str]]:
    """(sentences, accounts, people) from the bundled sample notes and the theme gold notes."""
    from service.ingest.split import split_statements

    rows = _read_jsonl(SAMPLE / "notes.jsonl") + _read_jsonl(DATASETS / "theme_notes.jsonl")
    sentences = sorted({seg.text for r in rows for seg in split_statements(r["text"])})
    accounts = sorted({r["account"] for r in rows if r.get("account")})
    people = sorted({r[k] for r in rows for k in ("author", "contact_name") if r.get(k)})
    return sentences, accounts, people


def _vary(sentence: str, rng: random.Random) -> str:
    if rng.random() < 0.5:
        return sentence
    lead = rng.choice(LEAD_INS)
    first = sentence[:1].lower() if sentence[1:2].islower() else sentence[:1]  # keep "SCIM", "Okta" as they are
    return f"{lead} {first}{sentence[1:]}"


def make_notes(target_statements: int, seed: int = 11, prefix: str = "bd") -> tuple[list[dict], int]:
    """Synthetic notes of 2-6 recombined sentences until about target_statements statements; (notes, planned)."""
    from service.ingest.split import split_statements

    rng = random.Random(seed)
    sentences, real_accounts, people = sentence_pool()
    accounts = real_accounts + [f"Synthetic Account {i:03d}" for i in range(1, 301)]
    notes, planned = [], 0
    while planned < target_statements:
        text = " ".join(_vary(s, rng) for s in rng.sample(sentences, rng.randint(2, 6)))
        note = {"id": f"{prefix}-{len(notes):06d}", "text": text, "account": rng.choice(accounts),
                "source": rng.choice(SOURCES), "date": f"2026-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d}"}
        if rng.random() < 0.6:
            note["author"] = rng.choice(people)
        if rng.random() < 0.3:
            note["contact_name"] = rng.choice(people)
        if rng.random() < 0.2:
            note["arr"] = rng.randrange(10_000, 400_000, 1000)
        notes.append(note)
        planned += len(split_statements(text))
    return notes, planned


# ---- service ------------------------------------------------------------------------------------------------
def bench_config(home: Path):
    """The real default Config on `home`: SQLite, embedded Chroma, packaged model, and no LLM endpoint."""
    from service.config import Config

    for name in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "FEEDBACK_LLM_MODEL", "FEEDBACK_DATABASE_URL",
                 "FEEDBACK_CHROMA_URL", "FEEDBACK_CHROMA_PATH", "FEEDBACK_EMBEDDING_MODEL", "FEEDBACK_HOME"):
        os.environ.pop(name, None)
    config = Config(FEEDBACK_HOME=str(home))
    assert not config.llm_configured and config.CHROMA_URL is None and config.EMBEDDING_MODEL is None
    return config


def statement_count(svc) -> int:
    from sqlalchemy import func, select

    from service.models import Statement

    with svc.db.session() as session:
        return int(session.scalar(select(func.count(Statement.id))) or 0)


def build(svc, home: Path, target: int) -> dict:
    """Sample notes and roadmap (as eval.runner.eval_services), then synthetic notes up to ~target statements."""
    from service.ingest.store import ingest, load_paths
    from service.roadmap.service import import_items

    info = {"ingest_seconds": 0.0, "ingested_statements": 0, "notes": 0, "reused": False}
    have = statement_count(svc)
    top_up = have > 0
    if not top_up:
        notes, errors = load_paths([str(SAMPLE / "notes.jsonl")], 100_000)
        ingest(svc, notes, errors, skip_invalid=False)
        import_items(svc, json.loads((SAMPLE / "roadmap.json").read_text()))
        have = statement_count(svc)
    elif have >= target * 0.98:
        info["reused"] = True
        return info
    # A top-up of an existing --home gets other sentences and ids, so it adds notes instead of updating them.
    synthetic, planned = (make_notes(target - have, seed=11 + have, prefix=f"bd{have}") if top_up
                          else make_notes(max(0, target - have)))
    path = home / "bench_notes.jsonl"
    path.write_text("\n".join(json.dumps(n) for n in synthetic) + "\n")
    parsed, errors = load_paths([str(path)], 100_000)
    svc.store.count("statements")  # open the store outside the timing, like a running service
    print(f"ingest: {len(parsed)} synthetic notes (~{planned} statements) on top of {have} statements", flush=True)
    start = time.perf_counter()
    for i in range(0, len(parsed), BATCH_NOTES):
        report = ingest(svc, parsed[i:i + BATCH_NOTES], errors if i == 0 else [], skip_invalid=True)
        info["ingested_statements"] += report.statements
        done = i + len(parsed[i:i + BATCH_NOTES])
        elapsed = time.perf_counter() - start
        print(f"  {done:>7}/{len(parsed)} notes, {info['ingested_statements']:>7} statements, {elapsed:7.1f} s "
              f"({info['ingested_statements'] / max(elapsed, 1e-9):.0f} statements/s)", flush=True)
    info["ingest_seconds"] = round(time.perf_counter() - start, 1)
    info["notes"] = len(parsed)
    return info


def ensure_themes(svc, fresh: bool) -> float | None:
    from service.themes.queries import latest_run
    from service.themes.run import RunOptions, run_themes

    with svc.db.session() as session:
        if not fresh and latest_run(session) is not None:
            return None
    start = time.perf_counter()
    result = run_themes(svc, RunOptions(use_llm=False))
    seconds = round(time.perf_counter() - start, 1)
    print(f"themes: {len(result.get('themes') or []) if isinstance(result, dict) else '?'} themes in {seconds} s",
          flush=True)
    return seconds


# ---- HTTP ---------------------------------------------------------------------------------------------------
class Server:
    """The app on 127.0.0.1, one request at a time (werkzeug, like one gunicorn sync worker)."""

    def __init__(self, app):
        from werkzeug.serving import make_server

        self._server = make_server("127.0.0.1", 0, app, threaded=False)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._thread.join(timeout=10)


def post_draft(port: int, question: str, token: str) -> tuple[float, int, dict]:
    """(client-side milliseconds from connect to the last byte, status, body). The API needs a token: without one
    every request was a 401 and the run measured nothing."""
    body = json.dumps({"question": question, "audience": "customer"})
    start = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("POST", "/api/v1/drafts", body=body,
                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
        resp = conn.getresponse()
        raw = resp.read()
    finally:
        conn.close()
    ms = (time.perf_counter() - start) * 1000
    return ms, resp.status, json.loads(raw) if raw else {}


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (no interpolation): the value q% of requests were at or under."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(len(ordered) * q / 100) - 1))] if ordered else float("nan")


def summary(values: list[float]) -> dict:
    return {"count": len(values), "p50_ms": round(pct(values, 50), 1), "p95_ms": round(pct(values, 95), 1),
            "p99_ms": round(pct(values, 99), 1), "max_ms": round(max(values), 1) if values else None,
            "mean_ms": round(statistics.fmean(values), 1) if values else None}


def profile_one(app, question: str, token: str, top: int = 25) -> list[dict]:
    """cProfile one POST through the Flask test client; the costliest service/ functions by cumulative time."""
    import cProfile
    import pstats

    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    profiler = cProfile.Profile()
    profiler.enable()
    resp = client.post("/api/v1/drafts", json={"question": question, "audience": "customer"})
    profiler.disable()
    assert resp.status_code == 201, resp.get_data(as_text=True)
    stats = pstats.Stats(profiler)
    total = stats.total_tt
    root = str(EVAL_DIR.parent / "service")
    rows = []
    for (path, line, func), (_cc, ncalls, tottime, cumtime, _callers) in stats.stats.items():
        if path.startswith(root):
            rows.append({"where": f"{Path(path).relative_to(EVAL_DIR.parent)}:{line}:{func}", "calls": ncalls,
                         "tottime_ms": round(tottime * 1000, 1), "cumtime_ms": round(cumtime * 1000, 1)})
    rows.sort(key=lambda r: -r["cumtime_ms"])
    print(f"\nprofile of one request ({total * 1000:.0f} ms under cProfile): {question[:70]!r}")
    print(f"  {'cumulative':>10} {'own':>8} {'calls':>6}  function")
    for r in rows[:top]:
        print(f"  {r['cumtime_ms']:>8.1f}ms {r['tottime_ms']:>6.1f}ms {r['calls']:>6}  {r['where']}")
    buf = stats.sort_stats("tottime")
    print("  top own time, any code:")
    for (path, line, func), (_cc, ncalls, tottime, cumtime, _callers) in sorted(
            buf.stats.items(), key=lambda kv: -kv[1][2])[:10]:
        print(f"  {cumtime * 1000:>8.1f}ms {tottime * 1000:>6.1f}ms {ncalls:>6}  {Path(path).name}:{line}:{func}")
    return rows[:top]


# ---- main ---------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--statements", type=int, default=100_000, help="statements to index (default 100000)")
    ap.add_argument("--requests", type=int, default=200, help="timed requests after the warm-up (default 200)")
    ap.add_argument("--home", help="FEEDBACK_HOME to build in (kept; reused when it already holds N statements)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary FEEDBACK_HOME")
    ap.add_argument("--profile", action="store_true",
                    help="also cProfile two requests (one matched, one not on the roadmap) and print the top costs")
    ap.add_argument("--torch-threads", type=int, metavar="T",
                    help="torch.set_num_threads(T) for the whole run (default: torch's own choice, as in the service)")
    args = ap.parse_args(argv)
    import logging

    import torch

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log line per request
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)

    if args.home:
        home = Path(args.home).resolve()
        home.mkdir(parents=True, exist_ok=True)
    else:
        home = Path(tempfile.mkdtemp(prefix="feedback-bench-drafts-"))
    result: dict = {"target": f"p95 <= {TARGET_P95_MS:.0f} ms", "home": str(home), "cpus": os.cpu_count(),
                    "torch_threads": torch.get_num_threads(), "load_average_start": _loadavg()}
    try:
        from service import create_app

        app = create_app(bench_config(home))
        svc = app.extensions["feedback"]
        from service.auth.store import create_token

        token = create_token(svc.db, f"bench-drafts-{os.getpid()}-{int(time.time())}", "admin")[1]
        built = build(svc, home, args.statements)
        result.update(built)
        result["themes_seconds"] = ensure_themes(svc, fresh=not built["reused"])
        result["statements_indexed"] = statement_count(svc)
        result["vectors_indexed"] = svc.store.count("statements")
        result["embedder"] = svc.embedder.name
        print(f"index: {result['statements_indexed']} statements, {result['vectors_indexed']} vectors "
              f"({result['embedder']}); LLM configured: {svc.config.llm_configured}", flush=True)

        gold = _read_jsonl(DATASETS / "questions.jsonl")
        questions = [q["question"] for q in gold]
        timed: list[float] = []
        server_ms: list[float] = []
        modes: dict[str, int] = {}
        verdicts: dict[str, int] = {}
        errors = 0
        with Server(app) as server:
            warm = [post_draft(server.port, questions[i % len(questions)], token)[0] for i in range(WARMUP)]
            result["warmup_ms"] = [round(w, 1) for w in warm]
            print(f"warm-up: {', '.join(f'{w:.0f}' for w in warm)} ms (the first fits the roadmap matcher)",
                  flush=True)
            for i in range(args.requests):
                ms, status, body = post_draft(server.port, questions[(WARMUP + i) % len(questions)], token)
                if status != 201:
                    errors += 1
                    print(f"  request {i}: HTTP {status}: {str(body)[:200]}", file=sys.stderr)
                    continue
                timed.append(ms)
                server_ms.append(float(body.get("latency_ms") or 0.0))
                modes[body.get("mode")] = modes.get(body.get("mode"), 0) + 1
                verdicts[body.get("verdict")] = verdicts.get(body.get("verdict"), 0) + 1
        http_stats = summary(timed)
        result.update({"requests": args.requests, "errors": errors, "http": http_stats,
                       "pipeline": summary(server_ms), "modes": modes, "verdicts": verdicts,
                       "met": bool(timed) and http_stats["p95_ms"] <= TARGET_P95_MS
                       and set(modes) == {"grounded-template"},
                       "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                       "load_average_end": _loadavg()})
        if args.profile:
            off = next(q["question"] for q in gold if q["gold_verdict"] == "not_on_roadmap")
            result["profile"] = {"matched": profile_one(app, questions[0], token),
                                 "not_on_roadmap": profile_one(app, off, token)}
        svc.close()
    finally:
        if not (args.home or args.keep):
            shutil.rmtree(home, ignore_errors=True)
        elif not args.home:
            print(f"kept {home}")

    _print(result)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "bench_drafts.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "profile"}))
    if result.get("errors"):
        print(f"bench_drafts: {result['errors']} of {result['requests']} requests failed (see above)", file=sys.stderr)
        return 1
    return 0


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _print(r: dict) -> None:
    h, p = r.get("http") or {}, r.get("pipeline") or {}
    ingest = "reused index" if r.get("reused") else (
        f"{r['ingest_seconds']} s for {r['ingested_statements']} statements "
        f"({r['ingested_statements'] / max(r['ingest_seconds'], 1e-9):.0f}/s)")
    print(f"\ndraft latency benchmark: {r.get('statements_indexed')} statements indexed, {r.get('cpus')} CPUs, "
          f"torch threads {r.get('torch_threads')}, load average {r.get('load_average_start')} -> "
          f"{r.get('load_average_end')}")
    print(f"  ingest        {ingest}")
    print(f"  themes        {r.get('themes_seconds')} s")
    print(f"  modes         {r.get('modes')}   verdicts {r.get('verdicts')}   errors {r.get('errors')}")
    print(f"  {'':14}{'count':>6} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8} {'mean':>8}")
    for name, s in (("HTTP (client)", h), ("pipeline", p)):
        if s and s.get("count"):  # no successful request: no figures (was a TypeError on None)
            print(f"  {name:14}{s['count']:>6} {s['p50_ms']:>6.1f}ms {s['p95_ms']:>6.1f}ms {s['p99_ms']:>6.1f}ms "
                  f"{s['max_ms']:>6.1f}ms {s['mean_ms']:>6.1f}ms")
    print(f"  target        HTTP p95 <= {TARGET_P95_MS:.0f} ms, mode grounded-template: "
          f"{'met' if r.get('met') else 'MISSED'}   (timings are noisy on a shared machine)")


if __name__ == "__main__":
    raise SystemExit(main())
