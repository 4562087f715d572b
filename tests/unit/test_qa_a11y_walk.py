"""Accessibility (WCAG 2.1 AA) walk of every page, checked in the rendered HTML and the stylesheet.

Defects this walk found (axe-core in Chromium and by hand): a "Not asking for this" button whose spoken name did not
contain its visible text; nine "Copy draft" buttons on one follow-ups page (and a bare "Copy" on the brief) that did
not say what they copy; a copy button inside the note page's <h1>; an empty header cell in the report summary table;
a job page that reloaded itself every 2 s (a screen reader starts over at the top each time); unnamed progress bars;
form errors that were not focused and left the page title unchanged; a sign-in error not tied to its field; muted
<code> text at 4.35:1, a 1.4:1 error status figure, a 1.8:1 focus ring and 1.5:1 input borders."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from .test_followups import seed as seed_followups, ship
from .test_reports import AS_OF, seed as seed_reports

STATIC = Path(__file__).resolve().parents[2] / "service" / "web" / "static"
CSS = (STATIC / "app.css").read_text()
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


# ---- a small DOM from the stdlib parser -------------------------------------------------------------------------
class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent, self.children = tag, dict(attrs), parent, []

    def text(self) -> str:
        return " ".join(" ".join(c if isinstance(c, str) else c.text() for c in self.children).split())

    def iter(self):
        for c in self.children:
            if isinstance(c, Node):
                yield c
                yield from c.iter()

    def find_all(self, *tags):
        return [n for n in self.iter() if n.tag in tags]

    def ancestors(self):
        node = self.parent
        while node is not None:
            yield node
            node = node.parent


class TreeBuilder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.current = Node("#document", {}, None)

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs, self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Node(tag, attrs, self.current))

    def handle_endtag(self, tag):
        node = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)


def parse(html: str) -> Node:
    builder = TreeBuilder()
    builder.feed(html)
    return builder.root


def accessible_name(node: Node, dom: Node) -> str:
    if node.attrs.get("aria-label"):
        return node.attrs["aria-label"].strip()
    if node.attrs.get("aria-labelledby"):
        ids = node.attrs["aria-labelledby"].split()
        return " ".join(n.text() for n in dom.iter() if n.attrs.get("id") in ids)
    if node.tag == "input":
        return (node.attrs.get("value") or "").strip()
    return node.text()


def problems(html: str) -> list[str]:
    """What a screen reader or keyboard user would trip over on this page, one line per problem."""
    dom, found = parse(html), []
    htmls = dom.find_all("html")
    if not htmls or not htmls[0].attrs.get("lang"):
        found.append("<html> has no lang")
    ids = [n.attrs["id"] for n in dom.iter() if n.attrs.get("id")]
    found += [f"duplicate id {i!r}" for i in sorted({i for i in ids if ids.count(i) > 1})]
    for n in dom.iter():
        for attr in ("aria-describedby", "aria-labelledby"):
            found += [f"{attr} points at missing #{ref}" for ref in n.attrs.get(attr, "").split() if ref not in ids]
    headings = [int(h.tag[1]) for h in dom.find_all("h1", "h2", "h3", "h4", "h5", "h6")]
    if headings.count(1) != 1:
        found.append(f"{headings.count(1)} h1 headings")
    found += [f"heading level skips h{a} to h{b}" for a, b in zip(headings, headings[1:]) if b > a + 1]
    for h in dom.find_all("h1", "h2", "h3"):
        found += [f"a button inside <{h.tag}> {h.text()!r}" for _ in h.find_all("button")]
    labelled_for = {n.attrs.get("for") for n in dom.find_all("label")}
    for c in dom.find_all("input", "select", "textarea"):
        if c.attrs.get("type") in ("hidden", "submit", "button"):
            continue
        wrapped = any(a.tag == "label" for a in c.ancestors())
        if not (c.attrs.get("id") in labelled_for or wrapped or c.attrs.get("aria-label") or c.attrs.get("aria-labelledby")):
            found.append(f"unlabelled <{c.tag} name={c.attrs.get('name')!r}>")
    for p in dom.find_all("progress"):
        if not (any(a.tag == "label" for a in p.ancestors()) or p.attrs.get("aria-label") or p.attrs.get("aria-labelledby")):
            found.append("unnamed <progress>")
    names = []
    for b in dom.find_all("button") + [i for i in dom.find_all("input") if i.attrs.get("type") == "submit"]:
        name, visible = accessible_name(b, dom), (b.text() if b.tag == "button" else b.attrs.get("value", "")).strip()
        if not name:
            found.append(f"button without a name: {b.attrs}")
        elif visible and visible.lower() not in name.lower():
            found.append(f"button name {name!r} does not contain its visible text {visible!r} (WCAG 2.5.3)")
        names.append(name)
    found += [f"{names.count(n)} buttons named {n!r}" for n in sorted(set(names)) if names.count(n) > 1]
    for t in dom.find_all("table"):
        if not t.find_all("th"):
            found.append(f"table {t.attrs.get('class')} has no header cells")
        found += [f"empty <th> in table {t.attrs.get('class')}" for th in t.find_all("th") if not th.text()]
    for m in dom.find_all("meta"):
        if m.attrs.get("http-equiv", "").lower() == "refresh" and not any(a.tag == "noscript" for a in m.ancestors()):
            found.append("the page reloads itself (meta refresh outside <noscript>)")
    return found


# ---- pages ------------------------------------------------------------------------------------------------------
@pytest.fixture
def reported(make_app):
    """Themes, roadmap, drafts and a stored report (the reports seed)."""
    from service.reports.store import create_report

    app = make_app()
    ids = seed_reports(app)
    report = create_report(app.extensions["feedback"], "7d", AS_OF)
    return app, ids, report


@pytest.fixture
def followed(make_app):
    """The follow-ups seed with RM-104 shipped and one account already told (so "Undo" shows)."""
    app = make_app()
    svc = app.extensions["feedback"]
    seed_followups(svc)
    ship(svc)
    client = app.test_client()
    assert client.post("/roadmap/items/RM-104/followups/told", data={"account": "Acme Logistics"}).status_code in (302, 303)
    return app


def _signed_in(app, role: str):
    """A browser-like client signed in through the form: a refusal is then an HTML page (with a Bearer header it
    is JSON)."""
    from tests.conftest import api_token

    client = app.test_client(anonymous=True)
    assert client.post("/sign-in", data={"secret": api_token(app, role)}).status_code in (302, 303)
    return client


def _first(pattern: str, html: str) -> str:
    match = re.search(pattern, html)
    assert match, pattern
    return match.group(1)


def test_every_page_has_lang_one_h1_labels_table_headers_and_named_buttons(reported, followed):
    app, ids, report = reported
    client = app.test_client()
    theme_id = ids["CSV export times out"]
    theme_page = client.get(f"/themes/{theme_id}").get_data(as_text=True)
    note_path = _first(r'href="(/notes/[^"#]+)"', theme_page)
    draft_path = _first(r'href="(/ask/\d+)"', client.get("/ask").get_data(as_text=True))
    pasted = client.post("/", data={"text": "Exports time out above 50k rows.\n---\nSSO setup took two weeks.",
                                    "account": "Walk Corp", "source": "call"})
    pages = {
        "/": client.get("/"), "/themes": client.get("/themes"), f"/themes/{theme_id}": client.get(f"/themes/{theme_id}"),
        "/roadmap": client.get("/roadmap"), "/ask": client.get("/ask"), draft_path: client.get(draft_path),
        "/reports": client.get("/reports"), f"/reports/{report.id}": client.get(f"/reports/{report.id}"),
        note_path: client.get(note_path), "paste summary": pasted,
        "404": client.get("/no-such-page"), "403 (viewer on /ask)": _signed_in(app, "viewer").get("/ask"),
        "viewer start": app.test_client(role="viewer").get("/"),
        "sign-in": app.test_client(anonymous=True).get("/sign-in"),
        "422 ask": client.post("/ask", data={"question": ""}), "422 paste": client.post("/", data={"text": ""}),
        "422 themes filter": client.get("/themes?since=notadate"),
    }
    other = followed.test_client()
    pages["/roadmap/items/RM-104/followups"] = other.get("/roadmap/items/RM-104/followups")
    pages["brief"] = other.get("/accounts/Velo%20Commerce/brief")
    statuses = {"404": 404, "403 (viewer on /ask)": 403, "422 ask": 422, "422 paste": 422, "422 themes filter": 422}
    for name, response in pages.items():
        assert response.status_code == statuses.get(name, 200), (name, response.status_code)
    report_file = client.get(f"/reports/{report.id}/report.html")
    pages["standalone report"] = report_file
    found = {name: problems(r.get_data(as_text=True)) for name, r in pages.items()}
    assert {name: p for name, p in found.items() if p} == {}


def test_the_checker_catches_what_it_is_for():
    """The walk above passes only if problems() would have failed the defects it was written for."""
    bad = ('<html><body><h1>Note <button>Copy id</button></h1><h3>x</h3><input name="q" id="q">'
           '<button aria-label="Not asking for RM-1: Acme">Not asking for this</button><button>Copy draft</button>'
           '<button>Copy draft</button><table><thead><tr><th></th></tr></thead></table><table><tr><td>1</td></tr></table>'
           '<progress max="3" value="1"></progress><meta http-equiv="refresh" content="2"></body></html>')
    found = " | ".join(problems(bad))
    for expected in ("no lang", "a button inside <h1>", "skips h1 to h3", "unlabelled <input name='q'>",
                     "does not contain its visible text", "2 buttons named 'Copy draft'", "empty <th>",
                     "has no header cells", "unnamed <progress>", "meta refresh"):
        assert expected in found, expected


def test_follow_up_buttons_say_whom_and_what_they_act_on(followed):
    html = followed.test_client().get("/roadmap/items/RM-104/followups").get_data(as_text=True)
    assert 'aria-label="Not asking for this: Velo Commerce is not asking for RM-104"' in html
    assert 'aria-label="Copy draft for Velo Commerce"' in html
    assert 'aria-label="Undo the mark for Acme Logistics"' in html
    brief = followed.test_client().get("/accounts/Velo%20Commerce/brief").get_data(as_text=True)
    assert '>Copy summary</button>' in brief and 'aria-label="Copy summary for the call with Velo Commerce"' in brief


def test_form_errors_are_focused_tied_to_their_field_and_named_in_the_title(reported):
    app, _, _ = reported
    client = app.test_client()
    for response, field in ((client.post("/ask", data={"question": ""}), "question"),
                            (client.post("/", data={"text": ""}), "text"),
                            (client.get("/themes?since=notadate"), "since")):
        dom = parse(response.get_data(as_text=True))
        assert dom.find_all("title")[0].text().startswith("Error: ")
        summary = [n for n in dom.iter() if n.attrs.get("id") == "form-errors"][0]
        assert summary.attrs.get("role") == "alert" and summary.attrs.get("tabindex") == "-1"
        assert "data-focus-on-load" in summary.attrs
        control = [n for n in dom.iter() if n.attrs.get("id") == field][0]
        assert control.attrs.get("aria-invalid") == "true"
        assert f"{field}-error" in control.attrs["aria-describedby"].split()
    signed_out = app.test_client(anonymous=True)
    refused = signed_out.post("/sign-in", data={"secret": "not-a-token"})
    dom = parse(refused.get_data(as_text=True))
    secret = [n for n in dom.iter() if n.attrs.get("id") == "secret"][0]
    assert refused.status_code == 401 and secret.attrs.get("aria-invalid") == "true"
    assert "sign-in-error" in secret.attrs["aria-describedby"].split()
    assert dom.find_all("title")[0].text().startswith("Error: ")
    assert "aria-invalid" not in signed_out.get("/sign-in").get_data(as_text=True)


def test_a_running_job_page_updates_in_place_and_names_its_progress(app):
    from service.jobs import store

    svc = app.extensions["feedback"]
    job, _ = store.create(svc, "reindex", {}, key=None, backend="local")  # recorded, not run: stays queued
    html = app.test_client().get(f"/jobs/{job['id']}").get_data(as_text=True)
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in html
    assert 'id="job-status" data-poll-seconds="2"' in html and 'id="job-status-live"' in html
    assert problems(html) == []
    store.finish(svc, job["id"], {"reindexed": 4})
    done = app.test_client().get(f"/jobs/{job['id']}").get_data(as_text=True)
    assert "data-poll-seconds" not in done and "http-equiv" not in done
    js = (STATIC / "app.js").read_text()
    assert "data-poll-seconds" in js and "job-status-live" in js and "data-focus-on-load" in js


# ---- colours ----------------------------------------------------------------------------------------------------
def _luminance(hex_colour: str) -> float:
    h = hex_colour.lstrip("#")
    channels = [int(h[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _rule(selector: str) -> str:
    match = re.search(r"(?:^|\n)" + re.escape(selector) + r"\s*\{([^}]*)\}", CSS)
    assert match, selector
    return match.group(1)


def _colour(selector: str, prop: str = "color") -> str:
    match = re.search(r"(?:^|;)\s*" + re.escape(prop) + r":\s*([^;]+)", _rule(selector))
    assert match, (selector, prop)
    value = match.group(1).strip()
    var = re.fullmatch(r"var\((--[\w-]+)\)", value)
    if var:
        value = re.search(re.escape(var.group(1)) + r":\s*(#[0-9a-fA-F]{6})", CSS).group(1)
    return re.search(r"#[0-9a-fA-F]{6}", value).group(0)


WHITE, BG, HEADER, CODE_BG = "#ffffff", "#f6f7f9", "#111827", "#f1f3f5"


def test_badges_and_small_text_reach_4_5_to_1():
    for selector in (".tone-green, .status-shipped, .status-available", ".tone-blue, .status-in_progress",
                     ".tone-teal, .status-planned", ".tone-amber, .status-considering, .status-under_consideration",
                     ".tone-grey, .status-not_planned, .status-not_on_roadmap, .status-other", ".trend-new",
                     ".trend-growing", ".trend-stable", ".trend-fading"):
        ratio = contrast(_colour(selector), _colour(selector, "background"))
        assert ratio >= 4.5, (selector, round(ratio, 2))
    assert contrast(_colour(".muted"), BG) >= 4.5
    assert contrast(_colour(".muted code, .hint code, .lead code"), CODE_BG) >= 4.5


def test_focus_ring_input_edges_and_error_figure_reach_3_to_1():
    ring = re.search(r":focus-visible \{ outline: 3px solid (#[0-9a-fA-F]{6})", CSS).group(1)
    assert min(contrast(ring, c) for c in (WHITE, BG, HEADER)) >= 3
    edge = re.search(r"border: 1px solid (#[0-9a-fA-F]{6}); border-radius: 6px; padding: \.5rem \.65rem", CSS).group(1)
    assert contrast(edge, WHITE) >= 3
    assert contrast(_colour(".error-status"), BG) >= 3  # 56px bold: large text
    assert ".visually-hidden {" in CSS
