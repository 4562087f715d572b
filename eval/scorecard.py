"""Scorecards (Markdown and HTML) and the comparison of two eval results."""
from __future__ import annotations

import html

from .metrics import METRIC_DIRECTIONS

HIDDEN = {"failures", "n_cases", "modes", "seconds", "split", "dev_failures"}
SUITE_ORDER = ("match", "drafts", "themes", "injection", "claims", "followups", "judge")


def _fmt(value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _limit(thresholds: dict, suite: str, metric: str) -> str:
    bound = thresholds.get(suite, {}).get(metric)
    if not bound:
        return ""
    return f">= {bound['min']}" if "min" in bound else f"<= {bound['max']}"


def _target(thresholds: dict, suite: str, metric: str, value) -> str:
    """The goal the project set (eval/thresholds.json "target"), shown apart from the gate, with whether it is met."""
    bound = thresholds.get(suite, {}).get(metric) or {}
    if "target" not in bound:
        return ""
    goal, higher = bound["target"], "min" in bound or METRIC_DIRECTIONS.get(metric) == "higher"
    met = value is not None and (value >= goal if higher else value <= goal)
    return f"{'>=' if higher else '<='} {goal} ({'met' if met else 'not met'})"


def rows(results: dict, thresholds: dict):
    """(suite, metric, value, dev value, gate, status, target, note). Split suites gate their test half; the dev
    half is shown beside it, and a dev figure more than 0.05 above the test figure is marked as overfitting."""
    failed = {(f["suite"], f["metric"]) for f in results.get("failed", [])}
    for suite in SUITE_ORDER:
        data = results.get(suite)
        if not isinstance(data, dict):
            continue
        if "skipped" in data:
            yield suite, "skipped", data["skipped"], "", "", "", "", ""
            continue
        dev, over = data.get("dev") or {}, data.get("overfitting") or {}
        for metric, value in data.items():
            if metric in HIDDEN or isinstance(value, (list, dict)):
                continue
            limit = _limit(thresholds, suite, metric)
            status = "FAIL" if (suite, metric) in failed else ("pass" if limit else "")
            note = f"overfitting: dev - test = {over[metric]:.3f}" if metric in over else ""
            yield (suite, metric, _fmt(value), _fmt(dev[metric]) if metric in dev else "", limit, status,
                   _target(thresholds, suite, metric, value), note)


def markdown(results: dict, thresholds: dict) -> str:
    lines = ["# Eval scorecard", "",
             f"**{'PASSED' if results.get('passed') else 'FAILED'}** — suites: {', '.join(results['suites'])}; "
             f"{results.get('seconds', 0)} s", ""]
    if _planted(results):
        lines += [_planted(results), ""]
    for suite in SUITE_ORDER:
        data = results.get(suite)
        if isinstance(data, dict) and "n_cases" in data:
            halves = f" (test half; dev half {data['dev'].get('n_cases')})" if data.get("dev") else ""
            lines.append(f"- {suite}: {data['n_cases']} cases{halves}")
    unsplit = [s for s in SUITE_ORDER if isinstance(results.get(s), dict) and "skipped" not in results[s]
               and not results[s].get("dev")]
    lines += ["", "The gate (threshold) fails the run on a regression; the target is the goal still to reach. Gold "
              "questions are split into a dev half (tune on it) and a test half (the value, which the gates read)."
              + (f" Not split ({', '.join(unsplit)}): the value is over all their cases." if unsplit else ""), "",
              "| suite | metric | value (test) | dev | gate | status | target | note |",
              "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows(results, thresholds)]
    for suite in ("match", "drafts"):
        data = results.get(suite) or {}
        fails = data.get("dev_failures") if "dev_failures" in data else data.get("failures") or []
        if fails:
            lines += ["", f"## {suite}: {len(fails)} dev case(s) to look at (test cases are not listed)", ""]
            for f in fails[:15]:
                detail = "; ".join(f.get("problems", [])) or f"verdict {f.get('verdict')} (gold {f.get('gold_verdict')}), top {f.get('top')}, gold {f.get('gold')}"
                lines.append(f"- `{f['id']}`: {detail}")
    return "\n".join(lines) + "\n"


def _planted(results: dict) -> str:
    """The planted bad drafter a run scored (`feedback eval --planted NAME`): without it the scorecard of a planted
    run read as the default drafter's."""
    planted = results.get("planted")
    if not isinstance(planted, dict):
        return ""
    return (f"Planted bad drafter: {planted.get('name')} (eval/planted.py), which must fail on drafts."
            f"{planted.get('metric')}; these are not the default drafter's figures.")


def html_page(results: dict, thresholds: dict) -> str:
    body = "".join(
        f"<tr class='{row[5].lower()}'>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
        for row in rows(results, thresholds)
    )
    verdict = "PASSED" if results.get("passed") else "FAILED"
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Eval scorecard</title><style>"
        "body{font-family:system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse}"
        "td,th{border:1px solid #ddd;padding:.3rem .6rem;text-align:left}.fail{background:#fde2e1}.pass{background:#e6f4ea}"
        f"</style></head><body><h1>Eval scorecard: {verdict}</h1>"
        + (f"<p>{html.escape(_planted(results))}</p>" if _planted(results) else "") +
        "<table><tr><th>suite</th><th>metric</th><th>value (test)</th><th>dev</th><th>gate</th><th>status</th>"
        "<th>target</th><th>note</th></tr>"
        f"{body}</table></body></html>"
    )


def compare(old: dict, new: dict) -> list[dict]:
    """Per metric: old, new, delta, and whether it got better or worse (by the metric's direction)."""
    out = []
    for suite in SUITE_ORDER:
        a, b = old.get(suite) or {}, new.get(suite) or {}
        for metric in sorted(set(a) | set(b)):
            va, vb = a.get(metric), b.get(metric)
            if metric in HIDDEN or not isinstance(va, (int, float)) or not isinstance(vb, (int, float)):
                continue
            direction = METRIC_DIRECTIONS.get(metric)
            delta = vb - va
            if abs(delta) < 1e-9 or direction is None:
                change = "same" if abs(delta) < 1e-9 else "changed"
            else:
                change = "better" if (delta > 0) == (direction == "higher") else "worse"
            out.append({"suite": suite, "metric": metric, "old": va, "new": vb, "delta": delta, "change": change})
    return out
