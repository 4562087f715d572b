"""Transparent prioritisation scores: every score comes with its inputs and a one-line reason.

Pure functions: demand (who asked for what) is passed in, so this module never reads the database.

    rice:  score = reach^wr x impact^wi x confidence^wc / effort^we   (all weights 1 by default)
    given: the score the roadmap tool exported; items without one fall back to RICE (and say so).

Reach is the item's own reach when the export has one, else the distinct accounts behind its linked
notes and themes. Settings: FEEDBACK_SCORING=rice|given, FEEDBACK_SCORING_WEIGHTS='{"reach": 0.5}'.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from typing import Any, Mapping

METHODS = ("rice", "given")
FACTORS = ("reach", "impact", "confidence", "effort")
COMPARE_WITH = (("in_progress", "in development"), ("planned", "planned"))


@dataclass(frozen=True)
class Settings:
    method: str = "rice"
    weights: dict = field(default_factory=lambda: dict.fromkeys(FACTORS, 1.0))
    effort_unit: str = "months"


def settings_from(config=None) -> Settings:
    """Read the method and weights from the app config (SCORING, SCORING_WEIGHTS) or the environment."""
    def setting(name):
        value = getattr(config, name, None) if config is not None else None
        return value if value not in (None, "") else os.environ.get(f"FEEDBACK_{name}") or None

    method = (setting("SCORING") or "rice").strip().lower()
    if method not in METHODS:
        raise ValueError(f"FEEDBACK_SCORING must be one of {', '.join(METHODS)}, not {method!r}")
    weights = setting("SCORING_WEIGHTS") or {}
    if isinstance(weights, str):
        try:
            weights = json.loads(weights)
        except json.JSONDecodeError as exc:
            raise ValueError(f"FEEDBACK_SCORING_WEIGHTS is not JSON: {exc.msg}") from None
    unknown = set(weights) - set(FACTORS) if isinstance(weights, dict) else {"(not an object)"}
    if unknown:
        raise ValueError(f"FEEDBACK_SCORING_WEIGHTS takes numbers for {', '.join(FACTORS)}; "
                         f"not {', '.join(sorted(map(str, unknown)))}")
    for name, value in weights.items():  # an exponent below 0 turns a factor upside down (more reach, less score)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ValueError(f"FEEDBACK_SCORING_WEIGHTS: the weight for {name} must be a number from 0 up, "
                             f"not {value!r}")
    unit = setting("SCORING_EFFORT_UNIT") or "months"
    return Settings(method, {**dict.fromkeys(FACTORS, 1.0), **{k: float(v) for k, v in weights.items()}}, unit)


def score_items(items, demand: Mapping[str, Mapping] | None = None, settings: Settings | None = None) -> list[dict]:
    """Score every item, then word each reason against the in-development and planned items' range."""
    settings = settings or Settings()
    demand = demand or {}
    scored = [score_item(item, demand.get(_get(item, "id")), settings) for item in items]
    for result in scored:
        result["reason"] = _reason(result, scored, settings)
    return scored


def score_item(item, demand: Mapping | None = None, settings: Settings | None = None) -> dict:
    """{"item_id", "status", "score", "method", "inputs"} for one item (reason added by score_items)."""
    settings = settings or Settings()
    given = _num(_get(item, "score"))
    inputs = _rice_inputs(item, demand or {})
    missing = [f for f in FACTORS if inputs[f] is None]
    if given is not None and (settings.method == "given" or missing):
        method, score = "given", given
    elif missing:
        method, score = "rice", None
    else:
        method, score = "rice", _rice(inputs, settings.weights)
        if score is None:
            inputs["overflow"] = True
    inputs["weights"] = dict(settings.weights)
    inputs["given_score"] = given
    out = {"item_id": _get(item, "id"), "title": _get(item, "title"), "status": _get(item, "status"),
           "score": None if score is None else round(score, 4), "method": method, "inputs": inputs}
    if settings.method == "given" and method == "rice":
        out["fallback"] = "no score was given, so RICE is used"
    return out


def _rice_inputs(item, demand: Mapping) -> dict:
    reach = _num(_get(item, "reach"))
    source = "given"
    if reach is None:
        reach, source = float(demand.get("accounts") or 0), "accounts"
    return {"reach": reach, "reach_source": source, "impact": _num(_get(item, "impact")),
            "confidence": _num(_get(item, "confidence")), "effort": _num(_get(item, "effort")),
            "mentions": int(demand.get("mentions") or 0), "arr": demand.get("arr")}


def _rice(inputs: dict, weights: dict) -> float | None:
    """The weighted RICE product, or None when it is too large (or small) for a float: never inf or NaN, which
    are not JSON and would rank above every real score."""
    w = weights
    try:
        score = (inputs["reach"] ** w["reach"] * inputs["impact"] ** w["impact"]
                 * inputs["confidence"] ** w["confidence"] / inputs["effort"] ** w["effort"])
    except (OverflowError, ZeroDivisionError):
        return None
    return score if math.isfinite(score) else None


def _reason(result: dict, everyone: list[dict], settings: Settings) -> str:
    inputs = result["inputs"]
    if result["score"] is None:
        if inputs.get("overflow"):
            return "not scored: reach x impact x confidence / effort is too large to compute"
        missing = [f for f in FACTORS if inputs[f] is None]
        return f"not scored: no {', '.join(missing)} (and no given score)"
    if result["method"] == "given":
        head = f"scores {fmt(result['score'])} (given by the roadmap tool)"
    else:
        w = settings.weights
        unit = {"given": "", "accounts": " account" if inputs["reach"] == 1 else " accounts"}[inputs["reach_source"]]
        words = {"reach": f"reach {fmt(inputs['reach'])}{unit}", "impact": f"impact {fmt(inputs['impact'])}",
                 "confidence": f"confidence {fmt(inputs['confidence'])}",
                 "effort": f"effort {fmt(inputs['effort'])} {_unit(settings.effort_unit, inputs['effort'])}"}
        words = {k: v + (f"^{fmt(w[k])}" if w[k] != 1 else "") for k, v in words.items()}
        head = (f"scores {fmt(result['score'])} ({words['reach']} x {words['impact']} x {words['confidence']}"
                f" / {words['effort']})")
    comparison = _comparison(result, everyone)
    return f"{head}, against {comparison}" if comparison else head


def _unit(unit: str, amount: float) -> str:
    """'1 month', not '1 months' (the default unit and any other plural that ends in 's')."""
    return unit[:-1] if amount == 1 and unit.endswith("s") and len(unit) > 1 else unit


def _comparison(result: dict, everyone: list[dict]) -> str:
    """'40 to 85 for the items in development and 3 for the one planned item' (the item itself left out)."""
    parts = []
    for status, words in COMPARE_WITH:
        scores = [r["score"] for r in everyone
                  if r["status"] == status and r["score"] is not None and r["item_id"] != result["item_id"]]
        if not scores:
            continue
        lo, hi = min(scores), max(scores)
        span = fmt(lo) if fmt(lo) == fmt(hi) else f"{fmt(lo)} to {fmt(hi)}"
        if len(scores) == 1:
            who = "the one item in development" if status == "in_progress" else "the one planned item"
        else:
            who = "the items in development" if status == "in_progress" else "the planned items"
        parts.append(f"{span} for {who}")
    return " and ".join(parts)


def fmt(x: float) -> str:
    """12.0 -> '12', 0.5 -> '0.5', 0.005 -> '0.005', 1234.5 -> '1,234', 1e300 -> '1e+300': readable in one line of
    text."""
    if abs(x) >= 1e15 or 0 < abs(x) < 1e-4:  # beyond these, digits say less than an exponent
        return f"{x:.3g}"
    if abs(x) < 1:  # significant digits: two decimals showed a confidence of 0.005 as 0.01 and a score of 0.002 as 0
        return f"{x:.3g}"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if float(x).is_integer():
        return str(int(x))
    return f"{x:.2f}".rstrip("0").rstrip(".")


def _num(value) -> float | None:
    return None if value is None else float(value)


def _get(item: Any, key: str):
    return item.get(key) if isinstance(item, Mapping) else getattr(item, key, None)
