r"""The 1-D normalizing flow of seed problem 2: map, derivative, log-density, inverse, mass.

The flow with parameters :math:`\theta = (w, \mu, \tau) \in \mathbb{R}^{3n}` is

.. math::

    f_\theta(x) = \sum_{i=1}^{n} e^{w_i}\,\bigl(\Phi(u_i) - \tfrac12\bigr)
        \;[\,+\; e^{a} x\,], \qquad u_i = (x - \mu_i)\, e^{-\tau_i},

with :math:`\Phi` the standard normal CDF. With base density :math:`p_Z = N(0, 1)`,

.. math::

    \log p_\theta(x) = \log \varphi\bigl(f_\theta(x)\bigr) + \log f_\theta'(x).

*Seed model* (``a=None``, the default): :math:`f_\theta` maps ℝ onto the bounded interval
:math:`(-S/2, S/2)`, :math:`S = \sum_i e^{w_i}`, so :math:`p_\theta` is a sub-probability
density of total mass :math:`2\Phi(S/2) - 1`; the missing mass :math:`2\Phi(-S/2)` is the
probability that a base draw :math:`Z` has no preimage.

*Fixed model* (``a`` given, a scalar log-slope): the linear tail term :math:`e^{a}x` makes
:math:`f_\theta` a bijection of ℝ (:math:`f_\theta' \ge e^a > 0` and
:math:`f_\theta(x) \to \pm\infty`), so :math:`p_\theta` integrates to exactly 1.

Arguments: ``x`` any shape ``(...)``; ``w``, ``mu``, ``tau`` shape ``(n,)``; ``a`` a scalar
(0-d). Torch tensors in give torch tensors out (differentiable, on the inputs' device, in
their promoted floating dtype); NumPy arrays or Python floats in (and no tensor) give NumPy
out, computed in float64. Bad input raises ``TypeError``/``ValueError`` naming the argument.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal, NamedTuple

import numpy as np
import torch

__all__ = [
    "Flow1dInverse",
    "flow1d_derivative",
    "flow1d_inverse",
    "flow1d_log_derivative",
    "flow1d_log_prob",
    "flow1d_mass",
    "flow1d_missing_mass",
    "flow1d_transform",
]

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_SQRT2 = math.sqrt(2.0)
# Half-width of the seed inverse's first bracket, in units of the widest σ_i (see _solve).
_BRACKET_U = 10.0


# ---------------------------------------------------------------------------------------
# Input checks and NumPy/torch conversion (one place)
# ---------------------------------------------------------------------------------------


def _first_index(mask: torch.Tensor) -> tuple[int, ...]:
    return tuple(int(i) for i in torch.nonzero(mask)[0].tolist())


def _check_no_nan(name: str, t: torch.Tensor) -> None:
    nan = torch.isnan(t)
    if bool(nan.any()):
        raise ValueError(f"{name} contains NaN at index {_first_index(nan)}")


def _check_finite(name: str, t: torch.Tensor) -> None:
    _check_no_nan(name, t)
    bad = ~torch.isfinite(t)
    if bool(bad.any()):
        idx = _first_index(bad)
        raise ValueError(f"{name} must be finite; got {t[idx].item()} at index {idx}")


def _prepare(
    args: dict[str, Any],
) -> tuple[dict[str, torch.Tensor | None], bool]:
    """Convert the named arguments to tensors of one floating dtype and device.

    Returns the tensors (``None`` stays ``None``) and whether the caller gave no tensor
    at all (then results go back as NumPy).
    """
    tensors = {k: v for k, v in args.items() if isinstance(v, torch.Tensor)}
    for name, t in tensors.items():
        if not (t.is_floating_point()):
            raise TypeError(f"{name} must have a floating dtype; got {t.dtype}")
    numpy_out = not tensors
    if numpy_out:
        dtype, device = torch.float64, torch.device("cpu")
    else:
        dtype = next(iter(tensors.values())).dtype
        for t in tensors.values():
            dtype = torch.promote_types(dtype, t.dtype)
        devices = {name: t.device for name, t in tensors.items()}
        device = next(iter(devices.values()))
        if any(d != device for d in devices.values()):
            got = ", ".join(f"{k} on {d}" for k, d in devices.items())
            raise ValueError(f"all tensor arguments must be on one device; got {got}")
    out: dict[str, torch.Tensor | None] = {}
    for name, v in args.items():
        if v is None:
            out[name] = None
            continue
        if isinstance(v, torch.Tensor):
            out[name] = v.to(dtype)
            continue
        try:
            arr = np.asarray(v)
        except ValueError:
            raise ValueError(
                f"{name} must be a real number or array; got a ragged {type(v).__name__}"
            ) from None
        if arr.dtype.kind not in "fiu":
            raise TypeError(f"{name} must be a real number or array; got dtype {arr.dtype}")
        if arr.dtype.kind == "f" and arr.dtype.itemsize > 8:
            raise TypeError(
                f"{name} has dtype {arr.dtype} (extended precision): pass "
                f"{name}.astype(np.float64), the precision flow1d computes in"
            )
        out[name] = torch.as_tensor(arr.astype(np.float64), dtype=dtype, device=device)
    return out, numpy_out


def _given(t: dict[str, torch.Tensor | None], name: str) -> torch.Tensor:
    v = t[name]
    if v is None:
        raise TypeError(f"{name} is required; got None")
    return v


def _check_params(
    w: torch.Tensor, mu: torch.Tensor, tau: torch.Tensor, a: torch.Tensor | None
) -> None:
    if w.ndim != 1 or w.shape[0] == 0:
        raise ValueError(f"w must have shape (n,) with n >= 1; got shape {tuple(w.shape)}")
    if mu.shape != w.shape or tau.shape != w.shape:
        raise ValueError(
            "w, mu and tau must have the same shape (n,); got "
            f"w {tuple(w.shape)}, mu {tuple(mu.shape)}, tau {tuple(tau.shape)}"
        )
    if a is not None and a.ndim != 0:
        raise ValueError(f"a must be a scalar (0-d); got shape {tuple(a.shape)}")
    # One reduction and one host sync for all parameters (this runs at every training
    # step); the per-argument diagnosis only when something is wrong.
    every = torch.cat([w, mu, tau] if a is None else [w, mu, tau, a.reshape(1)]).detach()
    if not bool(torch.isfinite(every).all()):
        for name, t in (("w", w), ("mu", mu), ("tau", tau), ("a", a)):
            if t is not None:
                _check_finite(name, t)


def _params(
    xname: str, x: Any, w: Any, mu: Any, tau: Any, a: Any
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None, bool]:
    t, numpy_out = _prepare({xname: x, "w": w, "mu": mu, "tau": tau, "a": a})
    xt, wt, mut, taut = (_given(t, k) for k in (xname, "w", "mu", "tau"))
    _check_params(wt, mut, taut, t["a"])
    _check_no_nan(xname, xt)
    return xt, wt, mut, taut, t["a"], numpy_out


def _out(t: torch.Tensor, numpy_out: bool) -> Any:
    return t.detach().cpu().numpy() if numpy_out else t


# ---------------------------------------------------------------------------------------
# Formulas, each written once (torch in, torch out, inputs already checked)
# ---------------------------------------------------------------------------------------


def _u(x: torch.Tensor, mu: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
    # (..., n): the standardized distance of x to every component. At x = μᵢ it is 0
    # even when e^{−τᵢ} overflows (τᵢ < −709.8 in float64), where 0 · ∞ would be NaN.
    diff = x.unsqueeze(-1) - mu
    return torch.where(diff == 0, torch.zeros_like(diff), diff * torch.exp(-tau))


def _transform_u(
    u: torch.Tensor, x: torch.Tensor, w: torch.Tensor, a: torch.Tensor | None
) -> torch.Tensor:
    # Φ(u) − ½ = ½ erf(u/√2): no cancellation near u = 0, where Φ(u) − ½ would lose bits.
    # A term with u = 0 is 0 even when e^{wᵢ} overflows (wᵢ > 709.8), not ∞ · 0 = NaN.
    half = 0.5 * torch.erf(u / _SQRT2)
    f = torch.where(half == 0, torch.zeros_like(half), torch.exp(w) * half).sum(-1)
    return f if a is None else f + torch.exp(a) * x


def _log_derivative_u(
    u: torch.Tensor, w: torch.Tensor, tau: torch.Tensor, a: torch.Tensor | None
) -> torch.Tensor:
    # log[e^{w_i} φ(u_i) / σ_i], summed in log space: no underflow when x is far out.
    terms = w - tau - 0.5 * u * u - _LOG_SQRT_2PI
    if a is not None:
        terms = torch.cat([terms, a.expand(*terms.shape[:-1], 1)], dim=-1)
    return torch.logsumexp(terms, dim=-1)


def _transform(
    x: torch.Tensor, w: torch.Tensor, mu: torch.Tensor, tau: torch.Tensor, a: torch.Tensor | None
) -> torch.Tensor:
    return _transform_u(_u(x, mu, tau), x, w, a)


def _log_derivative(
    x: torch.Tensor, w: torch.Tensor, mu: torch.Tensor, tau: torch.Tensor, a: torch.Tensor | None
) -> torch.Tensor:
    return _log_derivative_u(_u(x, mu, tau), w, tau, a)


def _half_total(w: torch.Tensor) -> torch.Tensor:
    return 0.5 * torch.exp(w).sum()


# ---------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------


def flow1d_transform(x: Any, w: Any, mu: Any, tau: Any, *, a: Any = None) -> Any:
    r"""Return :math:`f_\theta(x) = \sum_i e^{w_i}(\Phi((x-\mu_i)e^{-\tau_i}) - \frac12)\,[+e^a x]`.

    Parameters
    ----------
    x : tensor or array, shape ``(...)``
        Points at which to evaluate the flow; ``±inf`` allowed (giving ``±S/2`` for the
        seed model).
    w, mu, tau : tensor or array, shape ``(n,)``
        Log-weights, means and log-scales of the n Gaussian CDFs.
    a : scalar tensor or float, optional
        Log-slope of the linear tail term of the bijective variant; ``None`` (default) is
        the seed model.

    Returns
    -------
    tensor or array, shape ``(...)``
        ``f(x)``; differentiable in every argument when torch tensors come in.

    Raises
    ------
    TypeError
        An argument has a non-floating dtype.
    ValueError
        ``w``, ``mu``, ``tau`` differ in shape or are not 1-D; a parameter is NaN or
        infinite; ``x`` contains NaN; tensors on different devices.

    Notes
    -----
    :math:`\Phi(u) - \frac12` is evaluated as :math:`\frac12\operatorname{erf}(u/\sqrt2)`,
    which keeps full relative accuracy near :math:`u = 0` where the subtraction would cancel.

    Examples
    --------
    >>> import torch
    >>> w, mu, tau = torch.zeros(2), torch.tensor([-1.0, 1.0]), torch.zeros(2)
    >>> flow1d_transform(torch.tensor([0.0]), w, mu, tau)
    tensor([0.])
    >>> float(flow1d_transform(torch.tensor(float("inf")), w, mu, tau))  # S/2 = 1
    1.0
    """
    xt, wt, mut, taut, at, numpy_out = _params("x", x, w, mu, tau, a)
    return _out(_transform(xt, wt, mut, taut, at), numpy_out)


def flow1d_log_derivative(x: Any, w: Any, mu: Any, tau: Any, *, a: Any = None) -> Any:
    r"""Return :math:`\log f_\theta'(x) = \operatorname{logsumexp}_i\bigl(w_i - \tau_i + \log\varphi(u_i)\bigr)`.

    With ``a`` given the term :math:`a` (the log of the tail slope :math:`e^a`) joins the
    logsumexp. Shapes, dtypes and errors as in :func:`flow1d_transform`.

    Notes
    -----
    Summing in log space keeps :math:`\log f'` finite and accurate far in the tails,
    where every :math:`\varphi(u_i)` underflows and the direct sum would give ``log(0)``.

    Examples
    --------
    >>> import torch
    >>> x = torch.tensor([0.0])
    >>> one = torch.zeros(1)
    >>> bool(torch.isclose(flow1d_log_derivative(x, one, one - 1, one), torch.tensor(-1.4189385332046727)))
    True
    """  # noqa: E501
    xt, wt, mut, taut, at, numpy_out = _params("x", x, w, mu, tau, a)
    return _out(_log_derivative(xt, wt, mut, taut, at), numpy_out)


def flow1d_derivative(x: Any, w: Any, mu: Any, tau: Any, *, a: Any = None) -> Any:
    r"""Return :math:`f_\theta'(x) = \sum_i e^{w_i-\tau_i}\varphi(u_i)\;[+e^a] > 0`.

    Computed as ``exp(flow1d_log_derivative(...))``. Shapes, dtypes and errors as in
    :func:`flow1d_transform`.

    Examples
    --------
    >>> import torch
    >>> d = flow1d_derivative(torch.tensor([0.0]), torch.zeros(1), torch.zeros(1), torch.zeros(1))
    >>> bool(torch.isclose(d, torch.tensor([0.3989422804014327])))
    True
    """
    xt, wt, mut, taut, at, numpy_out = _params("x", x, w, mu, tau, a)
    return _out(torch.exp(_log_derivative(xt, wt, mut, taut, at)), numpy_out)


def flow1d_log_prob(x: Any, w: Any, mu: Any, tau: Any, *, a: Any = None) -> Any:
    r"""Return :math:`\log p_\theta(x) = \log\varphi(f_\theta(x)) + \log f_\theta'(x)`.

    :math:`\log\varphi(z) = -z^2/2 - \log\sqrt{2\pi}` is the standard normal log-density.
    For the seed model (``a=None``) :math:`p_\theta` is a sub-probability density of mass
    :func:`flow1d_mass`; with ``a`` it integrates to 1.

    Shapes, dtypes and errors as in :func:`flow1d_transform`; differentiable in ``x`` and
    every parameter (the negative mean is the maximum-likelihood loss).

    Notes
    -----
    :math:`\log f'` comes from a logsumexp of the log terms (see
    :func:`flow1d_log_derivative`), never from ``log`` of a sum that may underflow, so the
    log-density stays finite wherever the density is representable in log space.

    Examples
    --------
    >>> import torch
    >>> z = torch.zeros(1)  # one component at 0 with scale 1 and weight 1
    >>> lp = flow1d_log_prob(torch.tensor([0.0]), z, z, z)
    >>> bool(torch.isclose(lp, torch.tensor([2 * -0.9189385332046727])))
    True
    """
    xt, wt, mut, taut, at, numpy_out = _params("x", x, w, mu, tau, a)
    u = _u(xt, mut, taut)
    f = _transform_u(u, xt, wt, at)
    lp = -0.5 * f * f - _LOG_SQRT_2PI + _log_derivative_u(u, wt, taut, at)
    return _out(lp, numpy_out)


def _mass_parts(w: Any, a: Any) -> tuple[torch.Tensor, torch.Tensor | None, bool]:
    t, numpy_out = _prepare({"w": w, "a": a})
    wt = _given(t, "w")
    if wt.ndim != 1 or wt.shape[0] == 0:
        raise ValueError(f"w must have shape (n,) with n >= 1; got shape {tuple(wt.shape)}")
    _check_finite("w", wt)
    if t["a"] is not None:
        if t["a"].ndim != 0:
            raise ValueError(f"a must be a scalar (0-d); got shape {tuple(t['a'].shape)}")
        _check_finite("a", t["a"])
    return wt, t["a"], numpy_out


def flow1d_mass(w: Any, *, a: Any = None) -> Any:
    r"""Return the total mass :math:`\int p_\theta = 2\Phi(S/2) - 1 = \operatorname{erf}(S/\sqrt8)`.

    Here :math:`S = \sum_i e^{w_i}`: the seed flow maps ℝ onto :math:`(-S/2, S/2)`, so
    :math:`\int p_\theta = P(|Z| < S/2)` for :math:`Z \sim N(0,1)`. With ``a`` given the
    flow is a bijection of ℝ and the mass is exactly 1.

    Parameters
    ----------
    w : tensor or array, shape ``(n,)``
        Log-weights.
    a : scalar, optional
        Log-slope of the tail term; ``None`` (default) is the seed model.

    Returns
    -------
    0-d tensor (differentiable in ``w``) or NumPy float64 scalar array.

    Raises
    ------
    ValueError
        If ``w`` is not of shape ``(n,)`` with n ≥ 1, holds NaN or inf, or ``a`` is not a
        finite scalar.

    Notes
    -----
    ``erf`` is used rather than ``2*ndtr(S/2) - 1``: it keeps full relative accuracy for
    small S; for the complement use :func:`flow1d_missing_mass`, which is accurate however
    small it is.

    Examples
    --------
    >>> import torch
    >>> w = torch.zeros(2, dtype=torch.float64)  # S = 2: the mass is P(|Z| < 1)
    >>> round(float(flow1d_mass(w)), 12)
    0.682689492137
    """
    wt, at, numpy_out = _mass_parts(w, a)
    if at is not None:
        return _out(torch.ones((), dtype=wt.dtype, device=wt.device), numpy_out)
    return _out(torch.erf(_half_total(wt) / _SQRT2), numpy_out)


def flow1d_missing_mass(w: Any, *, a: Any = None) -> Any:
    r"""Return the missing mass :math:`1 - \int p_\theta = 2\Phi(-S/2) = \operatorname{erfc}(S/\sqrt8)`.

    The probability that a base draw :math:`Z \sim N(0, 1)` falls outside the range
    :math:`(-S/2, S/2)` of the seed flow, i.e. has no preimage. 0 with ``a`` given.

    Parameters and Raises as in :func:`flow1d_mass`.

    Notes
    -----
    ``erfc`` of a positive argument has full relative accuracy, so a missing mass of
    1e-40 comes out as such instead of as ``1 - 1 = 0`` from the mass.

    Examples
    --------
    >>> import torch
    >>> w = torch.tensor([math.log(20.0)], dtype=torch.float64)  # S = 20
    >>> f"{float(flow1d_missing_mass(w)):.12e}"  # 2Φ(-10) = 1.52397060483210521e-23
    '1.523970604832e-23'
    """  # noqa: E501
    wt, at, numpy_out = _mass_parts(w, a)
    if at is not None:
        return _out(torch.zeros((), dtype=wt.dtype, device=wt.device), numpy_out)
    return _out(torch.erfc(_half_total(wt) / _SQRT2), numpy_out)


class Flow1dInverse(NamedTuple):
    """Result of :func:`flow1d_inverse`.

    Attributes
    ----------
    x : tensor or array, shape ``(...)``
        The preimages :math:`f^{-1}(z)`; NaN exactly where ``no_preimage`` is True.
    no_preimage : bool tensor or array, shape ``(...)``
        True where ``z`` lies outside the range of the flow (``|z| >= S/2`` for the seed
        model, ``z = ±inf`` always).
    """

    x: Any
    no_preimage: Any

    @property
    def n_no_preimage(self) -> int:
        """How many entries of ``z`` have no preimage."""
        return int(self.no_preimage.sum())


def flow1d_inverse(
    z: Any,
    w: Any,
    mu: Any,
    tau: Any,
    *,
    a: Any = None,
    tol: float = 1e-12,
    max_iter: int = 200,
    on_no_preimage: Literal["nan", "raise"] = "nan",
) -> Flow1dInverse:
    r"""Return :math:`x = f_\theta^{-1}(z)` by a bracketed, safeguarded Newton iteration.

    Every entry of ``z`` is solved at once (vectorised). The root is bracketed from the
    start and the bracket shrinks at every step; a Newton step is taken only when it lands
    inside the bracket and shrinks at least half as fast as bisection would, otherwise the
    step bisects (Numerical Recipes' ``rtsafe``). The iteration stops when the bracket is
    narrower than ``2 * (tol + 4 eps |x|)`` or the last Newton step was at most ``tol``.

    Parameters
    ----------
    z : tensor or array, shape ``(...)``
        Values to invert. NaN raises.
    w, mu, tau, a
        Flow parameters as in :func:`flow1d_transform`.
    tol : float
        Absolute tolerance in ``x`` (default 1e-12, comfortably inside the 1e-10 the tests
        demand of the distance to the exact preimage of ``z``; see Notes).
    max_iter : int
        Iteration cap; reaching it raises ``RuntimeError`` (it cannot happen for a
        finite bracket: bisection alone needs ~45 steps from ±10σ to 1e-12).
    on_no_preimage : {"nan", "raise"}
        What to do with ``z`` outside the range of the flow, which has no preimage: ``"nan"``
        (default) puts NaN there and flags it in ``no_preimage``; ``"raise"`` raises
        ``ValueError`` with the count and the first index. Nothing is ever clipped.

    Returns
    -------
    Flow1dInverse
        ``(x, no_preimage)`` with ``n_no_preimage`` the count. Same kind (torch/NumPy),
        dtype and device as the inputs; not differentiable (computed under ``no_grad``).

    Raises
    ------
    TypeError
        ``tol`` not a float or ``max_iter`` not an int.
    ValueError
        Bad parameters or NaN in ``z`` (as in :func:`flow1d_transform`); a weight, scale or
        slope e^w, e^τ, e^a that overflows or underflows float64 (|w|, |τ|, |a| ≥ 709.78);
        some ``z`` has no preimage and ``on_no_preimage="raise"``; bad
        ``tol``/``max_iter``/``on_no_preimage``.
    RuntimeError
        No convergence within ``max_iter`` steps.

    Notes
    -----
    The iteration runs in float64 whatever the input dtype. For the seed model the root
    of :math:`f(x) = z` is found in tail form and in logs: for :math:`z \ge 0` it solves
    :math:`\log\sum_i e^{w_i}\Phi(-u_i) = \log(S/2 - z)` (and the mirror image for
    :math:`z < 0`), where :math:`S/2 - z` is computed to an ulp of itself (S held as a
    double-double, the subtraction exact by Sterbenz) and ``log_ndtr`` of a negative
    argument has full relative accuracy. So a z within a few ulps of ``S/2`` still gets its
    far-tail preimage (exact for the float64 weights :math:`e^{w_i}` to within ``tol``)
    instead of a flat residual no iteration can resolve, and the log keeps Newton fast
    where the tail is Gaussian. Whether :math:`|z| < S/2` is decided with the same exact
    S/2. The first bracket :math:`[\min_i(\mu_i - 10\sigma_i), \max_i(\mu_i + 10\sigma_i)]`
    holds every root whose gap exceeds :math:`S\,\Phi(-10) \approx 8\cdot10^{-24} S`
    (any z an ulp or more inside the range); for the bijective variant
    :math:`f(x) - e^a x \in (-S/2, S/2)` gives :math:`x \in ((z - S/2)e^{-a}, (z + S/2)e^{-a})`.
    Both are checked, and widened where rounding or a tinier gap needs it.

    "Exact" means exact for ``z`` as given: near the ends of the range :math:`f'` is tiny,
    so if ``z`` itself came from rounding (say ``z = f(x)`` in float64), an ulp of ``z``
    moves the preimage by much more than 1e-10; that is conditioning, not solver error.

    Examples
    --------
    >>> import torch
    >>> w, mu, tau = torch.zeros(2), torch.tensor([-1.0, 1.0]), torch.zeros(2)
    >>> res = flow1d_inverse(torch.tensor([0.3, 0.999999, 1.5]), w, mu, tau)
    >>> res.no_preimage.tolist(), res.n_no_preimage
    ([False, False, True], 1)
    >>> x = res.x[:2]
    >>> bool(torch.allclose(flow1d_transform(x, w, mu, tau), torch.tensor([0.3, 0.999999])))
    True
    """
    if not isinstance(on_no_preimage, str) or on_no_preimage not in ("nan", "raise"):
        raise ValueError(f"on_no_preimage must be 'nan' or 'raise'; got {on_no_preimage!r}")
    if isinstance(tol, bool) or not isinstance(tol, (int, float)):
        raise TypeError(f"tol must be a positive finite float; got {type(tol).__name__} {tol!r}")
    if not (math.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a positive finite float; got {tol!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)):
        raise TypeError(f"max_iter must be an int >= 1; got {type(max_iter).__name__} {max_iter!r}")
    if max_iter < 1:
        raise ValueError(f"max_iter must be an int >= 1; got {max_iter!r}")
    zt, wt, mut, taut, at, numpy_out = _params("z", z, w, mu, tau, a)
    _check_representable(wt.double(), taut.double(), None if at is None else at.double())
    with torch.no_grad():
        x, outside = _solve(
            zt.double(),
            wt.double(),
            mut.double(),
            taut.double(),
            None if at is None else at.double(),
            tol,
            max_iter,
        )
    if on_no_preimage == "raise" and bool(outside.any()):
        sh = float(_half_total(wt.double()))
        rng = "(-inf, inf)" if at is not None else f"(-S/2, S/2) = ({-sh!r}, {sh!r})"
        raise ValueError(
            f"{int(outside.sum())} of {outside.numel()} entries of z have no preimage: "
            f"the flow maps onto {rng}; first at index {_first_index(outside)} "
            f"(z = {zt[_first_index(outside)].item()!r})"
        )
    return Flow1dInverse(_out(x.to(zt.dtype), numpy_out), _out(outside, numpy_out))


def _check_representable(w: torch.Tensor, tau: torch.Tensor, a: torch.Tensor | None) -> None:
    """The inverse needs the weights e^w, scales e^τ and slope e^a as finite positive floats."""
    for name, t in (("w", w), ("tau", tau), ("a", a)):
        if t is None:
            continue
        e = torch.exp(t)
        bad = ~((e > 0) & torch.isfinite(e))
        if bool(bad.any()):
            idx = _first_index(bad) if bad.ndim else ()
            value = float(t[idx]) if bad.ndim else float(t)
            what = "overflows" if value > 0 else "underflows to 0"
            raise ValueError(
                f"{name} = {value!r}{f' at index {idx}' if idx else ''}: e^{name} {what} in "
                f"float64, and flow1d_inverse needs it finite and positive "
                f"(|{name}| < 709.78)"
            )


def _solve(
    z: torch.Tensor,
    w: torch.Tensor,
    mu: torch.Tensor,
    tau: torch.Tensor,
    a: torch.Tensor | None,
    tol: float,
    max_iter: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    sigma = torch.exp(tau)
    sh = _half_total(w)
    if a is None:
        # Distance to the nearer end of the range, S/2 − |z|, with S/2 = Σ c_i/2 for the
        # float64 weights c_i = e^{w_i} held exactly as a double-double hi + lo: hi − |z|
        # is exact near the end (Sterbenz), so the gap is accurate to an ulp of itself even
        # when it is only a few ulps of S/2; rounding S first would make it 50 % wrong.
        halves = (0.5 * torch.exp(w)).tolist()
        sh_hi = math.fsum(halves)
        sh_lo = math.fsum([*halves, -sh_hi])
        gap = (sh_hi - z.abs()) + sh_lo
        outside = ~(gap > 0)  # also ±inf
        upper = (z >= 0).unsqueeze(-1)
        log_gap = torch.log(torch.where(outside, sh, gap))
        # S·Φ(-10) ≈ 8e-24·S: the roots of all but the last-ulp gaps lie within μ_i ± 10σ_i;
        # _widen_bracket catches the rest.
        lo = torch.full_like(z, float((mu - _BRACKET_U * sigma).min()))
        hi = torch.full_like(z, float((mu + _BRACKET_U * sigma).max()))

        def residual(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            # Tail form of f(x) = z, in logs: log Σ e^{w_i} Φ(∓u_i) = log gap. Both sides keep
            # full relative accuracy far out, and the log makes Newton fast in the tails.
            u = _u(x, mu, tau)
            log_tail = torch.logsumexp(w + torch.special.log_ndtr(torch.where(upper, -u, u)), -1)
            up = upper.squeeze(-1)
            h = torch.where(up, log_gap - log_tail, log_tail - log_gap)
            return h, torch.exp(_log_derivative(x, w, mu, tau, None) - log_tail)

    else:
        outside = ~torch.isfinite(z)
        ea = torch.exp(a)
        zf = torch.where(outside, torch.zeros_like(z), z)
        # f(x) - e^a x lies in (-S/2, S/2), so x lies in ((z - S/2)e^{-a}, (z + S/2)e^{-a}).
        lo = (zf - sh) / ea
        hi = (zf + sh) / ea

        def residual(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return _transform(x, w, mu, tau, a) - zf, torch.exp(_log_derivative(x, w, mu, tau, a))

    _widen_bracket(residual, lo, hi, outside)
    return _rtsafe(residual, lo, hi, outside, tol, max_iter), outside


def _widen_bracket(
    residual: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
    lo: torch.Tensor,
    hi: torch.Tensor,
    skip: torch.Tensor,
) -> None:
    # The analytic brackets hold mathematically; rounding at their ends must not break them.
    for _ in range(64):
        h_lo, h_hi = residual(lo)[0], residual(hi)[0]
        bad_lo, bad_hi = (h_lo > 0) & ~skip, (h_hi < 0) & ~skip
        if not bool((bad_lo | bad_hi).any()):
            return
        width = hi - lo + 1.0
        lo.copy_(torch.where(bad_lo, lo - width, lo))
        hi.copy_(torch.where(bad_hi, hi + width, hi))
    raise RuntimeError("flow1d_inverse could not bracket a root (please report this bug)")


def _rtsafe(
    residual: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]],
    lo: torch.Tensor,
    hi: torch.Tensor,
    skip: torch.Tensor,
    tol: float,
    max_iter: int,
) -> torch.Tensor:
    """Vectorised safeguarded Newton for an increasing residual with h(lo) <= 0 <= h(hi)."""
    x = 0.5 * (lo + hi)
    dx_old = hi - lo
    dx = dx_old.clone()
    done = skip.clone()
    eps = torch.finfo(x.dtype).eps
    for _ in range(max_iter):
        if bool(done.all()):
            break
        h, dh = residual(x)
        lo = torch.where(h < 0, x, lo)
        hi = torch.where(h > 0, x, hi)
        newton = x - h / dh
        # A Newton step below tol ends the search even when, rounded, it lands on the
        # bracket's end (then the comparison below would reject it and bisect on and on).
        small = (h / dh).abs() <= tol
        # Otherwise Newton only inside the bracket and when it shrinks faster than bisection.
        take_newton = small | (
            (newton > lo) & (newton < hi) & ((2 * h).abs() <= (dx_old * dh).abs())
        )
        x_new = torch.where(take_newton, newton, 0.5 * (lo + hi))
        step = x_new - x
        converged = (h == 0) | small | (hi - lo <= 2 * (tol + 4 * eps * x.abs()))
        active = ~done
        x = torch.where(active & (h != 0), x_new, x)
        dx_old = torch.where(active, dx, dx_old)
        dx = torch.where(active, step, dx)
        done = done | converged
    if not bool(done.all()):
        n_bad = int((~done).sum())
        raise RuntimeError(
            f"flow1d_inverse did not converge for {n_bad} of {x.numel()} entries "
            f"in max_iter={max_iter} steps; first at index {_first_index(~done)}"
        )
    return torch.where(skip, torch.full_like(x, math.nan), x)
