"""feedback eval: the offline scorecard, gated on eval/thresholds.json."""
from __future__ import annotations

import json
from pathlib import Path

import click

from .common import emit_json, fail


def register(cli: click.Group) -> None:
    cli.add_command(eval_cmd)


@click.command("eval")
@click.option("--suite", type=click.Choice(["drafts", "themes", "match", "injection", "claims", "followups", "all"]),
              default="all", show_default=True, help="Which suite to run (docs/eval.md says what each measures).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), help="Write results.json, scorecard.md and scorecard.html here.")
@click.option("--judge", is_flag=True, help="Also measure the LLM judge against the rated drafts (needs an endpoint).")
@click.option("--compare", nargs=2, type=click.Path(exists=True, dir_okay=False), metavar="OLD.json NEW.json",
              help="Print what got better or worse between two result files; runs nothing.")
@click.option("--thresholds", type=click.Path(exists=True, dir_okay=False), help="Another thresholds file.")
@click.option("--planted", metavar="NAME", help="Score a deliberately bad drafter from eval/planted.py instead of the "
                                                "default one (drafts suite); the run should fail on its metric.")
def eval_cmd(suite, as_json, out_dir, judge, compare, thresholds, planted):
    """Run the eval suites offline; exit 1 when any metric is below its threshold (--compare: when any got worse),
    exit 2 when the run cannot be made (a bad file or option)."""
    try:
        from eval import runner, scorecard
    except ImportError as exc:
        fail(f"the eval package is not installed next to the service: {exc}", code=2)
    if compare:
        old, new = (_results_file(p, scorecard.SUITE_ORDER) for p in compare)
        suites_in = [{s for s in scorecard.SUITE_ORDER if isinstance(data.get(s), dict)} for data in (old, new)]
        if not suites_in[0] & suites_in[1]:
            fail(f"--compare: {compare[0]} has suites {', '.join(sorted(suites_in[0]))} and {compare[1]} has "
                 f"{', '.join(sorted(suites_in[1]))}: no suite in both, nothing to compare", code=2)
        for path, only in ((compare[0], suites_in[0] - suites_in[1]), (compare[1], suites_in[1] - suites_in[0])):
            if only:  # was silent: a suite run once only read as "no metric changed"
                click.echo(f"note: only {path} has {', '.join(sorted(only))}; not compared", err=True)
        changes = scorecard.compare(old, new)
        if as_json:
            emit_json(changes)
        else:
            for c in changes:
                if c["change"] != "same":
                    click.echo(f"{c['change']:>7}  {c['suite']}.{c['metric']}: {c['old']:.4g} -> {c['new']:.4g}")
            if all(c["change"] == "same" for c in changes):
                click.echo("no metric changed")
        raise SystemExit(1 if any(c["change"] == "worse" for c in changes) else 0)
    if judge and not _llm_configured():  # was a "judge: skipped" row and exit 0 for a run asked to judge
        fail("--judge needs an LLM endpoint: set OPENAI_BASE_URL and FEEDBACK_LLM_MODEL (docs/configuration.md)",
             code=2)
    limits = _json_object(thresholds, "--thresholds") if thresholds else runner.load_thresholds()
    if thresholds and (problems := runner.threshold_problems(limits)):
        fail(f"--thresholds {thresholds}: " + "; ".join(problems[:5])
             + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""), code=2)
    suites = runner.SUITES if suite == "all" else (suite,)
    transform = None
    if planted:
        from eval.planted import PLANTED

        if planted not in PLANTED:
            fail(f"unknown planted drafter {planted!r}; choose from {', '.join(PLANTED)}", code=2)
        if "drafts" not in suites:
            fail("--planted changes the drafts suite only; use --suite drafts or all", code=2)
        transform = PLANTED[planted].transform
    out = Path(out_dir) if out_dir else None
    if out is not None:  # before the suites run (minutes for all): a path that cannot be a folder was found after
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            fail(f"--out {out_dir}: cannot create the folder: {exc.strerror or exc}", code=2)
    results = runner.run_eval(suites, judge=judge, thresholds=limits, transform=transform)
    if planted:
        results["planted"] = {"name": planted, "metric": PLANTED[planted].metric}
    if out is not None:
        (out / "results.json").write_text(json.dumps(results, indent=2, default=str))
        (out / "scorecard.md").write_text(scorecard.markdown(results, limits))
        (out / "scorecard.html").write_text(scorecard.html_page(results, limits))
    if as_json:
        emit_json(results)
    else:
        click.echo(scorecard.markdown(results, limits))
    raise SystemExit(0 if results["passed"] else 1)


def _llm_configured() -> bool:
    from service.config import Config, ConfigError

    try:
        return Config().llm_configured
    except ConfigError as exc:
        fail(f"--judge: the LLM settings are not usable: {exc}", code=2)


def _json_object(path: str, option: str) -> dict:
    """A JSON object from a file given to an option; anything else ends the command naming the file (and the line
    and column of a syntax error), exit code 2. It was a bare "JSONDecodeError" that named neither."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        fail(f"{option} {path}:{exc.lineno}: invalid JSON at column {exc.colno}: {exc.msg}", code=2)
    except UnicodeDecodeError:
        fail(f"{option} {path}: not UTF-8 text", code=2)
    except OSError as exc:
        fail(f"{option} {path}: cannot read it: {exc.strerror or exc}", code=2)
    if not isinstance(data, dict):
        fail(f"{option} {path}: expected a JSON object, not a {type(data).__name__}", code=2)
    return data


def _results_file(path: str, suites) -> dict:
    """A results.json that `feedback eval --out` wrote. Any other JSON object compared as "no metric changed"
    (exit 0), which reads as a pass."""
    data = _json_object(path, "--compare")
    if not any(isinstance(data.get(suite), dict) for suite in suites):
        fail(f"--compare {path}: not eval results (no suite in it: {', '.join(suites)}); compare the results.json "
             "files that `feedback eval --out DIR` writes", code=2)
    return data
