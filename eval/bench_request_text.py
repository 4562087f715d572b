"""How long one in-limit API request holds a worker, per kind of text it carries (issue 15: total text per request).

    python -m eval.bench_request_text [--json]

With the service's real embedder (FEEDBACK_EMBEDDER, default onnx) on a temp home seeded with the sample roadmap
and notes, times through the API: a synchronous ingest at FEEDBACK_ASYNC_INGEST_CHARS (the largest that is not
queued), a match call at the match text bound, a draft with the longest question allowed, and a pasted-text summary
at its bound; and prints each one's characters per second. gunicorn kills a worker after 30 s (gunicorn.conf.py):
each figure must stay well below that on a loaded machine.
"""
from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

from eval.bench_ingest import FILLER, PAINS

WORKER_TIMEOUT = 30.0


def _text(chars: int, seed: int) -> str:
    rng = random.Random(seed)
    out, n = [], 0
    while n < chars:
        sentence = f"{rng.choice(PAINS).capitalize()}. {rng.choice(FILLER)}"
        out.append(sentence)
        n += len(sentence) + 1
    return " ".join(out)[:chars]


def _timed(client, method: str, url: str, body) -> tuple[float, int]:
    start = time.perf_counter()
    resp = getattr(client, method)(url, json=body)
    return time.perf_counter() - start, resp.status_code


def run() -> dict:
    from service import create_app
    from service.api.roadmap import MAX_MATCH_CHARS, MAX_MATCH_REQUESTS
    from service.api.themes import MAX_SUMMARIZE_CHARS
    from service.config import TestConfig
    from service.drafts.pipeline import MAX_QUESTION_CHARS
    from service.roadmap.service import import_items

    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as home:
        app = create_app(TestConfig(home, EMBEDDING_MODEL=None, ASYNC_INGEST_CHARS=50_000))
        svc = app.extensions["feedback"]
        import_items(svc, json.loads((root / "service" / "sample_data" / "roadmap.json").read_text()))
        from service.auth.store import create_token

        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {create_token(svc.db, 'bench', 'admin')[1]}"
        notes = [json.loads(line) for line in (root / "service" / "sample_data" / "notes.jsonl").read_text().splitlines()]
        client.post("/api/v1/notes", json=notes[:50])  # warm up: model loaded, matcher fitted
        client.post("/api/v1/match", json=["warm up"])
        limit = int(app.config["ASYNC_INGEST_CHARS"])
        cases = {}
        one = [{"id": "big-1", "text": _text(limit, 1), "account": "Bench"}]
        cases["ingest_one_note_at_async_threshold"] = (limit, *_timed(client, "post", "/api/v1/notes", one))
        many = [{"id": f"m-{i}", "text": _text(limit // 200, 100 + i), "account": "Bench"} for i in range(200)]
        cases["ingest_200_notes_at_async_threshold"] = (limit, *_timed(client, "post", "/api/v1/notes", many))
        per = MAX_MATCH_CHARS // MAX_MATCH_REQUESTS
        reqs = [{"id": str(i), "text": _text(per, 1000 + i)} for i in range(MAX_MATCH_REQUESTS)]
        cases["match_at_text_bound"] = (MAX_MATCH_CHARS, *_timed(client, "post", "/api/v1/match", reqs))
        question = _text(MAX_QUESTION_CHARS, 7)
        cases["draft_longest_question"] = (MAX_QUESTION_CHARS,
                                           *_timed(client, "post", "/api/v1/drafts", {"question": question}))
        cases["summarize_at_text_bound"] = (MAX_SUMMARIZE_CHARS, *_timed(
            client, "post", "/api/v1/themes/summarize", {"texts": [_text(10_000, 9 + i) for i in range(MAX_SUMMARIZE_CHARS // 10_000)]}))
        svc.close()
    return {name: {"chars": chars, "seconds": round(sec, 2), "status": status,
                   "chars_per_second": round(chars / sec), "share_of_worker_timeout": round(sec / WORKER_TIMEOUT, 2)}
            for name, (chars, sec, status) in cases.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    results = run()
    if parser.parse_args().json:
        print(json.dumps(results, indent=2))
        return
    for name, r in results.items():
        print(f"{name:40s} {r['chars']:>8,} chars {r['seconds']:>7.2f} s  HTTP {r['status']}  "
              f"{r['chars_per_second']:>8,} chars/s  {r['share_of_worker_timeout']:.0%} of the 30 s timeout")


if __name__ == "__main__":
    main()
