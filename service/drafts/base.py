"""The data a drafter gets and returns. A drafter phrases a decision it is handed; it never makes one."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from ..models.drafts import AUDIENCES  # noqa: F401  (one list, shared with the table's documentation)

TONES = ("neutral", "friendly", "formal", "concise", "email")
VERDICT_OF_STATUS = {
    "shipped": "available", "in_progress": "in_progress", "planned": "planned",
    "considering": "under_consideration", "not_planned": "not_planned",
}
NOT_ON_ROADMAP = "not_on_roadmap"
DATED_STATUSES = frozenset({"shipped", "in_progress", "planned"})  # only these may carry a date in a draft
UNCOMMITTED_STATUSES = frozenset({"considering", "not_planned"})
HONEST_VERDICTS = frozenset({NOT_ON_ROADMAP, "not_planned", "under_consideration"})


@dataclass
class DraftItem:
    id: str
    title: str
    description: str = ""
    status: str = "considering"
    release: str | None = None
    goal: str | None = None
    workaround: str | None = None
    reason: str | None = None  # why it is not planned: a roadmap export's `reason` column (kept as extra data)
    score: dict | None = None  # {"score", "method", "inputs", "reason"} from the roadmap scoring
    url: str | None = None
    match_score: float | None = None  # the matcher's calibrated score for this question

    @property
    def dated_release(self) -> str | None:
        """The release a draft may mention: only for statuses that carry a real target."""
        return self.release if self.status in DATED_STATUSES and (self.release or "").strip() else None


@dataclass
class Evidence:
    note_id: str  # the note's public id
    account: str | None
    quote: str  # a statement's text: a verbatim slice of the note
    theme_id: int | None = None
    theme_label: str | None = None
    own: bool = False  # said by the asking account

    def public(self) -> dict:
        return {"note_id": self.note_id, "account": self.account, "quote": self.quote}


@dataclass
class DraftContext:
    question: str  # as asked: data, fenced in any prompt, never obeyed
    account: str | None
    audience: str
    tone: str | None
    verdict: str
    items: list[DraftItem] = field(default_factory=list)  # cited items, best first
    evidence: list[Evidence] = field(default_factory=list)
    demand: dict | None = None  # {"label", "accounts", "mentions", "trend", "source": "item" | "theme" | ...}
    alternatives: list[DraftItem] = field(default_factory=list)  # nearest items when nothing addresses it
    score_context: dict | None = None  # {"in_progress": [lo, hi], "planned": [lo, hi]}
    names: list[str] = field(default_factory=list)  # contact/author names of the evidence notes (for redaction)
    shared_title_terms: frozenset[str] = frozenset()  # title terms of 2+ roadmap items: they name no one item

    @property
    def item_ids(self) -> list[str]:
        return [i.id for i in self.items]

    @property
    def own_evidence(self) -> list[Evidence]:
        return [e for e in self.evidence if e.own]


@dataclass
class DraftResult:
    text: str
    cited_item_ids: list[str]
    quotes: list[str] = field(default_factory=list)
    mode: str = "grounded-template"
    prompt_version: str | None = None
    model: str | None = None
    warnings: list[str] = field(default_factory=list)
    latency_ms: float | None = None


class Drafter(Protocol):
    name: str

    def draft(self, ctx: DraftContext) -> DraftResult: ...
