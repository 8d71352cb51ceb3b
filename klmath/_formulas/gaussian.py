r"""Gaussians: klmath's closed forms for torch and scipy Gaussian objects, in any mix.

Each object is read as a Gaussian *view*: a mean (..., d) and one of standard
deviations (..., d) of a diagonal covariance, a Cholesky factor (..., d, d), or a
covariance (..., d, d). q's view is converted to p's array kind (and torch dtype,
device), and the cheapest closed form that fits both is used:

* both diagonal (torch ``Normal``, ``HalfNormal``, ``Independent(Normal)``, scipy
  ``norm``, ``halfnorm``): :func:`klmath.gaussian_kl_diag`, O(d);
* a torch ``MultivariateNormal`` or ``LowRankMultivariateNormal`` and no scipy
  multivariate one: :func:`klmath.gaussian_kl_tril` on the Cholesky factors (torch
  holds them for ``MultivariateNormal``; for ``LowRankMultivariateNormal`` its
  ``scale_tril``, the factor of WWᵀ + D);
* a scipy ``multivariate_normal`` (which holds a covariance): :func:`klmath.gaussian_kl`.

All three evaluate

.. math:: \tfrac12\big[\operatorname{tr}(Σ_1^{-1}Σ_0) + δ^TΣ_1^{-1}δ - d
          + \log\det Σ_1 - \log\det Σ_0\big]

as a sum of non-negative terms (derivation in :mod:`klmath.gaussian`): ≥ 0, exactly 0
for equal parameters. torch's low-rank formula subtracts d from a trace and gives
KL(p ‖ p) = −2.2e−16; the Cholesky route gives 0.

A univariate ``Normal`` (event shape ()) is a d = 1 diagonal Gaussian; the trailing
axis of length 1 is summed away, so the result has the batch shape.

*Half-normals.* HalfNormal(σ) is |X| for X ~ N(0, σ²): its density is 2φ(x/σ)/σ on
[0, ∞), so the factor 2 cancels in the log-ratio and
KL(HalfNormal(σ₀) ‖ HalfNormal(σ₁)) = KL(N(0, σ₀²) ‖ N(0, σ₁²)).

Entropies: ½ log det(2πe Σ), as ½ Σᵢ log(2πe σᵢ²) or d/2 log(2πe) + Σᵢ log|Lᵢᵢ|; for
HalfNormal(σ) the normal entropy minus log 2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from klmath._adapters import is_scipy_frozen, scipy_family
from klmath._backend import is_tensor, torch_if_loaded
from klmath._formulas._params import read
from klmath.registry import register_entropy, register_kl

__all__: list[str] = []

_LOG_2PI_E = math.log(2.0 * math.pi * math.e)


@dataclass
class _View:
    mean: Any
    std: Any = None
    tril: Any = None
    cov: Any = None
    half: bool = False  # a half-normal: |X| for X ~ N(0, σ²)


def _view(obj: Any, name: str) -> _View | None:
    """Return the Gaussian view of ``obj``, or None if it is not a supported Gaussian."""
    if is_scipy_frozen(obj):
        family = scipy_family(obj)
        if family in ("norm", "halfnorm"):
            params = read(obj, name)
            if params is None:
                return None
            np_scale = params["scale"].numpy()
            np_loc = params["loc"].numpy() if family == "norm" else np.zeros_like(np_scale)
            mean, std = np.broadcast_arrays(np_loc, np_scale)
            return _View(mean[..., None], std=std[..., None], half=family == "halfnorm")
        if family == "multivariate_normal":
            return _View(np.asarray(obj.mean, dtype=np.float64), cov=np.asarray(obj.cov))
        return None
    torch = torch_if_loaded()
    if torch is None or not isinstance(obj, torch.distributions.Distribution):
        return None
    D = torch.distributions
    if isinstance(obj, (D.Normal, D.HalfNormal)):
        params = read(obj, name)
        assert params is not None
        half = isinstance(obj, D.HalfNormal)
        scale = params["scale"]
        loc = torch.zeros_like(scale) if half else params["loc"]
        loc, scale = torch.broadcast_tensors(loc, scale)
        return _View(loc.unsqueeze(-1), std=scale.unsqueeze(-1), half=half)
    if isinstance(obj, D.Independent) and isinstance(obj.base_dist, D.Normal):
        params = read(obj.base_dist, f"{name}.base_dist")
        assert params is not None
        loc, scale = torch.broadcast_tensors(params["loc"], params["scale"])
        shape = (*obj.batch_shape, -1)
        return _View(loc.reshape(shape), std=scale.reshape(shape))
    if isinstance(obj, (D.MultivariateNormal, D.LowRankMultivariateNormal)):
        return _View(obj.loc, tril=obj.scale_tril)
    return None


def _like(x: Any, ref: Any) -> Any:
    """Convert ``x`` to the array kind of ``ref`` (torch: ref's dtype and device)."""
    if x is None:
        return None
    if is_tensor(ref):
        return torch_if_loaded().as_tensor(x, dtype=ref.dtype, device=ref.device)
    if is_tensor(x):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _pair(p: Any, q: Any) -> tuple[_View, _View] | None:
    vp, vq = _view(p, "p"), _view(q, "q")
    if vp is None or vq is None or vp.half != vq.half:
        return None
    ref = vp.mean
    vq = _View(
        _like(vq.mean, ref), _like(vq.std, ref), _like(vq.tril, ref), _like(vq.cov, ref), vq.half
    )
    return vp, vq


def _diag_embed(x: Any) -> Any:
    if is_tensor(x):
        return torch_if_loaded().diag_embed(x)
    out = np.zeros((*x.shape, x.shape[-1]), dtype=x.dtype)
    idx = np.arange(x.shape[-1])
    out[..., idx, idx] = x
    return out


def _tril(v: _View) -> Any:
    return v.tril if v.tril is not None else _diag_embed(v.std)


def _cov(v: _View) -> Any:
    if v.cov is not None:
        return v.cov
    if v.std is not None:
        return _diag_embed(v.std * v.std)
    return v.tril @ v.tril.swapaxes(-1, -2)


def _kl_diag(p: Any, q: Any) -> Any:
    from klmath.gaussian import gaussian_kl_diag

    pair = _pair(p, q)
    if pair is None or pair[0].std is None or pair[1].std is None:
        return NotImplemented
    vp, vq = pair
    return gaussian_kl_diag(vp.mean, vp.std * vp.std, vq.mean, vq.std * vq.std)


def _kl_tril(p: Any, q: Any) -> Any:
    from klmath.gaussian import gaussian_kl_tril

    pair = _pair(p, q)
    if pair is None:
        return NotImplemented
    vp, vq = pair
    return gaussian_kl_tril(vp.mean, _tril(vp), vq.mean, _tril(vq))


def _kl_cov(p: Any, q: Any) -> Any:
    from klmath.gaussian import gaussian_kl

    pair = _pair(p, q)
    if pair is None:
        return NotImplemented
    vp, vq = pair
    return gaussian_kl(vp.mean, _cov(vp), vq.mean, _cov(vq))


def _entropy(p: Any) -> Any:
    v = _view(p, "p")
    if v is None:
        return NotImplemented
    xp = torch_if_loaded() if is_tensor(v.mean) else np
    if v.std is not None:
        h = (0.5 * _LOG_2PI_E + xp.log(v.std)).sum(-1)
        return h - math.log(2.0) if v.half else h
    if v.tril is not None:
        d = v.tril.shape[-1]
        diag = xp.diagonal(v.tril, 0, -2, -1) if xp is np else v.tril.diagonal(dim1=-2, dim2=-1)
        return 0.5 * d * _LOG_2PI_E + xp.log(xp.abs(diag)).sum(-1)
    d = v.cov.shape[-1]
    sign, logdet = np.linalg.slogdet(v.cov)
    if not (sign > 0).all():
        raise ValueError("p (scipy multivariate_normal) has a covariance that is not positive")
    return np.float64(0.5 * d * _LOG_2PI_E + 0.5 * logdet)


_kl_diag._klmath_formula = "klmath.gaussian_kl_diag"  # type: ignore[attr-defined]
_kl_tril._klmath_formula = "klmath.gaussian_kl_tril"  # type: ignore[attr-defined]
_kl_cov._klmath_formula = "klmath.gaussian_kl"  # type: ignore[attr-defined]
_entropy._klmath_formula = "klmath._formulas.gaussian (½ log det 2πeΣ)"  # type: ignore[attr-defined]


def _register() -> None:
    scalar = ["torch.Normal", "norm"]
    for kp in scalar:
        for kq in scalar:
            register_kl(kp, kq)(_kl_diag)
    half = ["torch.HalfNormal", "halfnorm"]
    for kp in half:
        for kq in half:
            register_kl(kp, kq)(_kl_diag)
    # (Independent, Independent) is klmath._formulas.structural's: it uses _kl_diag
    # for Normal bases and recurses on any other base.
    dense = ["torch.MultivariateNormal", "torch.LowRankMultivariateNormal"]
    for kp in [*dense, "torch.Independent"]:
        for kq in [*dense, "torch.Independent"]:
            if not kp == kq == "torch.Independent":
                register_kl(kp, kq)(_kl_tril)
    vector = [*dense, "torch.Independent", "multivariate_normal"]
    for other in vector:
        register_kl("multivariate_normal", other)(_kl_cov)
        register_kl(other, "multivariate_normal")(_kl_cov)
    for key in [*scalar, *half, *dense, "multivariate_normal"]:
        register_entropy(key)(_entropy)


_register()
