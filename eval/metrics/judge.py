"""Agreement between an LLM judge and human ratings on a 1-5 scale."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

LIKERT = (1, 2, 3, 4, 5)


def cohen_kappa(a: Sequence[Any], b: Sequence[Any], weights: str | None = None,
                labels: Sequence[Any] = LIKERT) -> float:
    """Cohen's kappa between two raters: ``1 - sum(W*O) / sum(W*E)``.

    ``O`` is the observed joint distribution, ``E`` the product of the marginals, and ``W`` the
    disagreement weights over the ordered ``labels``: 0/1 for ``weights=None``, ``|i-j|`` for
    ``"linear"``, ``(i-j)**2`` for ``"quadratic"`` (matches ``sklearn.metrics.cohen_kappa_score``).
    Ratings outside ``labels`` raise ``ValueError``.  In the degenerate case where both raters
    use one and the same label throughout (expected disagreement 0), returns 1.0 instead of NaN.
    """
    if weights not in (None, "linear", "quadratic"):
        raise ValueError(f"weights must be None, 'linear' or 'quadratic', not {weights!r}")
    if len(a) != len(b):
        raise ValueError(f"length mismatch: {len(a)} vs {len(b)} ratings")
    if not len(a):
        raise ValueError("no ratings")
    index = {lab: i for i, lab in enumerate(labels)}
    k = len(index)
    observed = np.zeros((k, k))
    for x, y in zip(a, b):
        if x not in index or y not in index:
            raise ValueError(f"rating outside {tuple(labels)}: {x!r} / {y!r}")
        observed[index[x], index[y]] += 1
    observed /= observed.sum()
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0))
    diff = np.abs(np.subtract.outer(np.arange(k), np.arange(k))).astype(float)
    w = {None: (diff > 0).astype(float), "linear": diff, "quadratic": diff**2}[weights]
    denom = float((w * expected).sum())
    if denom == 0.0:
        return 1.0
    return float(1.0 - (w * observed).sum() / denom)
