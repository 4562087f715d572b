"""A wrong FEEDBACK_SCORING setting is the server's configuration, not a crash: the API answers 503 naming the
setting, and the roadmap page and item detail still show the items, unscored, saying why."""
from __future__ import annotations

ITEMS = [{"id": "EXP", "title": "Background CSV exports", "status": "planned", "reach": 10, "impact": 2,
          "confidence": 1, "effort": 1},
         {"id": "SSO", "title": "SAML single sign-on", "status": "shipped"}]


def test_a_misconfigured_scoring_setting_is_named_and_nothing_crashes(client, monkeypatch):
    assert client.post("/api/v1/roadmap/items", json=ITEMS).status_code == 201
    monkeypatch.setenv("FEEDBACK_SCORING", "magic")
    resp = client.get("/api/v1/roadmap/scores")
    assert resp.status_code == 503 and "FEEDBACK_SCORING" in resp.get_json()["error"]["message"]
    detail = client.get("/api/v1/roadmap/items/EXP")
    assert detail.status_code == 200
    scoring = detail.get_json()["scoring"]
    assert scoring["score"] is None and "FEEDBACK_SCORING" in scoring["reason"]
    page = client.get("/roadmap")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Background CSV exports" in html and "SAML single sign-on" in html and "FEEDBACK_SCORING" in html
    monkeypatch.delenv("FEEDBACK_SCORING")
    assert client.get("/api/v1/roadmap/scores").status_code == 200
