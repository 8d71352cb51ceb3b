r"""Distributions built from others: torch ``Independent`` and ``TransformedDistribution``.

*Independent.* ``Independent(base, k)`` reinterprets the k rightmost batch axes of
``base`` as event axes: its density is the product of the base densities over those
axes, so KL (and entropy) is the sum of the base's over them (additivity over
independent coordinates, seed problem 2). For Normal bases this is
:func:`klmath.gaussian_kl_diag`; for any other base the pair's own closed form
(klmath's, or torch's) is summed. Both must reinterpret the same number of axes.

*TransformedDistribution.* If Y = T(X) for a bijection T (with a differentiable
inverse), p_Y(y) = p_X(T⁻¹y)|det J_{T⁻¹}(y)|, and the Jacobian factor is the same for
p and q, so KL(p_Y ‖ q_Y) = KL(p_X ‖ q_X): KL is invariant under a shared bijection.
klmath applies this only when both sides use equal transforms that are *all
bijective*. torch applies it to any equal transforms, which is wrong for folds: with
T(x) = |x| (``AbsTransform``, not injective), Normal(1, 1) and Normal(−1, 1) fold to
the same distribution (KL 0), but torch returns KL(N(1, 1) ‖ N(−1, 1)) = 2. klmath
declines those (Monte Carlo estimates them), while ``HalfNormal`` and ``HalfCauchy``,
folds of densities symmetric about 0, have their own formulas
(:mod:`klmath._formulas.gaussian`, :mod:`klmath._formulas.location_scale`).
"""

from __future__ import annotations

from typing import Any

from klmath._formulas.gaussian import _kl_diag
from klmath.registry import (
    ClosedForm,
    closed_form_entropy,
    closed_form_kl,
    register_entropy,
    register_kl,
)

__all__: list[str] = []


def _sum_rightmost(value: Any, k: int) -> Any:
    if k == 0:
        return value
    return value.reshape(*value.shape[: value.ndim - k], -1).sum(-1)


def _kl_independent(p: Any, q: Any) -> Any:
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        return NotImplemented
    diag = _kl_diag(p, q)
    if diag is not NotImplemented:
        return ClosedForm(diag, None, "klmath.gaussian_kl_diag")
    inner = closed_form_kl(p.base_dist, q.base_dist)
    if inner is None:
        return NotImplemented
    value, formula, reason = inner
    if not hasattr(value, "reshape"):
        return NotImplemented
    total = _sum_rightmost(_as_tensor(value), p.reinterpreted_batch_ndims)
    return ClosedForm(total, reason, f"sum over Independent axes of {formula}")


def _entropy_independent(p: Any) -> Any:
    inner = closed_form_entropy(p.base_dist)
    if inner is None:
        return NotImplemented
    value, formula, reason = inner
    total = _sum_rightmost(_as_tensor(value), p.reinterpreted_batch_ndims)
    return ClosedForm(total, reason, f"sum over Independent axes of {formula}")


def _as_tensor(value: Any) -> Any:
    import torch

    return value if isinstance(value, torch.Tensor) else torch.as_tensor(value)


def _kl_transformed(p: Any, q: Any) -> Any:
    if p.event_shape != q.event_shape or len(p.transforms) != len(q.transforms):
        return NotImplemented
    if any(not getattr(t, "bijective", False) for t in p.transforms):
        return NotImplemented
    if any(a != b for a, b in zip(p.transforms, q.transforms, strict=False)):
        return NotImplemented
    inner = closed_form_kl(p.base_dist, q.base_dist)
    if inner is None:
        return NotImplemented
    value, formula, reason = inner
    return ClosedForm(value, reason, f"{formula} on the base (KL is invariant under a bijection)")


_kl_independent._klmath_formula = "klmath Independent: sum of the base KL"  # type: ignore[attr-defined]


def _register() -> None:
    register_kl("torch.Independent", "torch.Independent")(_kl_independent)
    register_kl("torch.TransformedDistribution", "torch.TransformedDistribution")(_kl_transformed)
    register_entropy("torch.Independent")(_entropy_independent)


_register()
