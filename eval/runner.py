"""Run the eval suites with the same functions the service uses, score them, and gate on thresholds.

Each suite builds a throw-away service in a temporary folder (SQLite, embedded Chroma, the packaged model),
loads the bundled roadmap and sample notes plus the gold data in eval/datasets, and calls the service's own
matcher, theme run and draft pipeline. Nothing here talks to the network unless an LLM endpoint is configured
and the judge is asked for.
"""
from __future__ import annotations

import json
import re
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from . import metrics as M

EVAL_DIR = Path(__file__).resolve().parent
DATASETS = EVAL_DIR / "datasets"
SAMPLE = EVAL_DIR.parent / "service" / "sample_data"
SUITES = ("match", "drafts", "themes", "injection", "claims", "followups")
OVERFIT_GAP = 0.05  # a dev figure this far above its test figure is shown as overfitting
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?:\+\d{1,3}[\s.-]?)?\(?\d{2,4}\)?[\s.-]\d{3,4}[\s.-]\d{3,4}")


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def load_thresholds(path: Path | None = None) -> dict:
    return json.loads((path or EVAL_DIR / "thresholds.json").read_text())


def threshold_problems(thresholds: dict) -> list[str]:
    """What is wrong with a thresholds object, as check_thresholds and the scorecard read it: per suite an object
    of metric -> {"min" or "max": number, optional "target": number}; keys starting with "_" are comments. A file
    shaped otherwise ended `feedback eval --thresholds` in a bare TypeError or KeyError after the suites had run."""
    from .scorecard import SUITE_ORDER

    problems = []
    for suite, limits in thresholds.items():
        if suite.startswith("_"):
            continue
        if suite not in SUITE_ORDER:
            problems.append(f"unknown suite {suite!r} (suites: {', '.join(SUITE_ORDER)})")
            continue
        if not isinstance(limits, dict):
            problems.append(f"{suite}: expected an object of metric -> bound, not a {type(limits).__name__}")
            continue
        for metric, bound in limits.items():
            if metric.startswith("_"):
                continue
            where = f"{suite}.{metric}"
            if metric not in M.METRIC_DIRECTIONS:
                problems.append(f"{where}: unknown metric")
            elif not isinstance(bound, dict):
                problems.append(f'{where}: expected an object like {{"min": 0.8}} or {{"max": 0}}, '
                                f"not {json.dumps(bound)}")
            elif ("min" in bound) == ("max" in bound):
                problems.append(f'{where}: give exactly one of "min" and "max"')
            elif unknown := sorted(set(bound) - {"min", "max", "target"}):
                problems.append(f"{where}: unknown key {', '.join(map(repr, unknown))} (min, max, target)")
            elif bad := [k for k, v in bound.items() if isinstance(v, bool) or not isinstance(v, (int, float))]:
                problems.append(f"{where}: {', '.join(bad)} must be a number")
    return problems


@contextmanager
def eval_services(embedding_model: str | None = None, llm: bool = False):
    """A fresh service on a temp folder: the bundled roadmap and sample notes, ready for the suites."""
    from service import create_app
    from service.config import TestConfig
    from service.ingest.store import ingest, load_paths

    with tempfile.TemporaryDirectory(prefix="feedback-eval-") as tmp:
        overrides = {"EMBEDDING_MODEL": embedding_model}
        if llm:
            from service.config import Config

            live = Config()
            overrides.update(OPENAI_BASE_URL=live.OPENAI_BASE_URL, OPENAI_API_KEY=live.OPENAI_API_KEY,
                             LLM_MODEL=live.LLM_MODEL)
        app = create_app(TestConfig(Path(tmp), **overrides))
        svc = app.extensions["feedback"]
        notes, errors = load_paths([str(SAMPLE / "notes.jsonl")], 100_000)
        ingest(svc, notes, errors, skip_invalid=False)
        from service.roadmap.service import import_items

        import_items(svc, json.loads((SAMPLE / "roadmap.json").read_text()))
        try:
            yield app, svc
        finally:
            svc.close()


def roadmap_by_id() -> dict[str, dict]:
    return {item["id"]: item for item in json.loads((SAMPLE / "roadmap.json").read_text())}


def run_match(svc, questions: list[dict]) -> dict:
    from service.roadmap.service import match_requests

    started = time.perf_counter()
    # min_score 0: the ranking is scored even where the matcher abstains (top-1 is a ranking metric; the abstention
    # is scored by verdict accuracy and out-of-scope recall).
    results = match_requests(svc, [{"id": q["id"], "text": q["question"]} for q in questions], min_score=0.0)
    seconds = time.perf_counter() - started
    by_id = {r["id"]: r for r in results}
    gold = [{"id": q["id"], "gold_item_ids": q["gold_item_ids"], "gold_verdict": q["gold_verdict"]} for q in questions]
    ordered = [by_id[q["id"]] for q in questions]
    top_score = [r["matches"][0]["score"] if r["matches"] else 0.0 for r in ordered]
    inside = [bool(q["gold_item_ids"]) for q in questions]
    right = [bool(r["matches"]) and r["matches"][0]["item_id"] in q["gold_item_ids"] for r, q in zip(ordered, questions)]
    failures = [
        {"id": q["id"], "question": q["question"], "gold": q["gold_item_ids"], "gold_verdict": q["gold_verdict"],
         "verdict": r["verdict"], "top": [m["item_id"] for m in r["matches"][:3]]}
        for q, r in zip(questions, ordered)
        if r["verdict"] != q["gold_verdict"] or (q["gold_item_ids"] and (not r["matches"] or r["matches"][0]["item_id"] not in q["gold_item_ids"]))
    ]
    both = any(inside) and not all(inside)
    return {
        "n_cases": len(questions),
        "top1": M.top1(ordered, gold),
        "verdict_accuracy": M.verdict_accuracy([{"id": r["id"], "verdict": r["verdict"]} for r in ordered], gold),
        "oos_recall": M.oos_recall(ordered, gold),
        "oos_precision": M.oos_precision(ordered, gold),
        "auroc": M.auroc([s for s, i in zip(top_score, inside) if i], [s for s, i in zip(top_score, inside) if not i])
        if both else None,
        "accepted_at_oos_recall_0.8": M.accepted_at_oos_recall(top_score, right, inside) if both else None,
        "seconds": round(seconds, 3),
        "failures": failures,
    }


def halves(questions: list[dict]) -> dict[str, list[dict]]:
    """The gold questions by their frozen split (eval/datasets/README.md): tune on dev, report test."""
    return {h: [q for q in questions if q.get("split", "test") == h] for h in ("dev", "test")}


def overfitting(test: dict, dev: dict) -> dict[str, float]:
    """Every higher-is-better metric whose dev figure beats its test figure by more than OVERFIT_GAP: dev - test."""
    return {m: round(dev[m] - v, 4) for m, v in test.items()
            if M.METRIC_DIRECTIONS.get(m) == M.HIGHER and isinstance(v, (int, float)) and not isinstance(v, bool)
            and isinstance(dev.get(m), (int, float)) and dev[m] - v > OVERFIT_GAP}


def on_both_halves(run, svc, questions: list[dict], **kwargs) -> dict:
    """The suite on the test half (what the gates read), with the dev half's figures under "dev" and every
    higher-is-better metric whose dev figure beats its test figure by more than 0.05 under "overfitting".

    Only the dev half's failures are listed by case: the test half is for measuring, not for reading."""
    split = halves(questions)
    test = run(svc, split["test"], **kwargs)
    dev = run(svc, split["dev"], **kwargs) if split["dev"] else {}
    failures = len(test.pop("failures", []) or [])
    return {**test, "split": "test", "failures_count": failures, "overfitting": overfitting(test, dev),
            "dev": {k: v for k, v in dev.items() if k != "failures"}, "dev_failures": dev.get("failures", [])}


def planted_pii(svc) -> list[str]:
    """Every email, phone number and contact name in the notes: none of them may appear in a customer draft."""
    from sqlalchemy import select

    from service.models import Note

    values: set[str] = set()
    with svc.db.session() as session:
        for text, meta in session.execute(select(Note.text, Note.meta)):
            values.update(_EMAIL.findall(text))
            values.update(p.strip() for p in _PHONE.findall(text))
            for key in ("contact_name", "contact", "contact_email", "contact_phone"):
                if (meta or {}).get(key):
                    values.add(str(meta[key]))
    return sorted(values)


def run_drafts(svc, questions: list[dict], drafter=None, transform=None) -> dict:
    from service.drafts.pipeline import create_draft
    from service.themes.run import RunOptions, run_themes

    run_themes(svc, RunOptions(use_llm=False))
    items = roadmap_by_id()
    notes_by_id = _notes_by_id(svc)
    pii = planted_pii(svc)
    drafts = []
    for q in questions:
        draft = create_draft(svc, q["question"], account=q.get("account"), audience="customer", drafter=drafter,
                             request_id=q["id"])
        draft["id"] = q["id"]
        draft["audience"] = "customer"
        if transform is not None:
            draft = transform(draft, items)
        drafts.append(draft)
    gold = [{"id": q["id"], "gold_item_ids": q["gold_item_ids"], "gold_verdict": q["gold_verdict"]} for q in questions]
    problems = []
    for d in drafts:
        issues = M.unsupported_claims(d, items) + M.quote_problems(d, notes_by_id) + M.pii_leaks(d["text"], pii)
        issues += M.leaks_internal(d["text"]) if d.get("audience") == "customer" else []
        if issues:
            problems.append({"id": d["id"], "problems": issues, "text": d["text"]})
    return {
        "n_cases": len(drafts),
        "verdict_accuracy": M.verdict_accuracy(drafts, gold),
        "first_citation_correct": M.first_citation_correct(drafts, gold),
        "citation_precision": M.citation_precision(drafts, gold),
        "citation_recall": M.citation_recall(drafts, gold),
        "unsupported_claims": M.unsupported_claims_total(drafts, items),
        "invented_items": M.invented_items_total(drafts, items),
        "quote_fidelity": M.quote_fidelity_micro(drafts, notes_by_id),
        "quote_problems": M.quote_problems_total(drafts, notes_by_id),
        "pii_leaks": M.pii_leaks_total(drafts, pii),
        "pii_pattern_leaks": M.pii_pattern_leaks_total(drafts),
        "internal_leaks": M.internal_leaks_total(drafts),
        "readability_grade_p90": M.readability_grade_p90(drafts),
        "length_ok_rate": M.length_ok_rate(drafts),
        "modes": sorted({d.get("mode", "") for d in drafts}),
        "failures": problems,
    }


def _notes_by_id(svc) -> dict[str, str]:
    from sqlalchemy import select

    from service.models import Note

    with svc.db.session() as session:
        return {ext or str(i): text for i, ext, text in session.execute(select(Note.id, Note.external_id, Note.text))}


def run_themes_suite(embedding_model: str | None = None) -> dict:
    """Gold-labelled statements in a corpus of their own: NMI/ARI over real themes, noise kept out of themes."""
    from sqlalchemy import select

    from service import create_app
    from service.config import TestConfig
    from service.ingest.store import ingest
    from service.ingest.validate import NoteInput
    from service.models import Note, Statement, ThemeMembership
    from service.themes.run import RunOptions, run_themes

    rows = read_jsonl(DATASETS / "theme_notes.jsonl")
    with tempfile.TemporaryDirectory(prefix="feedback-eval-themes-") as tmp:
        app = create_app(TestConfig(Path(tmp), EMBEDDING_MODEL=embedding_model))
        svc = app.extensions["feedback"]
        embedder = svc.embedder
        ingest(svc, [NoteInput(text=r["text"], external_id=r["id"], account=r.get("account"), source=r.get("source", "call"))
                     for r in rows], [], skip_invalid=False)
        started = time.perf_counter()
        result = run_themes(svc, RunOptions(use_llm=False))
        seconds = time.perf_counter() - started
        with svc.db.session() as session:
            member = session.execute(
                select(Note.external_id, ThemeMembership.theme_id)
                .join(Statement, Statement.note_id == Note.id)
                .join(ThemeMembership, ThemeMembership.statement_id == Statement.id)
                .where(ThemeMembership.run_id == result["run_id"]).order_by(Statement.id)
            ).all()
        svc.close()
    theme_of: dict[str, int] = {}
    for ext, theme in member:  # a note's theme: its first assigned statement's
        if theme is not None and ext not in theme_of:
            theme_of[ext] = theme
    real = [r for r in rows if r["gold_theme"] != "noise"]
    noise = [r for r in rows if r["gold_theme"] == "noise"]
    pred = [theme_of.get(r["id"], -1) for r in real]
    gold = [r["gold_theme"] for r in real]
    labels = {t["id"]: t["label"] for t in result["themes"]}
    gold_of_theme = M.majority_gold([(theme_of.get(r["id"]), r["gold_theme"]) for r in real])
    hits = M.label_hits(embedder, labels, gold_of_theme, sorted(set(gold)))
    return {
        "n_cases": len(rows),
        "nmi": M.nmi(gold, pred), "ari": M.ari(gold, pred), "purity": M.purity(gold, pred),
        "unassigned_rate": M.unassigned_rate(pred),
        "noise_rejection": sum(1 for r in noise if r["id"] not in theme_of) / len(noise) if noise else None,
        "themes_found": len(result["themes"]), "gold_themes": len(set(gold)), "seconds": round(seconds, 3),
        "label_hit_at_3": hits["label_hit@3"], "labelled_themes": hits["labelled_themes"],
    }


def run_followups_suite(embedding_model: str | None = None) -> dict:
    """Follow-ups after one status change on the bundled sample (RM-104 ships in roadmap_update.json): the accounts
    listed for each gold item against eval/datasets/followups_gold.jsonl (written by reading the notes), and every
    follow-up draft scored with the drafts suite's metrics, plus quotes from another account and unbacked dates."""
    from service.followups.service import followups
    from service.roadmap.service import import_items

    gold = read_jsonl(DATASETS / "followups_gold.jsonl")
    update = json.loads((SAMPLE / "roadmap_update.json").read_text())
    items = {i["id"]: i for i in update}
    with eval_services(embedding_model) as (_, svc):
        import_items(svc, update, source="roadmap_update.json")
        notes = _notes_with_accounts(svc)
        pii = planted_pii(svc)
        per_item, drafts, golds = [], [], []
        for g in gold:
            found = followups(svc, g["item_id"])
            listed, wanted = {a["account"] for a in found["accounts"]}, set(g["accounts"])
            hit = len(listed & wanted)
            per_item.append({"item_id": g["item_id"], "status": found["status"], "gold": len(wanted),
                             "listed": len(listed), "recall": round(hit / len(wanted), 4) if wanted else None,
                             "precision": round(hit / len(listed), 4) if listed else None,
                             "missed": sorted(wanted - listed), "extra": sorted(listed - wanted)})
            for a in found["accounts"]:
                d = {**a["draft"], "id": f"{g['item_id']}/{a['account']}", "account": a["account"],
                     "audience": "customer"}
                drafts.append(d)
                golds.append({"id": d["id"], "gold_item_ids": [g["item_id"]],
                              "gold_verdict": _verdict_of(items[g["item_id"]]["status"])})
    problems = []
    for d in drafts:
        issues = M.unsupported_claims(d, items) + M.quote_problems(d, notes) + M.pii_leaks(d["text"], pii)
        issues += M.leaks_internal(d["text"]) + _other_account_quotes(d, notes)
        if issues:
            problems.append({"id": d["id"], "problems": issues, "text": d["text"]})
    recalls = [r["recall"] for r in per_item if r["recall"] is not None]
    precisions = [r["precision"] or 0.0 for r in per_item]
    return {
        "n_cases": len(drafts),
        "items": per_item,
        "account_recall_min": min(recalls) if recalls else None,
        "account_precision_min": min(precisions) if precisions else None,
        "account_recall_mean": round(sum(recalls) / len(recalls), 4) if recalls else None,
        "account_precision_mean": round(sum(precisions) / len(precisions), 4) if precisions else None,
        "verdict_accuracy": M.verdict_accuracy(drafts, golds),
        "first_citation_correct": M.first_citation_correct(drafts, golds),
        "citation_precision": M.citation_precision(drafts, golds),
        "citation_recall": M.citation_recall(drafts, golds),
        "unsupported_claims": M.unsupported_claims_total(drafts, items),
        "unbacked_dates": sum(len(M.unsupported_dates(d, items)) for d in drafts),
        "invented_items": M.invented_items_total(drafts, items),
        "quote_fidelity": M.quote_fidelity_micro(drafts, notes),
        "quote_problems": M.quote_problems_total(drafts, notes),
        "other_account_quotes": sum(len(_other_account_quotes(d, notes)) for d in drafts),
        "pii_leaks": M.pii_leaks_total(drafts, pii),
        "pii_pattern_leaks": M.pii_pattern_leaks_total(drafts),
        "internal_leaks": M.internal_leaks_total(drafts),
        "readability_grade_p90": M.readability_grade_p90(drafts),
        "length_ok_rate": M.length_ok_rate(drafts),
        "checks_passed_rate": round(sum(bool(d["checks"].get("passed")) for d in drafts) / len(drafts), 4)
        if drafts else None,
        "failures": problems,
    }


def _verdict_of(status: str) -> str:
    from service.drafts.base import VERDICT_OF_STATUS

    return VERDICT_OF_STATUS[status]


def _notes_with_accounts(svc) -> dict[str, dict]:
    from sqlalchemy import select

    from service.models import Account, Note

    with svc.db.session() as session:
        rows = session.execute(select(Note.id, Note.external_id, Note.text, Account.name)
                               .outerjoin(Account, Account.id == Note.account_id)).all()
    return {ext or str(i): {"text": text, "account": account} for i, ext, text, account in rows}


def _other_account_quotes(draft: dict, notes: dict[str, dict]) -> list[str]:
    """Evidence and double-quoted spans of a follow-up that are not the draft's own account's words."""
    from .metrics.quotes import text_quotes

    own = [n["text"] for n in notes.values() if n["account"] == draft["account"]]
    spans = [e["quote"] for e in draft.get("evidence") or []] + text_quotes(draft.get("text"))
    out = [f"other_account_evidence: {e['note_id']}" for e in draft.get("evidence") or []
           if (notes.get(e["note_id"]) or {}).get("account") != draft["account"]]
    out += [f"not_own_words: '{q[:60]}'" for q in spans
            if not any(" ".join(q.split()) in " ".join(t.split()) for t in own)]
    return out


def run_injection() -> dict:
    """The instruction-like-text check on phrasings it was not written for: a warning, measured, not a defence."""
    from service.untrusted import looks_like_instructions

    rows = read_jsonl(DATASETS / "injections.jsonl")
    planted = [r for r in rows if r["injection"]]
    benign = [r for r in rows if not r["injection"]]
    missed = [r["id"] for r in planted if not looks_like_instructions(r["text"])]
    alarms = [r["id"] for r in benign if looks_like_instructions(r["text"])]
    return {"n_cases": len(rows), "instruction_recall": round(1 - len(missed) / len(planted), 4) if planted else None,
            "instruction_false_alarms": len(alarms), "missed": missed, "false_alarm_ids": alarms}


def run_claims() -> dict:
    """Product claims in customer words (kept out of quotes): planted status claims and instructions against
    ordinary pain statements (eval/datasets/status_claims.jsonl); and claims in a draft that no cited item backs
    (eval/datasets/draft_claims.jsonl). The gates read the test halves."""
    from service.drafts.checks import status_claims

    rows = read_jsonl(DATASETS / "status_claims.jsonl")

    def measure(part: list[dict]) -> dict:
        flagged = {r["id"] for r in part if status_claims(r["text"])}
        claims = [r["id"] for r in part if r["claim"]]
        hits = [i for i in claims if i in flagged]
        return {"n_cases": len(part), "claim_precision": round(len(hits) / len(flagged), 4) if flagged else None,
                "claim_recall": round(len(hits) / len(claims), 4) if claims else None,
                "missed": [i for i in claims if i not in flagged],
                "false_alarm_ids": sorted(i for i in flagged if i not in claims)}

    def drafted(split: str) -> dict:
        """Claims in a drafter's reply about something no cited item names (eval/datasets/draft_claims.jsonl)."""
        from .bench_draft_claims import load, score

        result = score(load(split))
        return {"draft_claim_accuracy": result["accuracy"], "draft_claim_precision": result["precision"],
                "draft_claim_recall": result["recall"]}

    test = {**measure([r for r in rows if r["split"] == "test"]), **drafted("test")}
    dev = {**measure([r for r in rows if r["split"] == "dev"]), **drafted("dev")}
    return {**test, "split": "test", "dev": dev, "overfitting": overfitting(test, dev), "all": measure(rows)}


def run_judge(svc) -> dict:
    """LLM-as-judge agreement with the person-style ratings (only with an LLM endpoint)."""
    from service.llm import LLMError
    from service.prompts import load_prompt

    if svc.llm is None:
        return {"skipped": "no LLM endpoint configured (OPENAI_BASE_URL and FEEDBACK_LLM_MODEL)"}
    prompt = load_prompt("judge")
    rated = read_jsonl(DATASETS / "rated_drafts.jsonl")
    questions = {q["id"]: q for q in read_jsonl(DATASETS / "questions.jsonl")}
    items = roadmap_by_id()
    people, judge, errors = {k: [] for k in ("helpful", "accurate", "tone")}, {k: [] for k in ("helpful", "accurate", "tone")}, 0
    for r in rated:
        q = questions.get(r["question_id"], {})
        try:
            reply = svc.llm.complete_json(prompt, {
                "question": q.get("question", ""), "draft": r["text"], "verdict": q.get("gold_verdict", ""),
                "items": [items[i] for i in q.get("gold_item_ids", []) if i in items]})
        except LLMError:
            errors += 1
            continue
        for k in people:
            people[k].append(int(r[k]))
            judge[k].append(int(reply.data[k]))
    out = {"n_cases": len(rated), "errors": errors}
    if rated and errors == len(rated):  # no judge answered: a gate that reads None would be skipped, and pass
        out["error"] = f"every one of the {errors} judge calls failed (is the endpoint up?)"
    for k in people:
        out[f"kappa_{k}"] = M.cohen_kappa(people[k], judge[k], weights="quadratic") if people[k] else None
    scored = [v for k, v in out.items() if k.startswith("kappa_") and v is not None]
    out["cohen_kappa_quadratic"] = min(scored) if scored else None
    return out


def check_thresholds(results: dict, thresholds: dict) -> list[dict]:
    failed = []
    for suite, limits in thresholds.items():
        got = results.get(suite)
        if not isinstance(limits, dict) or not isinstance(got, dict) or "skipped" in got:
            continue
        for metric, bound in limits.items():
            value = got.get(metric)
            if value is None and "error" in got:  # the suite ran and could not measure it: not a pass
                failed.append({"suite": suite, "metric": metric, "value": None, **bound})
                continue
            if value is None:
                continue
            if "min" in bound and value < bound["min"] or "max" in bound and value > bound["max"]:
                failed.append({"suite": suite, "metric": metric, "value": value, **bound})
    return failed


def run_eval(suites=SUITES, *, embedding_model: str | None = None, judge: bool = False, drafter=None, transform=None,
             thresholds: dict | None = None) -> dict:
    questions = read_jsonl(DATASETS / "questions.jsonl")
    results: dict = {"suites": list(suites)}
    started = time.perf_counter()
    if {"match", "drafts"} & set(suites) or judge:
        with eval_services(embedding_model, llm=judge) as (_, svc):
            if "match" in suites:
                results["match"] = on_both_halves(run_match, svc, questions)
            if "drafts" in suites:
                results["drafts"] = on_both_halves(run_drafts, svc, questions, drafter=drafter, transform=transform)
            if judge:
                results["judge"] = run_judge(svc)
    if "themes" in suites:
        results["themes"] = run_themes_suite(embedding_model)
    if "injection" in suites:
        results["injection"] = run_injection()
    if "claims" in suites:
        results["claims"] = run_claims()
    if "followups" in suites:
        results["followups"] = run_followups_suite(embedding_model)
    results["failed"] = check_thresholds(results, thresholds or load_thresholds())
    results["passed"] = not results["failed"]
    results["seconds"] = round(time.perf_counter() - started, 2)
    return results
