"""Render report data as a self-contained HTML file (inline CSS, inline SVG charts, no script) and as Markdown
for chat tools ("markdown": standard; "slack": Slack mrkdwn, used by the webhook payload)."""
from __future__ import annotations

import functools
import math
import re
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from ..web import charts

TEMPLATES = Path(__file__).resolve().parents[1] / "web" / "templates"
FLAVORS = ("markdown", "slack")
_env: Environment | None = None


def environment() -> Environment:
    """Its own Jinja environment (autoescaped), so reports render from the CLI and the scheduler without a
    request; the body template is the same one the Reports page includes."""
    global _env
    if _env is None:
        env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(default=True),
                          trim_blocks=False, lstrip_blocks=False)
        env.globals.update(bar_chart=charts.bar_chart, sparkline=charts.sparkline,
                           trend_badge=charts.trend_badge, status_badge=charts.status_badge)
        _env = env
    return _env


def render_html(data: dict) -> str:
    return environment().get_template("reports/standalone.html").render(r=with_code_html(data), links=False)


# ---- notes the service writes itself ----------------------------------------------------------------------------
# The report's own notes ("no theme run yet: run `feedback themes run` first", a gaps note) are written in Markdown,
# code spans only. They are parsed, not pattern-matched: markdown-it with nothing enabled but code spans, so no
# emphasis, link, escape or HTML of Markdown applies to the rest of the text.
@functools.lru_cache(maxsize=1)
def _code_spans():
    from markdown_it import MarkdownIt

    return MarkdownIt("zero").enable("backticks")


def code_html(value) -> Markup:
    """A note of ours as HTML: code spans as <code>, everything else escaped (markdown-it's renderer escapes)."""
    return Markup(_code_spans().renderInline(re.sub(r"\s+", " ", str(value or "")).strip()))


def with_code_html(data: dict) -> dict:
    """The data with its notes as HTML for the body template (a copy: the stored data keeps the Markdown)."""
    out = dict(data)
    out["messages"] = [code_html(m) for m in data.get("messages") or []]
    if data.get("gaps_note"):
        out["gaps_note"] = code_html(data["gaps_note"])
    out["gaps"] = [{**g, "why": gap_reasons(g)} for g in data.get("gaps") or []]
    return out


GAPS_HEADING = "Gaps: recurring themes no roadmap item covers"


def gap_reasons(gap: dict) -> list[str]:
    """Why a gap is one though the roadmap is near it ("decided not to build: ...", "partly near ..."), in the
    roadmap's own words, as plain text; nothing for a gap nothing is near, or a report stored before these fields."""
    if not (gap.get("declined") or gap.get("near")):
        return []
    from ..roadmap.service import gap_reasons as reasons  # here: a report without these fields needs no roadmap

    return reasons(gap)


# ---- Markdown -------------------------------------------------------------------------------------------------
def money(x) -> str:
    if x is None or not math.isfinite(x):  # an ARR sum that overflowed is no figure at all
        return "—"
    if x >= 1_000_000:
        return f"${x / 1_000_000:,.1f}M"
    if x >= 1000:
        return f"${x / 1000:,.0f}k"
    return f"${x:,.0f}"


# Characters that make Markdown of plain text: emphasis, code, links and images, tables, strike-through, headings,
# and the backslash itself. A backslash before any ASCII punctuation is a literal (CommonMark 2.4).
MARKDOWN_INLINE = re.compile(r"([\\`*_\[\]()!|~#])")
# What starts a block when it opens a line (or the item of a list: "- {label}"): a quote, a list, a setext line.
MARKDOWN_BLOCK_START = re.compile(r"^(\d+)([.)])|^([>+=-])")
ENTITY_START = re.compile(r"&(?=#?[0-9A-Za-z]+;)")  # an & a Markdown viewer would read as an entity


def _text(value, flavor: str) -> str:
    """Untrusted text (labels, quotes, account names) on one line, shown as written: a theme renamed to
    `[x](javascript:alert(1)) *bold*` must not become a link or bold text. Slack needs &, < and > escaped or
    `<!channel>` in a note would ping a whole channel (and a link needs <); standard Markdown gets < escaped so no
    raw HTML or autolink passes through, an & that starts an entity escaped so it is shown as typed, and its control
    characters backslash-escaped."""
    return _line_start(_escape(re.sub(r"\s+", " ", str(value or "")).strip(), flavor), flavor)


# Chat tools that take a Slack-shaped payload read more than Slack's <...> syntax in its "text": Mattermost,
# Rocket.Chat and Discord notify a whole channel for "@channel", "@here", "@all" or "@everyone" (and a person for
# "@name"), and render Markdown links and images, so a note saying `![x](https://evil.example/pixel)` made every
# reader's client fetch that address. A zero-width space after the "@" and after each "]" leaves the text as it
# reads but no longer a mention, a link, an image or a link reference. An email address (a letter before the "@")
# is left as written.
ZWSP = "\u200b"
CHAT_MENTION = re.compile(r"(?<![^\W_])@(?=[\w.-])")


def _escape(text: str, flavor: str) -> str:
    if flavor == "slack":
        text = CHAT_MENTION.sub("@" + ZWSP, text).replace("]", "]" + ZWSP)
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    # An & that starts an entity first: "R&amp;D" or "&copy;" written in a label must show as written, not as the
    # character it names ("R&D" needs nothing and stays readable in the raw file).
    return MARKDOWN_INLINE.sub(r"\\\1", ENTITY_START.sub("&amp;", text)).replace("<", "&lt;")


def _line_start(text: str, flavor: str) -> str:
    if flavor == "slack":
        return text
    return MARKDOWN_BLOCK_START.sub(lambda m: f"{m[1]}\\{m[2]}" if m[1] else f"\\{m[3]}", text)


def _note(value, flavor: str) -> str:
    """A note of ours ("run `feedback themes run` first") in Markdown: its code spans stay code spans, the rest is
    shown as written, as `_text` shows untrusted text."""
    parts = []
    for token in _code_spans().parseInline(re.sub(r"\s+", " ", str(value or "")).strip())[0].children or []:
        parts.append(_code(token.content, flavor) if token.type == "code_inline" else _escape(token.content, flavor))
    return _line_start("".join(parts), flavor)


def _code(code: str, flavor: str) -> str:
    if flavor == "slack":  # mrkdwn has single-backtick code only, and wants &, < and > escaped inside it too
        return f"`{_escape(code, flavor)}`" if "`" not in code else _escape(code, flavor)
    fence = "`" * (max((len(run) for run in re.findall(r"`+", code)), default=0) + 1)
    pad = " " if code.startswith("`") or code.endswith("`") else ""  # CommonMark 6.1
    return f"{fence}{pad}{code}{pad}{fence}"


def _n(count, word: str) -> str:
    """"1 note", "2 notes": a PM reads the Markdown file and the chat message, where "1 accounts" looked broken."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def _bold(text: str, flavor: str) -> str:
    return f"*{text}*" if flavor == "slack" else f"**{text}**"


def header(data: dict) -> str:
    run = data.get("theme_run")
    suffix = f"; themes from run {run['run_id']}" if run else ""
    return f"{data['period_start']} to {data['last_day']} (UTC){suffix}"


def markdown_sections(data: dict, flavor: str = "markdown") -> list[tuple[str, str]]:
    """(heading, body) pairs: the Markdown file joins them, the webhook turns each into a Block Kit section."""
    if flavor not in FLAVORS:
        raise ValueError(f"unknown flavor {flavor!r}")
    notes = data["notes"]
    summary = (f"{_n(notes['count'], 'note')} from {_n(notes['accounts'], 'account')} (previous period: "
               f"{_n(notes['previous'], 'note')} from {_n(notes['previous_accounts'], 'account')}).")
    if data.get("trend_window"):
        summary += f" Trends compare {data['trend_window']}."
        pages = (data.get("theme_run") or {}).get("trend_window")
        if pages and pages != data["trend_window"]:  # the same theme can be "growing" there and "stable" here
            summary += f" (The themes pages compare {pages}, so their trends can differ.)"
    sections = [("Summary", "\n".join([summary] + [f"Note: {_note(m, flavor)}" for m in data.get("messages") or []]))]
    sections.append(("Top themes by accounts", _top(data, flavor)))
    movers = [_movers(data, key, title, flavor) for key, title in
              (("new", "New"), ("growing", "Growing"), ("fading", "Fading"))]
    sections.append(("Compared with the previous period", "\n".join(movers)))
    sections.append(("Moved since the last report", moved_text(data, flavor)))
    sections.append((GAPS_HEADING, _gaps(data, flavor)))
    sections.append(("Draft answers", _drafts(data["drafts"])))
    return sections


def _top(data: dict, flavor: str) -> str:
    if not data.get("top_themes"):
        text = "No theme was mentioned in this period." if data.get("theme_run") else "No themes yet."
        ctx = data.get("context")
        if ctx and ctx["themes"]:
            text += f"\nFor context, the top themes of {ctx['start']} to {ctx['last_day']} (30 days):\n" + "\n".join(
                f"- {_text(t['label'], flavor)}: {_n(t['accounts'], 'account')}, {_n(t['mentions'], 'mention')}"
                for t in ctx["themes"])
        return text
    lines = []
    for n, t in enumerate(data["top_themes"], start=1):
        arr = f", ARR {money(t['arr'])}" if t.get("arr") else ""
        # This list counts this period, the gaps below the whole theme run: each figure says which, in the words
        # of the HTML report's headers ("Accounts this period", "Accounts (theme run)").
        # No trend (None) where the report makes no comparison (a period without notes, the first one with notes).
        trend = f", {t['trend']}" if t.get("trend") else ""
        lines.append(f"{n}. {_bold(_text(t['label'], flavor), flavor)}: {_n(t['accounts'], 'account')} this period, "
                     f"{_n(t['mentions'], 'mention')} this period (was {t['previous_mentions']}){arr}{trend}")
        for q in t.get("quotes") or []:
            who = _text(q.get("account") or "no account", flavor)
            lines.append(f"   > \u201c{_text(q['text'], flavor)}\u201d: {who}, note {_text(q['note_id'], flavor)}")
    return "\n".join(lines)


def _movers(data: dict, key: str, title: str, flavor: str) -> str:
    rows = data.get(key) or []
    if not rows:
        return f"{_bold(title, flavor)}: none"
    items = "; ".join(f"{_text(t['label'], flavor)} ({_mover_counts(t)})" for t in rows)
    # The lists are cut at MOVERS themes: say how many more there are rather than pass a part for the whole.
    more = (data.get("movers_total") or {}).get(key, len(rows)) - len(rows)
    return f"{_bold(title, flavor)}: {items}{f'; and {more} more' if more > 0 else ''}"


def _mover_counts(t: dict) -> str:
    """"3 mentions from 1 account, was 0 mentions": a change counted in mentions says how many accounts made it, so
    one account repeating itself is not read as a pain spreading. Reports stored before accounts were kept say
    "(3, was 0)" as they did."""
    if t.get("accounts") is None or t.get("previous_accounts") is None:
        return f"{t['mentions']}, was {t['previous_mentions']}"

    def counted(mentions: int, accounts: int) -> str:
        return f"{_n(mentions, 'mention')} from {_n(accounts, 'account')}" if mentions else "0 mentions"

    return f"{counted(t['mentions'], t['accounts'])}, was {counted(t['previous_mentions'], t['previous_accounts'])}"


def moved_text(data: dict, flavor: str, base_url: str = "") -> str:
    """Two lines: which items moved (old -> new status), then how many accounts asked and where their follow-ups
    are. Reports stored before this section existed have no "moved" key and say nothing moved."""
    moved = data.get("moved") or []
    if not moved:
        return "No roadmap item changed status."
    items = "; ".join(f"{_text(m.get('title') or m['item_id'], flavor)} ({_text(m['item_id'], flavor)}): "
                      f"{m['old_status'].replace('_', ' ')} -> {m['new_status'].replace('_', ' ')}" for m in moved)
    asks = "; ".join(f"{m['item_id']}: {'?' if m.get('accounts') is None else m['accounts']} "
                     f"account{'' if m.get('accounts') == 1 else 's'} asked, "
                     f"follow-ups {base_url}{m['followups']}" for m in moved)
    return f"{len(moved)} item{'s' if len(moved) != 1 else ''} moved: {items}\n{_text(asks, flavor)}"


def _gaps(data: dict, flavor: str) -> str:
    if not data.get("gaps"):
        return _note(data.get("gaps_note") or "Every recurring theme is covered by a roadmap item.", flavor)
    lines = []
    for g in data["gaps"]:
        # A report stored before the period's mentions were counted has no "period_mentions".
        period = f", {_n(g['period_mentions'], 'mention')} this period" if g.get("period_mentions") is not None else ""
        arr = f", ARR {money(g['arr'])}" if g.get("arr") else ""
        lines.append(f"- {_text(g['label'], flavor)}: {_n(g['accounts'], 'account')} (theme run), "
                     f"{_n(g['mentions'], 'mention')} (theme run){period}{arr}")
        lines += [f"  - {_text(why, flavor)}" for why in gap_reasons(g)]
    return "\n".join(lines)


def _drafts(d: dict) -> str:
    if not d.get("count") and not d.get("feedback"):
        return "No drafts or ratings in this period."
    verdicts = ", ".join(f"{n} {v.replace('_', ' ')}" for v, n in d["by_verdict"].items())
    stars = f", {d['average_stars']} stars on average" if d.get("average_stars") is not None else ""
    return (f"{_n(d['count'], 'draft')}{': ' + verdicts if verdicts else ''}. Feedback: {d['thumbs_up']} thumbs up, "
            f"{d['thumbs_down']} thumbs down{stars}; {_n(d['edits_saved'], 'edited version')} saved.")


def render_markdown(data: dict, flavor: str = "markdown") -> str:
    title = _bold(data["title"], flavor) if flavor == "slack" else f"# {data['title']}"
    parts = [title, header(data)]
    for heading, body in markdown_sections(data, flavor):
        parts.append(_bold(heading, flavor) if flavor == "slack" else f"## {heading}")
        parts.append(body)
    return "\n\n".join(parts) + "\n"
