"""The theme page's "merge into" and "move the ticked statements to" lists hold the 20 themes nearest the theme (by
centroid), not every theme (818 options in each list at a year of data); any other theme is typed by its id in the
box next to the list, which wins over the list, and an error about it is shown next to that box."""
from __future__ import annotations

import pytest

from .test_api_paging_lists import seed_run
from .test_qa_a11y_walk import parse, problems


def _node(dom, node_id: str):
    return [n for n in dom.iter() if n.attrs.get("id") == node_id][0]


def _options(dom, select_id: str) -> list[str]:
    return [o.attrs["value"] for o in _node(dom, select_id).find_all("option")]


@pytest.fixture
def many(app, svc):
    """60 seeded themes (theme i's nearest are i +- 1, i +- 2, ...); the first holds 3 statements."""
    return app.test_client(role="pm"), seed_run(svc, 60, statements=3)


@pytest.fixture
def clustered(app, svc):
    """A real run (its edits re-run the themes)."""
    from service.ingest.store import ingest_notes
    from service.themes.run import RunOptions, run_themes

    from .test_theme_determinism import TOPICS, _notes

    ingest_notes(svc, _notes(TOPICS))
    ids = [t["id"] for t in run_themes(svc, RunOptions(include_all=True, use_llm=False))["themes"]]
    return app.test_client(role="pm"), ids


def test_the_lists_hold_the_20_nearest_themes_and_a_box_takes_any_other(many):
    pm, ids = many
    html = pm.get(f"/themes/{ids[0]}").get_data(as_text=True)
    dom = parse(html)
    assert _options(dom, "merge-into") == [str(i) for i in ids[1:21]]  # nearest first
    assert _options(dom, "move-to") == ["none"] + [str(i) for i in ids[1:21]]
    middle = parse(pm.get(f"/themes/{ids[30]}").get_data(as_text=True))
    assert set(_options(middle, "merge-into")) == {str(ids[30 + k]) for k in range(-10, 11) if k}
    assert "move-to" not in [n.attrs.get("id") for n in middle.iter()]  # no statements, no move form
    for box, name, hint in (("merge-into-id", "into_id", "merge-hint"), ("move-to-id", "to_id", "move-hint")):
        control = _node(dom, box)
        assert control.attrs["name"] == name and control.attrs.get("value", "") == ""
        assert hint in control.attrs["aria-describedby"].split()
        assert "20 themes most like this one" in _node(dom, hint).text()
    assert any(n.attrs.get("for") == "merge-into-id" for n in dom.find_all("label"))
    assert problems(html) == []  # every control labelled, every reference resolves
    assert html.count("<option") == 41  # was 60 - 1 in each list: 119


def test_with_few_themes_the_lists_hold_every_other_theme(clustered):
    pm, ids = clustered
    dom = parse(pm.get(f"/themes/{ids[0]}").get_data(as_text=True))
    assert sorted(_options(dom, "merge-into")) == sorted(str(i) for i in ids[1:])
    assert "every other theme" in _node(dom, "merge-hint").text()


def test_a_typed_theme_id_wins_over_the_list(clustered, svc):
    pm, ids = clustered
    resp = pm.post(f"/themes/{ids[0]}/edit", data={"action": "merge", "into": str(ids[1]), "into_id": f" {ids[2]} "})
    assert resp.status_code == 303 and resp.headers["Location"].startswith(f"/themes/{ids[2]}")
    assert pm.get(f"/api/v1/themes/{ids[0]}").get_json()["merged_into_id"] == ids[2]


@pytest.mark.parametrize("form, box, words", [
    ({"action": "merge", "into_id": "99999"}, "merge-into-id", "no theme with id 99999"),
    ({"action": "merge", "into_id": "x1"}, "merge-into-id", "into must be a theme id"),
    ({"action": "move", "to": "none", "to_id": "99999"}, "move-to-id", "no theme with id 99999"),
])
def test_an_error_about_a_typed_id_is_next_to_the_box_which_keeps_it(clustered, form, box, words):
    pm, ids = clustered
    if form["action"] == "merge":
        form = {**form, "into": str(ids[1])}
    else:
        html = pm.get(f"/themes/{ids[0]}").get_data(as_text=True)
        form = {**form, "statement_ids": [n.attrs["value"] for n in parse(html).find_all("input")
                                          if n.attrs.get("name") == "statement_ids"][:1]}
    resp = pm.post(f"/themes/{ids[0]}/edit", data=form)
    assert resp.status_code in (404, 422)
    html = resp.get_data(as_text=True)
    dom = parse(html)
    control = _node(dom, box)
    assert control.attrs.get("aria-invalid") == "true" and f"{box}-error" in control.attrs["aria-describedby"].split()
    assert words in _node(dom, f"{box}-error").text()
    assert control.attrs["value"] == form.get("into_id", form.get("to_id"))  # what was typed stays
    assert _node(dom, box.removesuffix("-id")).attrs.get("aria-invalid") is None  # the list is not at fault
    assert problems(html) == []


def test_a_refused_move_keeps_a_target_from_beyond_the_nearest(many):
    pm, ids = many
    html = pm.get(f"/themes/{ids[0]}").get_data(as_text=True)
    ticked = [n.attrs["value"] for n in parse(html).find_all("input") if n.attrs.get("name") == "statement_ids"]
    assert len(ticked) == 3 and str(ids[55]) not in _options(parse(html), "move-to")
    resp = pm.post(f"/themes/{ids[0]}/edit",
                   data={"action": "move", "statement_ids": ticked + ["2000000000"], "to": str(ids[55])})
    assert resp.status_code == 404
    dom = parse(resp.get_data(as_text=True))
    select = _node(dom, "move-to")
    assert [o.attrs["value"] for o in select.find_all("option") if "selected" in o.attrs] == [str(ids[55])]
    assert len(select.find_all("option")) == 22  # "not a pain", the 20 nearest and the one sent
