"""Private: klmath's Gaussian closed forms registered for torch and scipy objects.

Each object is read as a Gaussian *view* (mean (..., d) and one of: standard
deviations (..., d) of a diagonal covariance, a Cholesky factor (..., d, d), or a
covariance (..., d, d)); q's view is converted to p's array kind (and torch dtype,
device), and the cheapest closed form that fits both is used:

* both diagonal (torch ``Normal``, ``Independent(Normal)``, scipy ``norm``):
  :func:`klmath.gaussian_kl_diag`, O(d);
* a torch ``MultivariateNormal`` and no scipy one: :func:`klmath.gaussian_kl_tril`
  on the Cholesky factors torch already holds (no refactorisation);
* a scipy ``multivariate_normal`` (which holds a covariance): :func:`klmath.gaussian_kl`.

A univariate ``Normal`` (event shape ()) is a d = 1 diagonal Gaussian; the trailing
axis of length 1 is summed away by the closed form, so the result has the batch shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from klmath._adapters import is_scipy_frozen, scipy_family, torch_module
from klmath.registry import register_kl

__all__: list[str] = []


@dataclass
class _View:
    mean: Any
    std: Any = None
    tril: Any = None
    cov: Any = None


def _view(obj: Any) -> _View | None:
    """Return the Gaussian view of ``obj``, or None if it is not a supported Gaussian."""
    torch = torch_module()
    if is_scipy_frozen(obj):
        family = scipy_family(obj)
        if family == "norm":
            mean, std = np.broadcast_arrays(
                np.asarray(obj.mean(), dtype=np.float64), np.asarray(obj.std(), dtype=np.float64)
            )
            return _View(mean[..., None], std=std[..., None])
        if family == "multivariate_normal":
            return _View(np.asarray(obj.mean, dtype=np.float64), cov=np.asarray(obj.cov))
        return None
    D = torch.distributions
    if type(obj) is D.Normal:
        return _View(obj.loc.unsqueeze(-1), std=obj.scale.unsqueeze(-1))
    if type(obj) is D.Independent and type(obj.base_dist) is D.Normal:
        shape = (*obj.batch_shape, -1)
        return _View(obj.base_dist.loc.reshape(shape), std=obj.base_dist.scale.reshape(shape))
    if type(obj) is D.MultivariateNormal:
        return _View(obj.loc, tril=obj.scale_tril)
    return None


def _like(x: Any, ref: Any) -> Any:
    """Convert ``x`` to the array kind of ``ref`` (torch: ref's dtype and device)."""
    torch = torch_module()
    if x is None:
        return None
    if torch is not None and isinstance(ref, torch.Tensor):
        return torch.as_tensor(x, dtype=ref.dtype, device=ref.device)
    if torch is not None and isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _pair(p: Any, q: Any) -> tuple[_View, _View] | None:
    vp, vq = _view(p), _view(q)
    if vp is None or vq is None:
        return None
    ref = vp.mean
    vq = _View(_like(vq.mean, ref), _like(vq.std, ref), _like(vq.tril, ref), _like(vq.cov, ref))
    return vp, vq


def _diag_embed(x: Any) -> Any:
    torch = torch_module()
    if torch is not None and isinstance(x, torch.Tensor):
        return torch.diag_embed(x)
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


_kl_diag._klmath_formula = "klmath.gaussian_kl_diag"  # type: ignore[attr-defined]
_kl_tril._klmath_formula = "klmath.gaussian_kl_tril"  # type: ignore[attr-defined]
_kl_cov._klmath_formula = "klmath.gaussian_kl"  # type: ignore[attr-defined]


def _register() -> None:
    torch = torch_module()
    if torch is None:  # pragma: no cover - klmath imports torch today
        import torch
    D = torch.distributions
    scalar = [D.Normal, "norm"]
    for kp in scalar:
        for kq in scalar:
            register_kl(kp, kq)(_kl_diag)
    register_kl(D.Independent, D.Independent)(_kl_diag)
    for kp, kq in [
        (D.MultivariateNormal, D.MultivariateNormal),
        (D.MultivariateNormal, D.Independent),
        (D.Independent, D.MultivariateNormal),
    ]:
        register_kl(kp, kq)(_kl_tril)
    vector = [D.MultivariateNormal, D.Independent, "multivariate_normal"]
    for other in vector:
        register_kl("multivariate_normal", other)(_kl_cov)
        register_kl(other, "multivariate_normal")(_kl_cov)


_register()
