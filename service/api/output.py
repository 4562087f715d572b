"""JSON out: never Infinity or NaN. They are not JSON, and a strict client rejects the whole answer because of one
overflowed figure (an ARR sum of huge values was `"arr": Infinity`); such a number is written as null."""
from __future__ import annotations

import math

from flask.json.provider import DefaultJSONProvider


def finite(value):
    """`value` with every non-finite float inside dicts, lists and tuples replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(item) for item in value]
    return value


class FiniteJSONProvider(DefaultJSONProvider):
    def dumps(self, obj, **kwargs) -> str:
        kwargs["allow_nan"] = False
        try:
            return super().dumps(obj, **kwargs)
        except ValueError as exc:  # the common case pays nothing: only an answer holding one is walked
            if "out of range float" not in str(exc).lower():
                raise
            return super().dumps(finite(obj), **kwargs)


def init_app(app) -> None:
    sort_keys = app.json.sort_keys
    app.json = FiniteJSONProvider(app)
    app.json.sort_keys = sort_keys
