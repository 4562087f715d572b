"""Per-theme figures: mentions, distinct accounts, sources, first/last seen, trend, ARR-weighted demand."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Mention:
    statement_id: int
    note_id: str  # the public id
    account: str | None
    source: str
    when: datetime
    arr: float | None


def trend_of(current: int, previous: int, first_seen: datetime, window_start: datetime) -> str:
    """new: first heard in this window; growing/fading: at least half again more/less, by at least 2 mentions."""
    if first_seen >= window_start and previous == 0:
        return "new"
    if current >= 1.5 * previous and current - previous >= 2:
        return "growing"
    if current <= 0.5 * previous and previous - current >= 2 or (current == 0 and previous == 0):
        return "fading"
    return "stable"


def window_text(last_day, days: float) -> str:
    """How every place (theme pages, API, CLI, report) names the window a trend compares: the last `days`
    days up to and including `last_day`, against the same number of days before them."""
    n = round(float(days), 1)
    n = int(n) if n.is_integer() else n  # 183, not 183.0 (a window to the end of its last day is 182.99999 days)
    span = "the last day" if n == 1 else f"the last {n} days"
    before = "the day before" if n == 1 else f"the {n} before"
    day = last_day.date() if isinstance(last_day, datetime) else last_day
    return f"{span} to {day.isoformat()} vs {before}"


def measure(mentions: list[Mention], window_end: datetime, window_days: float, weeks: int = 12) -> dict:
    length = timedelta(days=window_days)
    start = window_end - length
    prev_start = start - length
    current = sum(1 for m in mentions if start < m.when <= window_end)
    previous = sum(1 for m in mentions if prev_start < m.when <= start)
    first = min(m.when for m in mentions)
    last = max(m.when for m in mentions)
    accounts = sorted({m.account for m in mentions if m.account})
    arr_by_account: dict[str, float] = {}
    for m in sorted(mentions, key=lambda m: m.when):  # the latest ARR seen for an account wins
        if m.account and m.arr is not None:
            arr_by_account[m.account] = m.arr
    timeline = [0] * weeks
    for m in mentions:
        age = (window_end - m.when).days // 7
        if 0 <= age < weeks:
            timeline[weeks - 1 - age] += 1
    return {
        "mentions": len(mentions),
        "accounts": len(accounts),
        "account_names": accounts,
        "sources": dict(sorted(Counter(m.source for m in mentions).items())),
        "first_seen": first,
        "last_seen": last,
        "trend": trend_of(current, previous, first, start),
        "trend_counts": {"current": current, "previous": previous, "window_days": window_days,
                         "window_end": window_end.date().isoformat()},
        "timeline": timeline,
        "arr": float(sum(arr_by_account.values())) if arr_by_account else None,
    }


def parse_arr(meta: dict | None) -> float | None:
    """ARR from note metadata: 120000, "120000", "$120,000", "120k"."""
    if not meta:
        return None
    for key in ("arr", "ARR", "annual_recurring_revenue"):
        value = meta.get(key)
        if value in (None, ""):
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        text = str(value).strip().lower().replace("$", "").replace(",", "").replace("usd", "").strip()
        scale = 1.0
        if text.endswith("k"):
            scale, text = 1e3, text[:-1]
        elif text.endswith("m"):
            scale, text = 1e6, text[:-1]
        try:
            return float(text) * scale
        except ValueError:
            return None
    return None
