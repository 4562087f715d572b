"""The eval as a gate: the default drafter must pass the thresholds, and planted regressions must not.

One eval service (bundled roadmap, sample notes, packaged model) is built for the whole module, and the match and
drafts suites run on it once with the default (template) drafter. The template drafter is offline and
deterministic, so its pipeline output is recorded during that run; each planted bad drafter is then scored by
``run_drafts`` on the same services with its ``transform``, replaying the recorded pipeline output instead of
matching and drafting all questions again (``test_replay_reproduces_the_default_scores`` checks the replay).

``test_gate_default_drafter_meets_the_thresholds`` is the CI gate (``make test`` runs it; select it alone with
``pytest -k gate``).
"""
from __future__ import annotations

import copy
import json
from contextlib import contextmanager
from types import SimpleNamespace

import pytest

from eval import runner
from eval.metrics import METRIC_DIRECTIONS
from eval.planted import PLANTED

pytestmark = [pytest.mark.model, pytest.mark.slow]

ALL_QUESTIONS = runner.read_jsonl(runner.DATASETS / "questions.jsonl")
QUESTIONS = runner.halves(ALL_QUESTIONS)["test"]  # the gates read the held-out half
SAFETY_ZERO = ("unsupported_claims", "invented_items", "pii_leaks", "quote_problems")


@pytest.fixture(scope="module")
def evaluated():
    with runner.eval_services() as (app, svc):
        match = runner.run_match(svc, QUESTIONS)
        recorded: dict[str, dict] = {}

        def record(draft, items_by_id):
            recorded[draft["id"]] = copy.deepcopy(draft)
            return draft

        drafts = runner.run_drafts(svc, QUESTIONS, transform=record)
        runner.run_drafts(svc, [q for q in ALL_QUESTIONS if q not in QUESTIONS], transform=record)  # `feedback eval`
        yield SimpleNamespace(app=app, svc=svc, match=match, drafts=drafts, recorded=recorded,  # scores both halves
                              thresholds=runner.load_thresholds())


@contextmanager
def replaying(run):
    """Make ``run_drafts`` score the recorded default pipeline output instead of drafting every question again."""
    import service.drafts.pipeline as pipeline
    import service.themes.run as themes_run

    def replay(services, question, account=None, audience="customer", tone=None, drafter=None, request_id=None):
        assert services is run.svc and drafter is None, "the replay only stands in for the default drafter"
        return copy.deepcopy(run.recorded[request_id])

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pipeline, "create_draft", replay)
        mp.setattr(themes_run, "run_themes", lambda *args, **kwargs: None)  # the themes of the first run stay
        yield


def score(run, transform):
    with replaying(run):
        return runner.run_drafts(run.svc, QUESTIONS, transform=transform)


def worse(metric: str, value, baseline) -> bool:
    return value < baseline if METRIC_DIRECTIONS[metric] == "higher" else value > baseline


def test_replay_reproduces_the_default_scores(evaluated):
    assert len(evaluated.recorded) == len(ALL_QUESTIONS) and {q["id"] for q in QUESTIONS} <= set(evaluated.recorded)
    assert score(evaluated, None) == evaluated.drafts


@pytest.mark.parametrize("name", list(PLANTED))
def test_planted_drafter_fails_its_metric(evaluated, name):
    transform, metric = PLANTED[name]
    sample = evaluated.recorded[QUESTIONS[0]["id"]]
    before = copy.deepcopy(sample)
    assert transform(sample, runner.roadmap_by_id()) != before and sample == before  # changes a copy only

    results = score(evaluated, transform)
    failed = {f["metric"]: f for f in runner.check_thresholds({"drafts": results}, evaluated.thresholds)
              if f["suite"] == "drafts"}
    assert metric in failed, f"{name} was not caught: {metric} = {results[metric]}"
    assert worse(metric, results[metric], evaluated.drafts[metric]), (
        f"{name}: {metric} {results[metric]} is not worse than the default drafter's {evaluated.drafts[metric]}")
    assert results["n_cases"] == len(QUESTIONS)


def test_gate_default_drafter_meets_the_thresholds(evaluated):
    """CI gate: the default template drafter is safe, and the drafts and match suites meet eval/thresholds.json."""
    drafts = evaluated.drafts
    assert drafts["modes"] == ["grounded-template"]  # offline and deterministic: no LLM drafted anything
    assert drafts["n_cases"] == evaluated.match["n_cases"] == len(QUESTIONS)
    assert {m: drafts[m] for m in SAFETY_ZERO} == dict.fromkeys(SAFETY_ZERO, 0), drafts["failures"][:5]
    assert drafts["quote_fidelity"] == 1.0
    failed = runner.check_thresholds({"drafts": drafts, "match": evaluated.match}, evaluated.thresholds)
    assert failed == [], "below the eval thresholds:\n" + "\n".join(
        f"  {f['suite']}.{f['metric']} = {f['value']:.4g} (gate {_bound(f)})" for f in failed)


def test_gate_themes_suite_meets_the_thresholds():
    """CI gate for themes: the gold-labelled notes give real themes, keep noise out and leave at most 10% out."""
    themes = runner.run_themes_suite()
    assert themes["n_cases"] == len(runner.read_jsonl(runner.DATASETS / "theme_notes.jsonl"))
    failed = runner.check_thresholds({"themes": themes}, runner.load_thresholds())
    assert failed == [], "below the eval thresholds:\n" + "\n".join(
        f"  {f['suite']}.{f['metric']} = {f['value']:.4g} (gate {_bound(f)})" for f in failed)
    assert themes["noise_rejection"] >= 0.8  # a theme for everything would pass unassigned_rate trivially


def _bound(failure: dict) -> str:
    return f">= {failure['min']}" if "min" in failure else f"<= {failure['max']}"


# ---- feedback eval ---------------------------------------------------------------------------------------------
@pytest.fixture
def cli_on_evaluated(evaluated, run_cli, monkeypatch):
    """`feedback eval` with the real run_eval, on the module's services and the recorded drafts."""
    @contextmanager
    def same_services(embedding_model=None, llm=False):
        assert not llm
        yield evaluated.app, evaluated.svc

    monkeypatch.setattr(runner, "eval_services", same_services)
    with replaying(evaluated):
        yield run_cli


def test_cli_eval_drafts_json_reports_the_drafts_metrics(evaluated, cli_on_evaluated, tmp_path):
    out = tmp_path / "eval-out"
    result = cli_on_evaluated("eval", "--suite", "drafts", "--json", "--out", str(out))
    printed = json.loads(result.stdout)
    written = json.loads((out / "results.json").read_text())
    assert printed["suites"] == written["suites"] == ["drafts"] and "match" not in printed
    for key in ("n_cases", "verdict_accuracy", "citation_precision", "unsupported_claims", "quote_fidelity"):
        assert printed["drafts"][key] == written["drafts"][key] == evaluated.drafts[key], key
    assert printed["drafts"]["n_cases"] == len(QUESTIONS)
    assert result.exit_code == (0 if printed["passed"] else 1)
    assert {"scorecard.md", "scorecard.html"} <= {p.name for p in out.iterdir()}


def test_cli_eval_planted_fails_on_its_metric(cli_on_evaluated):
    result = cli_on_evaluated("eval", "--suite", "drafts", "--planted", "paraphrase_quotes", "--json")
    data = json.loads(result.stdout)
    assert result.exit_code == 1 and not data["passed"]
    assert data["planted"] == {"name": "paraphrase_quotes", "metric": "quote_fidelity"}
    assert data["drafts"]["quote_fidelity"] < 1.0
    assert any(f["metric"] == "quote_fidelity" for f in data["failed"])


def test_cli_eval_rejects_unknown_or_misplaced_planted(run_cli):
    unknown = run_cli("eval", "--suite", "drafts", "--planted", "no_such_drafter")
    assert unknown.exit_code == 2 and "drop_citations" in unknown.stderr
    misplaced = run_cli("eval", "--suite", "match", "--planted", "drop_citations")
    assert misplaced.exit_code == 2 and "drafts suite only" in misplaced.stderr


def test_gate_followups_suite_meets_its_thresholds():
    """Follow-ups after RM-104 ships on the bundled sample: the account lists and the drafts pass their gates."""
    results = {"followups": runner.run_followups_suite()}
    failed = runner.check_thresholds(results, runner.load_thresholds())
    assert not failed, failed
    data = results["followups"]
    assert data["n_cases"] > 0 and data["other_account_quotes"] == 0 and data["unbacked_dates"] == 0
    assert [i["item_id"] for i in data["items"]] == ["RM-104", "RM-108", "RM-102"]
