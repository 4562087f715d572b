"""Ingest benchmark: 2,000 notes of 12-40 words, end to end vs the raw model on the same texts.

    python -m eval.bench_ingest [--notes 2000] [--json] [--no-baseline] [--themes]

Prints end-to-end ingest seconds (parse, store, embed, index) with the service's embedder (FEEDBACK_EMBEDDER,
default onnx), raw torch SentenceTransformer.encode seconds for the same note texts in the same run, their ratio
(issue 16 target: raw torch / end-to-end >= 1.5) and peak memory.

At scale (issue 16 targets: 100,000 statements ingested in <= 300 s; the theme job at 100k statements in <= 60 s
and 2 GB): `--notes 40000 --no-baseline --themes` skips the torch baseline (its own minutes of encoding) and then
times `run_themes` on the ingested data in a child process (app, model and store opened before the clock starts),
reporting its seconds and the child's peak memory (max RSS).
"""
from __future__ import annotations

import argparse
import os
import json
import random
import resource
import tempfile
import time
from pathlib import Path

PAINS = [
    "exports time out on large reports", "we cannot log in with Okta", "we need SCIM provisioning",
    "a Snowflake connector would save us hours", "our legal team needs a HIPAA BAA", "audit logs are missing",
    "dashboards take forever to load", "the mobile view is broken", "API rate limits are too low",
    "Salesforce sync creates duplicate records", "we need custom roles", "data must stay in the EU",
    "Slack alerts would help the on-call team", "scheduled email reports fail silently",
]
FILLER = [
    "Thanks for the time today.", "They mentioned it twice during the call.", "This is blocking the renewal.",
    "Their VP of operations raised it again.", "Let's follow up next week.", "The team likes the new editor.",
    "It happens mostly on Monday mornings.", "They compared us with a competitor.", "Budget is approved for Q1.",
]


WHO = ["Their admin", "The finance team", "Our champion", "The CTO", "Two analysts", "Support", "The ops lead",
       "Their IT director", "The data team", "Procurement"]
WHEN = ["since {m}", "about {n} times last month", "for {n} of their users", "on {n} dashboards",
        "across {n} workspaces", "after the {m} release", "in {n} of the last calls"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October"]


def _sentence(rng: random.Random) -> str:
    """Mostly distinct sentences, as in real notes: a pain or a filler, with who said it and a detail."""
    if rng.random() < 0.6:
        when = rng.choice(WHEN).format(n=rng.randint(2, 400), m=rng.choice(MONTHS))
        return f"{rng.choice(WHO)} says {rng.choice(PAINS)} {when}."
    return rng.choice(FILLER)


def make_notes(n: int, seed: int = 7) -> list[dict]:
    rng = random.Random(seed)
    notes = []
    for i in range(n):
        words: list[str] = []
        target = rng.randint(12, 40)
        while len(words) < target:
            words += _sentence(rng).split()
        text = " ".join(words[:target]).rstrip(".,") + "."
        notes.append({"id": f"b-{i}", "text": text, "account": f"Account {rng.randint(1, 120)}",
                      "source": rng.choice(["call", "interview"]), "date": f"2026-{rng.randint(6, 11):02d}-{rng.randint(1, 28):02d}"})
    return notes


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=2000)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-baseline", action="store_true", help="skip the raw torch encode (for large --notes)")
    parser.add_argument("--themes", action="store_true", help="then time the theme job on the ingested data")
    parser.add_argument("--home", help="keep the ingested store in this (new) folder, e.g. to profile a theme run on it")
    args = parser.parse_args(argv)

    from service import create_app
    from service.config import TestConfig
    from service.embedding import get_embedder
    from service.ingest.store import ingest, load_paths
    from service.notes import stats

    from service.ingest.split import split_statements

    notes = make_notes(args.notes)
    embedder = get_embedder()  # the service's default (FEEDBACK_EMBEDDER): what the end-to-end ingest uses
    texts = [n["text"] for n in notes]
    embedder.embed(texts[:64])
    pieces = [note["text"][seg.start:seg.end] for note in notes for seg in split_statements(note["text"])]
    raw = raw_statements = None
    if not args.no_baseline:
        model = get_embedder(kind="torch")._model  # the raw SentenceTransformer, for the baseline
        model.encode(texts[:64], batch_size=64)  # warm up both paths equally
        t0 = time.perf_counter()
        model.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False)
        raw = time.perf_counter() - t0
        # The service stores one vector per statement: the model's own time on those texts is the fairer baseline.
        t0 = time.perf_counter()
        model.encode(sorted(set(pieces), key=len), batch_size=64, normalize_embeddings=True, show_progress_bar=False)
        raw_statements = time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "notes.jsonl"
        path.write_text("\n".join(json.dumps(n) for n in notes) + "\n")
        home = Path(args.home) if args.home else Path(tmp) / "home"
        if home.exists() and any(home.iterdir()):
            parser.error(f"--home {home} is not empty: the benchmark ingests into an empty store")
        app = create_app(TestConfig(home, EMBEDDING_MODEL=None))
        svc = app.extensions["feedback"]
        svc.store.count("statements")  # open the store outside the timing, like a running service
        t0, cpu0 = time.perf_counter(), time.process_time()
        parsed, errors = load_paths([str(path)], 100_000)
        report = ingest(svc, parsed, errors, skip_invalid=False)
        end_to_end, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        counts = stats(svc)
        svc.close()
        themes = theme_job(home) if args.themes else None

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    def ratio(value):
        return None if value is None else round(value / end_to_end, 3)

    result = {
        "notes": args.notes, "statements": counts["statements"], "vectors": counts["vectors"],
        "created": report.created, "end_to_end_s": round(end_to_end, 3),
        "cpu_s": round(cpu, 1),  # every thread of this process (ONNX, Chroma): less load-dependent than the wall time
        "raw_encode_s": None if raw is None else round(raw, 3),
        "raw_over_end_to_end": ratio(raw), "target": ">= 1.5 (issue 16; was >= 0.80 on torch)",
        "statements_per_s": round(counts["statements"] / end_to_end, 1),
        "embedder": embedder.name, "embedder_kind": os.environ.get("FEEDBACK_EMBEDDER", "onnx"),
        "peak_rss_mb": round(peak_mb, 1),
        "distinct_statements": len(set(pieces)),
        "raw_encode_statements_s": None if raw_statements is None else round(raw_statements, 3),
        "raw_statements_over_end_to_end": ratio(raw_statements), "theme_job": themes,
        "load_average": round(os.getloadavg()[0], 1), "cpus": os.cpu_count(),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"ingest benchmark: {args.notes} notes ({counts['statements']} statements, {counts['vectors']} vectors)")
        print(f"  end-to-end ingest   {end_to_end:7.2f} s  (parse, store, embed, index; "
              f"{result['statements_per_s']} statements/s)")
        print(f"  CPU time of it      {cpu:7.2f} s  (all threads of this process; the wall time depends on load)")
        if raw is not None:
            print(f"  raw model encode    {raw:7.2f} s  (SentenceTransformer.encode, same note texts)")
            print(f"  raw / end-to-end    {raw / end_to_end:7.2f}    (target >= 1.5 with the default embedder "
                  f"{result['embedder_kind']}: {embedder.name})")
            print(f"  raw model encode    {raw_statements:7.2f} s  (the {len(set(pieces))} distinct statement texts "
                  "the service embeds)")
            print(f"  that / end-to-end   {raw_statements / end_to_end:7.2f}")
        print(f"  peak memory         {peak_mb:7.0f} MB (max RSS)")
        if themes:
            if "error" in themes:
                print(f"  theme job           failed: {themes['error'][-300:]}")
            else:
                print(f"  theme job           {themes['seconds']:7.2f} s  ({themes['themes']} themes; peak memory "
                      f"{themes['peak_rss_mb']:.0f} MB; target <= 60 s and 2 GB; CPU {themes['cpu_s']:.0f} s)")
        print(f"  load average        {result['load_average']:7.1f}    ({result['cpus']} CPUs)")
    out = Path(__file__).parent / "out"
    out.mkdir(exist_ok=True)
    (out / "bench_ingest.json").write_text(json.dumps(result, indent=2))
    return result


THEME_CHILD = """
import json, resource, sys, time
from pathlib import Path
from service import create_app
from service.config import TestConfig
from service.themes.run import RunOptions, run_themes
app = create_app(TestConfig(Path(sys.argv[1]), EMBEDDING_MODEL=None))
svc = app.extensions["feedback"]
svc.store.count("statements"); svc.embedder.embed(["warm up"])
t0, cpu0 = time.perf_counter(), time.process_time()
result = run_themes(svc, RunOptions())
seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
print(json.dumps({"seconds": round(seconds, 2), "cpu_s": round(cpu, 1), "themes": len(result["themes"]),
                  "run": {k: v for k, v in result.items() if isinstance(v, (int, float, str))},
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))
"""


def theme_job(home: Path) -> dict:
    """The theme job on the ingested data, in a child process so its peak memory is its own."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", THEME_CHILD, str(home)], capture_output=True, text=True,
                          cwd=str(Path(__file__).resolve().parents[1]))
    if done.returncode != 0:
        return {"error": done.stderr.strip()[-1500:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
