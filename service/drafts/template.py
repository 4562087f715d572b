"""The grounded template drafter, the default: offline, deterministic, and worded so a rep can send it as is.

Every sentence comes from the decision (verdict and cited items), the items' own fields (title, release, goal,
workaround, score) or a verbatim customer quote. Wording follows the status: "available today" only for shipped
items, a release only for shipped / in-progress / planned items, "a target, not a commitment" for planned ones, and
an honest no for the rest. Optional sentences are dropped until the draft reads at grade 10 or below.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

from . import checks
from .base import NOT_ON_ROADMAP, DraftContext, DraftItem, DraftResult

VERSION = "template-v1-" + hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:8]
MAX_GRADE, MIN_WORDS, MAX_WORDS = 10.0, 40, 220
ALTERNATIVE_FOR_CUSTOMER = 0.4  # a near miss must be this close before a customer hears about it
# Company goals are written for the company ("reduce churn", "win X accounts"); these words stay internal.
_INTERNAL_GOAL = re.compile(r"\b(?:churn|revenue|win|oem|costs?|arr|upsell|margins?|pipeline|sector|markets?|"
                            r"adoption|expand|enter|grow|sell|deals?)\b", re.IGNORECASE)
VERDICT_WORDS = {"available": "available today", "in_progress": "in development", "planned": "planned",
                 "under_consideration": "under consideration", "not_planned": "not planned",
                 NOT_ON_ROADMAP: "not on the roadmap"}
CLOSING = {"customer": "Let me know if you have any other questions about this.",
           "internal": "Check the evidence notes before you quote any of them to the customer."}
OPENINGS = {"friendly": "Thanks so much for asking about this.", "formal": "Thank you for your question.",
            "email": "Thank you for your question."}


class TemplateDrafter:
    name = "grounded-template"

    def draft(self, ctx: DraftContext) -> DraftResult:
        build = _internal if ctx.audience == "internal" else _customer
        text, quotes, warnings = _fit(build, ctx)
        return DraftResult(text=text, cited_item_ids=ctx.item_ids, quotes=quotes, mode=self.name,
                           prompt_version=VERSION, model=None, warnings=warnings, latency_ms=0.0)


def _fit(build, ctx: DraftContext) -> tuple[str, list[str], list[str]]:
    """The first candidate that reads at grade <= 10 within the word limits; candidates drop optional parts."""
    candidates = []
    for with_quote in (True, False):
        parts = build(ctx, with_quote)
        optional = sorted((p for p in parts if p[1] > 0), key=lambda p: p[1])  # lowest priority goes first
        for n in range(len(optional) + 1):
            kept = [p for p in parts if p not in optional[:n]]
            candidates.append(_join(kept, ctx))
    for text, quotes in candidates:
        if checks.readability_grade(text) <= MAX_GRADE and MIN_WORDS <= checks.word_count(text) <= MAX_WORDS:
            return text, quotes, []
    text, quotes = min(candidates, key=lambda c: checks.readability_grade(c[0]))
    return text, quotes, [f"template draft {_missed_limits(text)}; edit before sending"]


def _missed_limits(text: str) -> str:
    """Which of the limits a draft misses, so the rep knows what to edit (a short draft is not a hard one)."""
    grade, words = checks.readability_grade(text), checks.word_count(text)
    missed = [f"reads at grade {grade:.1f} (at most {MAX_GRADE:g})"] if grade > MAX_GRADE else []
    if words < MIN_WORDS:
        missed.append(f"has {words} words (at least {MIN_WORDS})")
    elif words > MAX_WORDS:
        missed.append(f"has {words} words (at most {MAX_WORDS})")
    return " and ".join(missed) or f"reads at grade {grade:.1f} with {words} words"


def _join(parts: list[tuple], ctx: DraftContext) -> tuple[str, list[str]]:
    sep = "\n" if ctx.audience == "internal" else " "
    body = sep.join(p[0] for p in parts if p[0])
    if checks.word_count(body) < MIN_WORDS:  # a bare answer reads curt; close it instead of padding the facts
        body += sep + CLOSING[ctx.audience]
    if ctx.tone == "email" and ctx.audience == "customer":
        body = f"Hi,\n\n{body}\n\nBest regards,"
    return body, [q for p in parts for q in p[2]]


# ---- customer ------------------------------------------------------------------------------------------------
# A part is (text, priority, quotes): priority 0 is required; higher numbers are kept longer.
def _customer(ctx: DraftContext, with_quote: bool) -> list[tuple]:
    parts = [_opening(ctx, with_quote)]
    for n, item in enumerate(ctx.items):
        sentences = _status_sentences(item, ctx.score_context)
        parts += [(s, 0 if n == 0 or k == 0 else 2, []) for k, s in enumerate(sentences)]
        why = _goal_sentence(item)
        if why and n == 0:
            parts.append((why, 1, []))
    if not ctx.items:
        parts.append(("This is not on our roadmap today, so I cannot share any plans or dates for it.", 0, []))
        alt = next((a for a in ctx.alternatives if a.status == "shipped"
                    and (a.match_score or 0) >= ALTERNATIVE_FOR_CUSTOMER), None)
        if alt:
            parts.append((f"The closest thing we offer now is {_title(alt)}, though it may not cover this need "
                          "fully.", 3, []))
    parts.append((_next_step(ctx.verdict), 0, []))
    if ctx.tone == "concise":
        parts = [p for p in parts if p[1] == 0]
    return parts


def _opening(ctx: DraftContext, with_quote: bool) -> tuple:
    thanks = OPENINGS.get(ctx.tone or "", "Thanks for raising this.")
    own = ctx.own_evidence
    if with_quote and own:
        quote = own[0].quote.strip()
        return f'{thanks} From our notes with your team: "{quote}"', 0, [quote]
    others = {e.account for e in ctx.evidence if e.account and e.account != ctx.account}
    demand = ctx.demand or {}
    from_theme = demand.get("source") == "theme" and demand.get("accounts", 0) >= 3
    from_item = demand.get("source") == "item" and demand.get("other_accounts", 0) >= 2
    if len(others) >= 2 or from_theme or from_item:  # "not alone" needs at least two other accounts behind it
        return f"{thanks} You are not alone here: other teams have asked for the same thing.", 0, []
    return thanks, 0, []


def _title(item: DraftItem) -> str:
    return item.title.strip().rstrip(".")


def _status_sentences(item: DraftItem, score_context: dict | None = None) -> list[str]:
    """What the roadmap says about one item, worded by its status: the first sentence is the answer."""
    t, release = _title(item), item.dated_release
    if item.status == "shipped":
        out = [f"Good news: {t} is available today."]
        if release:
            out.append(f"It has been part of the product since our {release} release.")
        return out
    if item.status == "in_progress":
        if release:
            return [f"{t} is in development now, targeted for {release}.",
                    "That date is our current target, and I will confirm it as it gets closer."]
        return [f"{t} is in development now, but we do not have a date to share yet."]
    if item.status == "planned":
        if release:
            return [f"{t} is planned for {release}.", "That is a target, not a commitment, so the timing can change."]
        return [f"{t} is on our plan, but it has no date yet."]
    if item.status == "considering":
        out = [f"We are looking at {t}, but it is not part of our plan yet and has no date.",
               "Your input can help shape that decision."]
    else:
        out = [f"We have decided not to build {t}, and I do not want to set the wrong expectation.",
               f"The reason: {_sentence(item.reason)}" if item.reason else _no_reason(item, score_context)]
    if item.workaround:  # after the roadmap's own reason, when it gives one: the why belongs next to the no
        out.insert(2 if item.status == "not_planned" and item.reason else 1,
                   f"What you can do today: {_sentence(item.workaround)}")
    return out


def _no_reason(item: DraftItem, score_context: dict | None) -> str:
    """The customer's half of 'why not': the ranking behind it, without the numbers."""
    score = (item.score or {}).get("score")
    floor = ((score_context or {}).get("in_progress") or [None])[0]
    if score is not None and floor is not None and score < floor:
        return "We put our effort where it helps the most customers, and other work ranks well ahead of it."
    return "It does not fit the work we have chosen to focus on."


def _goal_sentence(item: DraftItem) -> str | None:
    if not item.goal or item.status not in ("shipped", "in_progress", "planned") or _INTERNAL_GOAL.search(item.goal):
        return None
    goal = item.goal.strip().rstrip(".")
    return f"This work is part of a wider product goal: {goal[0].lower() + goal[1:]}."


def _next_step(verdict: str) -> str:
    return {
        "available": "If it helps, I can set up a short walkthrough so your team can try it.",
        "in_progress": "I will keep you posted as it moves along, and I can set up a call with our product team "
                       "if you want to share your needs.",
        "planned": "I will let you know if the timing changes. Tell me what matters most to your team, and I will "
                   "pass it on.",
        "under_consideration": "If you tell me how your team would use it, I will share that with our product team. "
                               "Real use cases carry a lot of weight in that decision.",
        "not_planned": "I am happy to walk through the other options with you on a quick call.",
    }.get(verdict, "I will pass your request to our product team, and I am happy to talk through other options on "
                   "a quick call.")


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if text.endswith((".", "!", "?")) else text + "."


# ---- internal ------------------------------------------------------------------------------------------------
def _internal(ctx: DraftContext, with_quote: bool) -> list[tuple]:
    parts = [(f"Verdict: {VERDICT_WORDS.get(ctx.verdict, ctx.verdict)}.", 0, [])]
    for item in ctx.items:
        parts.append((_item_line(item), 0, []))
        reason = (item.score or {}).get("reason")
        if reason:
            parts.append((f"{item.id} {_sentence(reason)}", 2, []))
        if item.reason and item.status == "not_planned":
            parts.append((f"Reason (roadmap): {_sentence(item.reason)}", 0, []))
        if item.workaround and item.status in ("considering", "not_planned"):
            parts.append((f"Workaround: {_sentence(item.workaround)}", 0, []))
    if not ctx.items:
        parts.append(("No roadmap item addresses this, so do not suggest a plan or a date.", 0, []))
        parts.append(("What to tell the customer: it is not on the roadmap and there is no date; offer to pass the "
                      "request to the product team and to talk through other options.", 0, []))
        near = ", ".join(f"{a.id} {_title(a)} ({a.status}, match {a.match_score:.2f})" for a in ctx.alternatives)
        if near:
            parts.append((f"Nearest items, below the match line: {near}.", 2, []))
    if ctx.demand:
        parts.append((_demand_line(ctx.demand), 1, []))
    if with_quote:
        for ev in ctx.evidence[:2]:
            quote = ev.quote.strip()
            parts.append((f'Evidence: "{quote}" ({ev.account or "no account"}, note {ev.note_id}).', 1, [quote]))
    parts.append((_internal_next(ctx), 0, []))
    return parts


def _item_line(item: DraftItem) -> str:
    status = {"shipped": "shipped, available today", "in_progress": "in development", "planned": "planned",
              "considering": "under consideration, no date", "not_planned": "not planned, no date"}[item.status]
    when = f", targeted for {item.dated_release}" if item.dated_release and item.status != "shipped" else (
        f", released in {item.dated_release}" if item.dated_release else "")
    goal = f" Goal: {_sentence(item.goal)}" if item.goal else ""
    caveat = " A target, not a commitment." if item.status == "planned" else ""
    return f"{item.id} {_title(item)}: {status}{when}.{caveat}{goal}"


def _demand_line(demand: dict) -> str:
    # Theme labels are customers' words: no quotation marks (they are not verbatim quotes), and a label that
    # carries a date or a promise is left out rather than repeated as if it were ours.
    label = demand.get("label") or ""
    if label and (checks.find_dates(label) or checks.PROMISE_RE.search(label)):
        label = ""
    if demand.get("source") == "item":
        source = f"stored notes asking for {demand['item_id']}"
    elif demand.get("theme_id") is not None:
        source = f"theme {demand['theme_id']}" + (f", {label}" if label else "")
    else:
        source = "similar customer statements"
    trend = f", trend {demand['trend']}" if demand.get("trend") else ""
    counts = f"{_count(demand.get('accounts'), 'account')}, {_count(demand.get('mentions'), 'mention')}"
    return f"Demand ({source}): {counts}{trend}."


def _count(n, word: str) -> str:
    n = int(n or 0)
    return f"{n} {word}" + ("" if n == 1 else "s")


def _internal_next(ctx: DraftContext) -> str:
    if not ctx.items:
        return "Next step: log the request as a note so theme runs count it, and do not suggest a date."
    item = ctx.items[0]
    link = f"link this account's note to {item.id} (feedback roadmap link {item.id} --note NOTE_ID) so the demand counts"
    return {
        "available": f"Next step: offer a walkthrough{' and share ' + item.url if item.url else ''}.",
        "in_progress": f"Next step: present the release as a target, not a promise, and {link}.",
        "planned": f"Next step: present the release as a target only, and {link}.",
        "under_consideration": f"Next step: collect their use case and {link}.",
        "not_planned": "Next step: offer the workaround if there is one, and do not hint at a date.",
    }.get(ctx.verdict, "Next step: do not suggest a date.")
