"""The LLM drafter: the model phrases a decision code already made, from data that has been redacted first.

What leaves the process: the question (fenced as data), the verdict and its wording, the chosen items and the quotes,
each with emails, phone numbers and known contact names replaced by placeholders. Other accounts are never named
to the model. The reply is checked (ids, quotes, dates, promises, internal details); one repair turn is allowed,
then the template draft is used with a warning. Endpoint failures never surface as errors.
"""
from __future__ import annotations

import logging
import re

from ..llm import LLMBadOutput, LLMBudgetSpent, LLMError, LLMUnavailable, repair_messages
from ..prompts import load_prompt
from ..redact import Redactor
from . import checks
from .base import NOT_ON_ROADMAP, DraftContext, DraftItem, DraftResult
from .template import TemplateDrafter

log = logging.getLogger(__name__)
MIN_WORDS = 40  # shorter answers leave the rep to write the rest
MAX_GRADE = 10.0  # Flesch-Kincaid grade a customer draft must read at
_PLACEHOLDER = re.compile(r"\[(?:EMAIL|PHONE|NAME)_\d+\]")
WORDING = {
    "available": "Available today: the first item has shipped{release}. Say so plainly.",
    "in_progress": "In development{release}. The release is a target date, not a promise.",
    "planned": "Planned{release}. Say it is a target, not a commitment.",
    "under_consideration": "Under consideration: not committed and no date. Invite the customer to share how they "
                           "would use it, so their voice counts in the decision.",
    "not_planned": "Not planned: we have decided not to build it. Say so honestly, give no date, give the item's "
                   "reason if it has one, and offer the workaround if the item has one.",
    NOT_ON_ROADMAP: "Not on the roadmap: nothing is planned and there is no date. Say so honestly and offer to "
                    "pass the request to the product team.",
}


class LLMDrafter:
    name = "llm"

    def __init__(self, client, prompt=None):
        self.client = client
        self.prompt = prompt or load_prompt("draft")

    def draft(self, ctx: DraftContext) -> DraftResult:
        redactor = Redactor(names=ctx.names)
        variables = self._variables(ctx, redactor)
        messages = self.prompt.render(**variables)
        repaired = False
        try:
            try:
                reply = self.client.complete_json_messages(messages, self.prompt)
            except LLMBadOutput as exc:
                repaired = True  # the one repair turn goes to fixing the format
                reply = self.client.complete_json_messages(repair_messages(exc), self.prompt)
            problems = self._problems(reply.data, ctx)
            if problems and not repaired:
                repaired = True
                reply = self.client.complete_json_messages(_repair_turn(messages, reply.raw, problems), self.prompt)
                problems = self._problems(reply.data, ctx)
        except LLMBudgetSpent as exc:
            return _fallback(ctx, f"{exc}; this is the template draft")
        except LLMUnavailable as exc:
            return _fallback(ctx, f"the LLM endpoint was unavailable ({exc}); this is the template draft")
        except LLMError as exc:
            return _fallback(ctx, f"the LLM reply was unusable ({exc}); this is the template draft")
        if problems:
            return _fallback(ctx, f"the LLM draft failed the checks after one repair ({'; '.join(problems)}); "
                                  "this is the template draft")
        # Only placeholders that stand for the asker's own words come back; the rest become neutral words.
        allowed = set(_PLACEHOLDER.findall(variables["question"]))
        data = reply.data
        return DraftResult(
            text=redactor.restore(data["text"].strip(), allowed), cited_item_ids=_unique(data["cited_item_ids"]),
            quotes=[redactor.restore(q, allowed) for q in data["quotes"]], mode=self.name,
            prompt_version=reply.prompt_version, model=reply.model,
            warnings=["the first LLM reply needed one repair"] if repaired else [], latency_ms=round(reply.latency_ms, 1))

    def _variables(self, ctx: DraftContext, redactor: Redactor) -> dict:
        internal = ctx.audience == "internal"
        # Customer drafts quote only the asking account's words, so the model sees only those.
        pool = ctx.evidence if internal else ctx.own_evidence
        evidence = []
        for ev in pool:
            quote = redactor.redact(ev.quote)
            if quote != ev.quote:  # redacted text is no longer a verbatim quote: leave it out
                continue
            evidence.append({"quote": quote, "from": "this customer" if ev.own else "another customer"})
        items = [redactor.redact_obj(_item_payload(i, internal)) for i in ctx.items]
        return {
            "question": redactor.redact(ctx.question), "audience": ctx.audience, "tone": ctx.tone or "neutral",
            "verdict": ctx.verdict, "items": items, "evidence": evidence,
            "verdict_wording": redactor.redact(_verdict_wording(ctx)),
        }

    def _problems(self, data: dict, ctx: DraftContext) -> list[str]:
        problems = checks.check_draft(data["text"], _unique(data["cited_item_ids"]), data["quotes"], ctx)
        if ctx.verdict == NOT_ON_ROADMAP and data["cited_item_ids"]:
            problems.append("the verdict is not_on_roadmap: cite no items")
        if checks.word_count(data["text"]) < MIN_WORDS:
            problems.append(f"too short: {checks.word_count(data['text'])} words, at least {MIN_WORDS}")
        grade = checks.readability_grade(data["text"])
        if ctx.audience == "customer" and grade > MAX_GRADE:
            problems.append(f"reads at grade {grade:.1f}, at most {MAX_GRADE:g}: use shorter sentences and plain words")
        return problems


def _item_payload(item: DraftItem, internal: bool) -> dict:
    out = {"id": item.id, "title": item.title, "description": item.description, "status": item.status,
           "release": item.dated_release or "", "goal": item.goal or "", "workaround": item.workaround or ""}
    if item.status == "not_planned" and item.reason:
        out["reason"] = item.reason
    if internal and item.score:
        out["score_reason"] = item.score.get("reason") or ""
    return out


def _verdict_wording(ctx: DraftContext) -> str:
    best = ctx.items[0] if ctx.items else None
    release = f", target {best.dated_release}" if best and best.dated_release and best.status != "shipped" else (
        f" in release {best.dated_release}" if best and best.dated_release else "")
    wording = WORDING.get(ctx.verdict, WORDING[NOT_ON_ROADMAP]).format(release=release)
    if len(ctx.items) > 1:
        wording += " Mention both items, each with its own status."
    if ctx.audience == "internal" and ctx.demand:
        d = ctx.demand
        wording += (f" Demand: {d.get('accounts', 0)} accounts, {d.get('mentions', 0)} mentions"
                    + (f", trend {d['trend']}" if d.get("trend") else "") + ". Include the item ids and score reasons.")
    if ctx.audience == "customer":
        wording += " End with a concrete next step the sales rep offers the customer."
    return wording


def _repair_turn(messages: list[dict], raw: str, problems: list[str]) -> list[dict]:
    note = ("Your previous answer broke these rules: " + "; ".join(problems)
            + ". Reply again with only the corrected JSON object, following every rule.")
    return [*messages, {"role": "assistant", "content": raw}, {"role": "user", "content": note}]


def _fallback(ctx: DraftContext, warning: str) -> DraftResult:
    log.warning("draft falls back to the template: %s", warning.split(" (")[0])
    result = TemplateDrafter().draft(ctx)
    result.warnings = [warning] + result.warnings
    return result


def _unique(values) -> list[str]:
    return list(dict.fromkeys(str(v) for v in values if v))
