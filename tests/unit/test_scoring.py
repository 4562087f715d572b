"""Scores: RICE with reach from demand, given scores, weights, missing inputs, and the one-line reason."""
from __future__ import annotations

import pytest

from service.roadmap.scoring import Settings, fmt, score_items, settings_from

BUILDING = [
    {"id": "D1", "status": "in_progress", "reach": 40, "impact": 1, "confidence": 1, "effort": 1},
    {"id": "D2", "status": "in_progress", "reach": 170, "impact": 1, "confidence": 0.5, "effort": 1},
    {"id": "P1", "status": "planned", "score": 9},
]


def _by_id(results):
    return {r["item_id"]: r for r in results}


def test_rice_uses_demand_for_reach_and_explains_itself():
    item = {"id": "X", "status": "considering", "impact": 1, "confidence": 0.5, "effort": 3}
    result = _by_id(score_items([item] + BUILDING, {"X": {"accounts": 72, "mentions": 90, "arr": 1e6}}))["X"]
    assert result["score"] == 12 and result["method"] == "rice"
    assert result["inputs"]["reach"] == 72 and result["inputs"]["reach_source"] == "accounts"
    assert result["inputs"]["mentions"] == 90 and result["inputs"]["arr"] == 1e6
    assert result["reason"] == ("scores 12 (reach 72 accounts x impact 1 x confidence 0.5 / effort 3 months), "
                                "against 40 to 85 for the items in development and 9 for the one planned item")


def test_given_reach_wins_over_demand_and_an_item_is_not_compared_with_itself():
    results = _by_id(score_items(BUILDING, {"D1": {"accounts": 3}}))
    assert results["D1"]["inputs"]["reach_source"] == "given" and results["D1"]["score"] == 40
    assert "against 85 for the one item in development" in results["D1"]["reason"]
    assert results["P1"]["method"] == "given" and results["P1"]["score"] == 9  # no RICE inputs: falls back


def test_given_method_prefers_the_exported_score():
    items = [{"id": "A", "status": "planned", "score": 7, "reach": 10, "impact": 1, "confidence": 1, "effort": 1},
             {"id": "B", "status": "planned", "reach": 10, "impact": 2, "confidence": 1, "effort": 1}]
    rice, given = _by_id(score_items(items)), _by_id(score_items(items, settings=Settings(method="given")))
    assert rice["A"]["score"] == 10 and given["A"]["score"] == 7
    assert given["A"]["reason"].startswith("scores 7 (given by the roadmap tool)")
    assert given["B"]["method"] == "rice" and given["B"]["fallback"]


def test_weights_are_exponents_and_show_in_the_reason():
    settings = Settings(weights={"reach": 0.5, "impact": 1, "confidence": 1, "effort": 2})
    result = score_items([{"id": "A", "status": "planned", "reach": 100, "impact": 2, "confidence": 1, "effort": 2}],
                         settings=settings)[0]
    assert result["score"] == pytest.approx(100 ** 0.5 * 2 / 4)
    assert "reach 100^0.5" in result["reason"] and "effort 2 months^2" in result["reason"]
    assert result["inputs"]["weights"]["effort"] == 2


def test_missing_inputs_give_no_score_and_say_which():
    result = score_items([{"id": "A", "status": "planned", "impact": 1}], {"A": {"accounts": 4}})[0]
    assert result["score"] is None
    assert result["reason"] == "not scored: no confidence, effort (and no given score)"


def test_settings_from_config_and_environment(monkeypatch):
    class Cfg:
        SCORING = "given"
        SCORING_WEIGHTS = '{"reach": 0.5}'

    s = settings_from(Cfg())
    assert s.method == "given" and s.weights == {"reach": 0.5, "impact": 1.0, "confidence": 1.0, "effort": 1.0}
    monkeypatch.setenv("FEEDBACK_SCORING", "RICE")
    assert settings_from(None).method == "rice"
    monkeypatch.setenv("FEEDBACK_SCORING", "magic")
    with pytest.raises(ValueError, match="rice, given"):
        settings_from(None)
    monkeypatch.delenv("FEEDBACK_SCORING")
    monkeypatch.setenv("FEEDBACK_SCORING_WEIGHTS", '{"speed": 2}')
    with pytest.raises(ValueError, match="SCORING_WEIGHTS"):
        settings_from(None)


@pytest.mark.parametrize("value,text", [(12.0, "12"), (0.5, "0.5"), (1.3333, "1.33"), (1234.5, "1,234"), (85, "85")])
def test_number_format(value, text):
    assert fmt(value) == text
