r"""KL divergence and entropy of probability vectors (NumPy or torch, any axis).

For probability vectors p and q over the same K outcomes,

.. math:: \mathrm{KL}(p \,\|\, q) = \sum_k p_k \log\frac{p_k}{q_k}, \qquad
          H(p) = -\sum_k p_k \log p_k,

with the conventions of ``scipy.special.rel_entr`` and ``scipy.special.entr``:
0 · log(0/q) = 0 for any q ≥ 0, and p · log(p/0) = ∞ for p > 0.

:func:`discrete_kl` sums the generalised terms pₖ log(pₖ/qₖ) − pₖ + qₖ
(``scipy.special.kl_div``), which add up to the same KL because Σ(qₖ − pₖ) = 0 but
are each ≥ 0 and each 0 where pₖ = qₖ, so the sum is never negative, exactly 0 for
p = q and accurate relative to itself when p ≈ q (where Σ pₖ log(pₖ/qₖ) adds positive
and negative terms of size |pₖ − qₖ| to a result of size Σ (pₖ − qₖ)²/pₖ and cancels
to rounding noise). Each term is evaluated from t = log(pₖ/qₖ) as qₖ φ(t),
φ(t) = t eᵗ − eᵗ + 1, by its Taylor series where |t| < 1/4.
"""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Any

import numpy as np

from klmath._backend import as_tensors, from_torch, is_tensor

if TYPE_CHECKING:
    import torch

__all__ = ["discrete_entropy", "discrete_kl"]


def discrete_kl(p: Any, q: Any, *, axis: int = -1) -> Any:
    """Return KL(p ‖ q) = Σₖ pₖ log(pₖ/qₖ) for probability vectors along ``axis``.

    Parameters
    ----------
    p, q : array-like or tensor
        Probability vectors along ``axis`` (entries ≥ 0 summing to 1, up to
        √ε + K·ε for K entries). p and q broadcast against each other first, as in
        NumPy; both NumPy (lists and tuples are converted) or both torch.
    axis : int
        The axis of the broadcast shape that indexes the outcomes (default: the last).

    Returns
    -------
    array or tensor
        KL over the broadcast batch shape (``axis`` removed): ``inf`` where some
        qₖ = 0 < pₖ. NumPy (float64) for NumPy input, a tensor (differentiable) for torch.

    Raises
    ------
    TypeError
        Mixed NumPy and torch, or a non-numeric input (naming the argument).
    ValueError
        A bad ``axis``, shapes that do not broadcast or whose ``axis`` lengths differ,
        an entry that is negative, NaN or infinite, or a vector that does not sum to 1
        (naming the argument and the first bad index).

    Examples
    --------
    >>> import numpy as np
    >>> round(float(discrete_kl([0.5, 0.5], [0.9, 0.1])), 6)
    0.510826
    >>> float(discrete_kl([1.0, 0.0], [0.5, 0.5])), float(discrete_kl([0.5, 0.5], [1.0, 0.0]))
    (0.6931471805599453, inf)
    >>> discrete_kl(np.eye(3), np.full(3, 1 / 3), axis=0)  # one KL per column
    array([1.09861229, 1.09861229, 1.09861229])
    """
    from klmath._formulas._careful import rel_entr_term

    kind, pt, qt, ax = _prepare(axis, p=p, q=q)
    return from_torch(rel_entr_term(pt, qt).sum(ax), kind)


def discrete_entropy(p: Any, *, axis: int = -1) -> Any:
    """Return the Shannon entropy H(p) = −Σₖ pₖ log pₖ of probability vectors along ``axis``.

    Parameters
    ----------
    p : array-like or tensor
        Probability vectors along ``axis`` (as in :func:`discrete_kl`).
    axis : int
        The axis that indexes the outcomes (default: the last).

    Returns
    -------
    array or tensor
        H(p) ≥ 0 over the batch shape, with 0 log 0 = 0; exactly 0 for a point mass.

    Raises
    ------
    TypeError, ValueError
        As in :func:`discrete_kl`.

    Examples
    --------
    >>> float(discrete_entropy([0.25, 0.25, 0.25, 0.25])) == math.log(4)
    True
    >>> float(discrete_entropy([1.0, 0.0]))
    0.0
    """
    import torch

    kind, pt, ax = _prepare(axis, p=p)
    return from_torch(torch.special.entr(pt).sum(ax), kind)


def _prepare(axis: Any, **arrays: Any) -> tuple[Any, ...]:
    """(kind, tensors broadcast to one shape..., axis as a non-negative int), all checked.

    The arrays broadcast first, as NumPy and ``scipy.stats.entropy`` do; ``axis``
    indexes the broadcast shape, and each argument must be a probability vector along it.
    """
    import torch

    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"axis must be an int, got {type(axis).__name__} {axis!r}")
    converted = {name: _array(name, x) for name, x in arrays.items()}
    kind, tensors = as_tensors(**converted)
    ndim = max(t.ndim for t in tensors)
    if ndim == 0:
        raise ValueError(
            "p must be a probability vector (at least one axis), got a 0-d "
            f"{'tensor' if kind == 'torch' else 'array'}"
        )
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of range for {ndim}-d input")
    ax = int(axis) % ndim
    padded = [t.reshape((1,) * (ndim - t.ndim) + tuple(t.shape)) for t in tensors]
    lengths = {name: t.shape[ax] for name, t in zip(converted, padded, strict=True)}
    if len(set(lengths.values()) - {1}) > 1:  # a length of 1 broadcasts
        shown = ", ".join(
            f"{name} has {n} (shape {tuple(t.shape)})"
            for (name, n), t in zip(lengths.items(), tensors, strict=True)
        )
        raise ValueError(f"p and q must have the same length along axis {axis}: {shown}")
    try:
        shape = torch.broadcast_shapes(*(t.shape for t in padded))
    except RuntimeError:
        shapes = ", ".join(
            f"{name} {tuple(t.shape)}" for name, t in zip(converted, tensors, strict=True)
        )
        raise ValueError(f"the arguments must broadcast against each other, got {shapes}") from None
    out = []
    for name, t in zip(converted, padded, strict=True):
        t = t.expand(shape)
        _check_probabilities(name, t, ax)
        out.append(t)
    return (kind, *out, ax)


def _array(name: str, x: Any) -> Any:
    if is_tensor(x) or isinstance(x, (np.ndarray, numbers.Real)):
        return x
    if isinstance(x, (list, tuple)):
        try:
            arr = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise TypeError(
                f"{name} must be a probability vector (array, tensor or list of numbers): {err}"
            ) from None
        return arr
    raise TypeError(
        f"{name} must be a NumPy array, a torch tensor or a list of numbers, got {type(x).__name__}"
    )


def _check_probabilities(name: str, t: torch.Tensor, ax: int) -> None:
    import torch

    from klmath._validation import first_index

    x = t.detach()
    bad = ~(torch.isfinite(x) & (x >= 0))
    if bool(bad.any()):
        idx = first_index(bad)
        raise ValueError(
            f"{name} must have finite entries >= 0, got {float(x[idx])!r} at index {idx}"
        )
    total = x.sum(ax, dtype=torch.float64)
    k = x.shape[ax]
    eps = torch.finfo(x.dtype).eps
    tol = math.sqrt(eps) + k * eps
    off = (total - 1).abs() > tol
    if bool(off.any()):
        idx = first_index(off) if off.ndim else ()
        where = f" at batch index {idx}" if off.ndim else ""
        got = float(total[idx]) if off.ndim else float(total)
        raise ValueError(
            f"{name} must sum to 1 along axis {ax - x.ndim} (it is a probability vector), "
            f"got a sum of {got!r}{where}"
        )
