r"""The lower-bound argmax lemma on finite tables (seed problem 6).

If :math:`f(\theta) = g(\theta, \phi) + h(\theta, \phi)` for every :math:`\phi`, with
:math:`h \ge 0` and :math:`\min_\phi h(\theta, \phi) = 0` attained for every
:math:`\theta`, then

.. math::

    \operatorname{argmax}_\theta f = \{\theta : (\theta, \phi) \in \operatorname{argmax} g\}.

This is why maximising the ELBO :math:`g` over encoder and decoder maximises the
log-likelihood :math:`f` when the encoder is expressive enough that the gap
:math:`h` (a KL divergence) can reach 0. :func:`check_argmax_lemma` checks the
hypotheses on finite tables, computes both sides, and says which hypothesis
fails when one does (then the two sets may differ: see the counterexample in
:mod:`klmath.proofs.lemma`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ArgmaxLemmaResult", "check_argmax_lemma"]


@dataclass(frozen=True)
class ArgmaxLemmaResult:
    """What :func:`check_argmax_lemma` found.

    Attributes
    ----------
    f : tuple of float, length n_theta
        f(θ) = g(θ, φ₀) + h(θ, φ₀) (the first column; equal to every column
        when ``decomposition`` holds).
    argmax_f : tuple of int
        {θ : f(θ) ≥ max f − atol}, increasing.
    argmax_g : tuple of (int, int)
        {(θ, φ) : g(θ, φ) ≥ max g − atol}, in row-major order.
    argmax_g_theta : tuple of int
        {θ : (θ, φ) ∈ argmax g for some φ}, increasing.
    nonnegative : bool
        h(θ, φ) ≥ −atol everywhere.
    min_zero : bool
        min_φ h(θ, φ) ≤ atol for every θ (on a finite table the minimum is attained).
    decomposition : bool
        g + h is constant in φ (within atol) for every θ, i.e. f is well defined.
    failures : tuple of str
        One message per failed hypothesis, naming the first offending entry.
    """

    f: tuple[float, ...]
    argmax_f: tuple[int, ...]
    argmax_g: tuple[tuple[int, int], ...]
    argmax_g_theta: tuple[int, ...]
    nonnegative: bool
    min_zero: bool
    decomposition: bool
    failures: tuple[str, ...]

    @property
    def hypotheses_hold(self) -> bool:
        """True when all three hypotheses of the lemma hold."""
        return self.nonnegative and self.min_zero and self.decomposition

    @property
    def conclusion_holds(self) -> bool:
        """True when argmax f equals {θ : (θ, φ) ∈ argmax g}."""
        return self.argmax_f == self.argmax_g_theta


def _table(name: str, value: object) -> np.ndarray:
    if isinstance(value, np.ndarray):
        array = value
    elif isinstance(value, (list, tuple)):
        try:
            array = np.asarray(value)
        except ValueError:
            raise ValueError(
                f"{name} must be a table of shape (n_theta, n_phi), got a ragged "
                f"{type(value).__name__} (rows of different lengths)"
            ) from None
    else:
        raise TypeError(
            f"{name} must be a NumPy array of shape (n_theta, n_phi), got {type(value).__name__}"
        )
    if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.number):
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
    if np.issubdtype(array.dtype, np.complexfloating):
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
    if array.dtype.kind == "f" and array.dtype.itemsize > 8:
        raise TypeError(
            f"{name} has dtype {array.dtype} (extended precision): pass "
            f"{name}.astype(np.float64), the precision the lemma is checked in"
        )
    if array.ndim != 2 or 0 in array.shape:
        raise ValueError(
            f"{name} must be a non-empty table of shape (n_theta, n_phi), got shape {array.shape}"
        )
    bad = np.argwhere(~np.isfinite(array))
    if bad.size:
        i, j = (int(v) for v in bad[0])
        raise ValueError(f"{name} must be finite, got {array[i, j]} at (θ, φ) = ({i}, {j})")
    return array.astype(np.float64, copy=False)


def check_argmax_lemma(g: np.ndarray, h: np.ndarray, *, atol: float = 0.0) -> ArgmaxLemmaResult:
    r"""Return both argmax sets of the lower-bound lemma and which hypothesis fails, if any.

    For finite Θ × Φ, with :math:`f(\theta) = g(\theta,\phi) + h(\theta,\phi)`:

    * hypotheses: :math:`h \ge 0`; :math:`\min_\phi h(\theta,\phi) = 0` for every
      :math:`\theta` (attained, as on any finite table); :math:`g + h` constant in
      :math:`\phi` for each :math:`\theta` (so :math:`f` is well defined);
    * conclusion: :math:`\operatorname{argmax} f =
      \{\theta : (\theta,\phi) \in \operatorname{argmax} g\}`.

    The conclusion is computed whether or not the hypotheses hold, so a failing
    hypothesis and a failing conclusion can be seen together.

    Parameters
    ----------
    g : numpy.ndarray, shape (n_theta, n_phi)
        The tractable lower bound, g[θ, φ]. Real and finite.
    h : numpy.ndarray, shape (n_theta, n_phi)
        The gap, h[θ, φ]. Real and finite, same shape as ``g``.
    atol : float, keyword-only
        Absolute tolerance for every comparison (default 0.0: exact). Use a few
        ulps of the table's magnitude when g + h was computed in floating point.

    Returns
    -------
    ArgmaxLemmaResult
        Both argmax sets, the three hypothesis flags and the failure messages.

    Raises
    ------
    TypeError
        If ``g`` or ``h`` is not a real numeric array, or ``atol`` is not a real number.
    ValueError
        If a table is not 2-D and non-empty, holds a NaN or infinity, the shapes
        differ, or ``atol`` is negative or not finite.

    Examples
    --------
    >>> import numpy as np
    >>> f = np.array([1.0, 3.0, 2.0])
    >>> h = np.array([[0.0, 1.0], [2.0, 0.0], [0.0, 0.0]])
    >>> r = check_argmax_lemma(f[:, None] - h, h)
    >>> r.argmax_f, r.argmax_g, r.argmax_g_theta, r.hypotheses_hold
    ((1,), ((1, 1),), (1,), True)
    >>> r = check_argmax_lemma(np.array([[0.0], [1.0]]), np.array([[2.0], [0.0]]))
    >>> r.failures
    ('min_φ h(θ, φ) = 0 fails at θ = 0: min h = 2.0',)
    >>> r.argmax_f, r.argmax_g_theta
    ((0,), (1,))
    """
    g_arr, h_arr = _table("g", g), _table("h", h)
    if g_arr.shape != h_arr.shape:
        raise ValueError(
            "g and h must have the same shape (n_theta, n_phi), "
            f"got {g_arr.shape} and {h_arr.shape}"
        )
    if isinstance(atol, bool) or not isinstance(atol, (int, float, np.floating, np.integer)):
        raise TypeError(f"atol must be a real number, got {type(atol).__name__}")
    if not (np.isfinite(atol) and atol >= 0):
        raise ValueError(f"atol must be finite and non-negative, got {atol}")
    tol = float(atol)

    failures: list[str] = []
    negative = np.argwhere(h_arr < -tol)
    if negative.size:
        i, j = (int(v) for v in negative[0])
        failures.append(f"h ≥ 0 fails at (θ, φ) = ({i}, {j}): h = {h_arr[i, j]}")
    row_min = h_arr.min(axis=1)
    positive = np.flatnonzero(row_min > tol)
    if positive.size:
        i = int(positive[0])
        failures.append(f"min_φ h(θ, φ) = 0 fails at θ = {i}: min h = {row_min[i]}")
    total = g_arr + h_arr
    spread = total.max(axis=1) - total.min(axis=1)
    uneven = np.flatnonzero(spread > tol)
    if uneven.size:
        i = int(uneven[0])
        failures.append(
            f"g + h constant in φ fails at θ = {i}: g + h ranges over [{total[i].min()}, "
            f"{total[i].max()}], so f(θ) is not well defined"
        )

    f = total[:, 0]
    argmax_f = tuple(int(i) for i in np.flatnonzero(f >= f.max() - tol))
    pairs = np.argwhere(g_arr >= g_arr.max() - tol)
    argmax_g = tuple((int(i), int(j)) for i, j in pairs)
    argmax_g_theta = tuple(sorted({i for i, _ in argmax_g}))
    return ArgmaxLemmaResult(
        f=tuple(float(v) for v in f),
        argmax_f=argmax_f,
        argmax_g=argmax_g,
        argmax_g_theta=argmax_g_theta,
        nonnegative=not negative.size,
        min_zero=not positive.size,
        decomposition=not uneven.size,
        failures=tuple(failures),
    )
