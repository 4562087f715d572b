"""Theme runs take turns: two at once (a CLI run beside a job, two commands) never overlap, and the second starts
from the first's result, so its ids are the first's."""
from __future__ import annotations

import threading
import time

from service.ingest.store import ingest_notes
from service.themes import run as run_mod
from service.themes.run import RunOptions, run_themes

from .test_theme_determinism import TOPICS, _notes


def test_two_theme_runs_at_once_take_turns(svc, monkeypatch):
    ingest_notes(svc, _notes(TOPICS))
    inside, overlaps, spans = [0], [], []
    real = run_mod._run_themes

    def slow(*args, **kwargs):
        inside[0] += 1
        overlaps.append(inside[0] > 1)
        started = time.monotonic()
        try:
            time.sleep(0.3)  # long enough for the other thread to arrive while this run is going
            return real(*args, **kwargs)
        finally:
            spans.append((started, time.monotonic()))
            inside[0] -= 1

    monkeypatch.setattr(run_mod, "_run_themes", slow)
    results = [None, None]

    def go(k):
        results[k] = run_themes(svc, RunOptions(include_all=True, use_llm=False))

    threads = [threading.Thread(target=go, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(results) and not any(overlaps)
    first, second = sorted(results, key=lambda r: r["run_id"])
    assert [t["id"] for t in first["themes"]] == [t["id"] for t in second["themes"]]
