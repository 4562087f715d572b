"""Regressions from running the eval suite and the benchmarks as docs/eval.md writes them (`feedback eval ...`,
`python -m eval.bench_*`): each test names the problem it keeps fixed. Tiny inputs made here; no model, no data set."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval import runner, scorecard


def _write(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")
    return path


@pytest.fixture
def no_suites(monkeypatch):
    """A user mistake must be named before any suite runs (all of them take about two minutes)."""
    def refuse(*args, **kwargs):
        raise AssertionError("the suites ran although the command line was wrong")

    monkeypatch.setattr(runner, "run_eval", refuse)


# feedback eval --thresholds ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("body, named", [
    ('{"injection": {"instruction_false_alarms": 5}}', "injection.instruction_false_alarms: expected an object"),
    ('{"injection": {"instruction_false_alarms": {"mn": 5}}}', 'exactly one of "min" and "max"'),
    ('{"injection": {"instruction_false_alarms": {"max": "2"}}}', "max must be a number"),
    ('{"injection": {"instruction_false_alarms": {"max": 2, "min": 0}}}', 'exactly one of "min" and "max"'),
    ('{"injection": {"instruction_false_alarms": {"max": 2, "goal": 0}}}', "unknown key 'goal'"),
    ('{"injection": "strict"}', "injection: expected an object of metric -> bound"),
    ('{"draft": {"verdict_accuracy": {"min": 0.8}}}', "unknown suite 'draft'"),
    ('{"drafts": {"verdict_acuracy": {"min": 0.8}}}', "drafts.verdict_acuracy: unknown metric"),
])
def test_a_thresholds_file_of_the_wrong_shape_is_named_not_a_bare_python_error(run_cli, tmp_path, no_suites, body,
                                                                                 named):
    # was "error: TypeError: argument of type 'int' is not iterable" / "KeyError: 'max'" / "AttributeError",
    # after the suites had run; a misspelt suite or metric was silently never gated
    limits = _write(tmp_path / "limits.json", body)
    result = run_cli("eval", "--suite", "injection", "--thresholds", str(limits))
    assert result.exit_code == 2, result.output  # 2: the run could not be made; 1 is kept for a missed gate
    assert f"--thresholds {limits}: " in result.stderr and named in result.stderr
    assert "Error:" not in result.stderr and "Traceback" not in result.output


def test_the_shipped_thresholds_and_comment_keys_pass_the_shape_check():
    assert runner.threshold_problems(runner.load_thresholds()) == []
    assert runner.threshold_problems({"_comment": "x", "drafts": {"_why": "y", "pii_leaks": {"max": 0}}}) == []


# feedback eval --out -------------------------------------------------------------------------------------------------
def test_an_out_folder_that_cannot_be_made_is_named_before_the_suites_run(run_cli, tmp_path, no_suites):
    blocker = _write(tmp_path / "afile", "")
    result = run_cli("eval", "--suite", "injection", "--out", str(blocker / "sub"))
    # was "error: NotADirectoryError: [Errno 20] ..." once every suite had run, their results lost
    assert result.exit_code == 2
    assert f"--out {blocker / 'sub'}: cannot create the folder" in result.stderr


# feedback eval --compare ---------------------------------------------------------------------------------------------
def test_compare_of_results_from_different_suites_is_an_error_not_no_metric_changed(run_cli, tmp_path):
    claims = _write(tmp_path / "claims.json", json.dumps({"suites": ["claims"], "claims": {"claim_recall": 0.9}}))
    injection = _write(tmp_path / "inj.json", json.dumps({"suites": ["injection"],
                                                          "injection": {"instruction_false_alarms": 1}}))
    result = run_cli("eval", "--compare", str(claims), str(injection))
    assert result.exit_code == 2  # was "no metric changed", exit 0: nothing had been compared
    assert "no suite in both" in result.stderr and str(claims) in result.stderr and str(injection) in result.stderr


def test_compare_says_which_suites_only_one_file_has(run_cli, tmp_path):
    old = _write(tmp_path / "old.json", json.dumps({"suites": ["claims"], "claims": {"claim_recall": 0.9}}))
    new = _write(tmp_path / "new.json", json.dumps({"suites": ["claims", "injection"], "claims": {"claim_recall": 0.9},
                                                    "injection": {"instruction_false_alarms": 1}}))
    result = run_cli("eval", "--compare", str(old), str(new))
    assert result.exit_code == 0 and "no metric changed" in result.stdout
    assert f"only {new} has injection; not compared" in result.stderr


# overfitting flag and the planted drafter on the scorecard -----------------------------------------------------------
def test_overfitting_flags_higher_is_better_metrics_whose_dev_figure_is_more_than_005_above_test():
    test = {"draft_claim_precision": 0.8235, "claim_recall": 0.96, "unsupported_claims": 0, "n_cases": 40}
    dev = {"draft_claim_precision": 0.875, "claim_recall": 1.0, "unsupported_claims": 9, "n_cases": 99}
    assert runner.overfitting(test, dev) == {"draft_claim_precision": 0.0515}


def test_the_claims_suite_flags_overfitting_like_the_other_split_suites():
    # docs/eval.md: "a dev figure more than 0.05 above its test figure is flagged as overfitting"; the claims suite
    # printed dev 0.875 next to test 0.824 (draft_claim_precision) with no flag: it never computed one
    result = runner.run_claims()
    assert result["overfitting"] == runner.overfitting(result, result["dev"])
    data = {"suites": ["claims"], "passed": True, "failed": [],
            "claims": {"n_cases": 4, "split": "test", "draft_claim_precision": 0.8, "dev": {"draft_claim_precision": 0.9},
                       "overfitting": {"draft_claim_precision": 0.1}}}
    assert "overfitting: dev - test = 0.100" in scorecard.markdown(data, {})


def test_the_scorecard_of_a_planted_run_names_the_planted_drafter_escaped():
    results = {"suites": ["drafts"], "passed": False, "failed": [], "planted": {"name": "<b>x</b>", "metric": "m&m"},
               "drafts": {"n_cases": 1, "pii_leaks": 0}}
    assert "Planted bad drafter: <b>x</b>" in scorecard.markdown(results, {})
    page = scorecard.html_page(results, {})
    assert "Planted bad drafter: &lt;b&gt;x&lt;/b&gt;" in page and "drafts.m&amp;m" in page and "<b>" not in page
    assert "Planted" not in scorecard.markdown({**results, "planted": None}, {})


# benchmarks ----------------------------------------------------------------------------------------------------------
def test_bench_embedder_reads_the_datasets_folder_and_skips_quality_without_it(tmp_path, monkeypatch):
    # was "ImportError: cannot import name 'datasets_dir' from 'eval.bench_match'" on every run (make bench's first
    # command), with or without the data
    from eval import bench_embedder

    _write(tmp_path / "hwu64" / "hwu64_all.csv", "text,intent\nwake me at six,alarm_set\nplay jazz,play_music\n")
    monkeypatch.setenv("FEEDBACK_DATASETS", str(tmp_path))
    assert bench_embedder.texts_for_speed(5) == (["wake me at six", "play jazz"], "hwu64_all")
    monkeypatch.setenv("FEEDBACK_DATASETS", str(tmp_path / "empty"))
    assert bench_embedder.match_auroc(object()) is None
    assert bench_embedder.theme_nmi(object()) == (None, [])
    assert bench_embedder.texts_for_speed(3)[1] == "bench_ingest synthetic notes"


def test_bench_themes_without_data_skips_the_job_and_keeps_the_last_figures(tmp_path, monkeypatch, capsys):
    from eval import bench_themes

    monkeypatch.setenv("FEEDBACK_DATASETS", str(tmp_path / "empty"))
    monkeypatch.setattr(bench_themes, "OUT", tmp_path / "out")
    last = _write(tmp_path / "out" / "bench_themes.json", '{"fold1": {"nmi": 0.8}}')
    # --job was a CalledProcessError traceback from its child; the run then wrote an empty report over the last one
    assert bench_themes.main(["--dataset", "fold1", "--no-bertopic", "--stability", "--job", "10"]) == 0
    out = capsys.readouterr().out
    assert "skipped the theme job, no " in out and "FEEDBACK_DATASETS" in out and "nothing measured" in out
    assert last.read_text() == '{"fold1": {"nmi": 0.8}}'


@pytest.mark.parametrize("module, argv", [("bench_match", ["--sets", "hwu6", "--no-speed"]),
                                          ("bench_note_evidence", ["--sets", "sofmatress"]),
                                          ("bench_followups", ["--sets", "questions-dev,curekrt"])])
def test_a_misspelt_set_is_a_usage_error_not_no_data_skipped(module, argv, capsys):
    import importlib

    with pytest.raises(SystemExit) as ended:  # was "no data for hwu6 under ...; skipped", exit 0
        importlib.import_module(f"eval.{module}").main(argv)
    assert ended.value.code == 2
    assert "unknown set" in capsys.readouterr().err


def test_bench_followups_without_data_keeps_the_last_figures(tmp_path, monkeypatch, capsys):
    from eval import bench_followups
    from service import embedding

    monkeypatch.setenv("FEEDBACK_DATASETS", str(tmp_path / "empty"))
    monkeypatch.setattr(bench_followups, "OUT", tmp_path / "out")
    monkeypatch.setattr(embedding, "get_embedder", lambda *a, **k: object())
    assert bench_followups.main(["--sets", "hwu64,curekart"]) is None
    out = capsys.readouterr().out
    assert "no data for hwu64" in out and "nothing measured" in out
    assert not (tmp_path / "out").exists()


def test_the_scorecard_says_which_suites_are_not_split_into_dev_and_test():
    # the value column is headed "value (test)" for every suite; themes, injection and followups have no halves
    results = {"suites": ["themes", "claims"], "passed": True, "failed": [], "themes": {"n_cases": 3, "nmi": 0.5},
               "claims": {"n_cases": 2, "claim_recall": 1.0, "dev": {"claim_recall": 1.0}}}
    assert "Not split (themes): the value is over all their cases." in scorecard.markdown(results, {})


def test_bench_drafts_sends_a_token_the_drafts_api_accepts(app):
    # every timed POST /api/v1/drafts was a 401 (the API needs a token), then the table died on None figures
    from eval import bench_drafts

    from ..conftest import api_token

    with bench_drafts.Server(app) as server:
        assert bench_drafts.post_draft(server.port, "Do you support SCIM?", "not-a-token")[1] == 401
        ms, status, body = bench_drafts.post_draft(server.port, "Do you support SCIM?", api_token(app))
    assert status == 201 and body["verdict"] and ms > 0


def test_bench_drafts_prints_a_run_where_every_request_failed(capsys):
    from eval import bench_drafts

    nothing = bench_drafts.summary([])
    bench_drafts._print({"http": nothing, "pipeline": nothing, "errors": 3, "ingest_seconds": 0.0,
                         "ingested_statements": 0})
    assert "errors 3" in capsys.readouterr().out


# feedback eval --judge -----------------------------------------------------------------------------------------------
def test_judge_without_an_endpoint_is_refused_before_the_suites_run(run_cli, no_suites, monkeypatch):
    # was a "judge: skipped" row on a scorecard that PASSED (exit 0): a CI job asking for the judge never learnt
    # that no judge had run
    for name in ("OPENAI_BASE_URL", "FEEDBACK_LLM_MODEL", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    result = run_cli("eval", "--suite", "injection", "--judge")
    assert result.exit_code == 2, result.output
    assert "--judge needs an LLM endpoint" in result.stderr and "OPENAI_BASE_URL" in result.stderr


def test_a_missed_gate_and_a_broken_command_line_exit_with_different_codes(run_cli, tmp_path):
    strict = _write(tmp_path / "strict.json", json.dumps({"injection": {"instruction_false_alarms": {"max": -1}}}))
    missed = run_cli("eval", "--suite", "injection", "--thresholds", str(strict))
    broken = run_cli("eval", "--suite", "injection", "--thresholds", str(_write(tmp_path / "bad.json", "{")))
    assert (missed.exit_code, broken.exit_code) == (1, 2), (missed.output, broken.output)


def test_bench_rejections_skips_cleanly_without_the_datasets_and_names_bad_options(tmp_path, monkeypatch, capsys):
    from eval import bench_rejections

    monkeypatch.setenv("FEEDBACK_DATASETS", str(tmp_path / "empty"))
    assert bench_rejections.main(["--sets", "hwu64"]) is None
    assert "bench_rejections: no data under" in capsys.readouterr().out
    with pytest.raises(SystemExit) as bad:
        bench_rejections.main(["--near", "close"])
    assert bad.value.code == 2 and "--near" in capsys.readouterr().err


def test_a_judge_whose_every_call_failed_fails_the_gate_instead_of_skipping_it():
    # with an unreachable endpoint every kappa was None, and a gate that reads None was skipped: the run passed
    limits = {"judge": {"cohen_kappa_quadratic": {"min": 0.6}}}
    broken = {"judge": {"n_cases": 3, "errors": 3, "error": "every one of the 3 judge calls failed",
                        "cohen_kappa_quadratic": None}}
    assert runner.check_thresholds(broken, limits) == [
        {"suite": "judge", "metric": "cohen_kappa_quadratic", "value": None, "min": 0.6}]
    assert runner.check_thresholds({"judge": {"skipped": "no endpoint"}}, limits) == []
    assert runner.check_thresholds({"match": {"auroc": None}}, {"match": {"auroc": {"min": 0.5}}}) == []


def test_run_judge_says_when_no_call_answered():
    from types import SimpleNamespace

    from service.llm import LLMError

    def down(*args, **kwargs):
        raise LLMError("connection refused")

    result = runner.run_judge(SimpleNamespace(llm=SimpleNamespace(complete_json=down)))
    assert result["errors"] == result["n_cases"] > 0 and "judge calls failed" in result["error"]
    assert result["cohen_kappa_quadratic"] is None
