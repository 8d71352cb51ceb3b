"""Numerical edge cases for every exact KL: never negative, never NaN, errors only by name.

A deterministic grid of about 300 hard inputs:

* Gaussians through ``gaussian_kl``, ``gaussian_kl_diag``, ``gaussian_kl_tril`` and
  ``kl()`` on torch/scipy objects: condition numbers 1 ... 1e17, scales 1e−150 ... 1e150,
  d from 1 to 1000, float64 and float32, p = q, p a few ulps from q;
* every other family of ``kl()``: scales 1e±150, shapes 1e−3 ... 1e12, probabilities a
  few ulps from 0 and 1, rates 1e−300 ... 1e300, p = q and p a few ulps from q.

Each case must return a value that is ≥ 0 and not NaN (``inf`` with a reason is fine),
or raise ``ValueError``/``TypeError`` naming an argument (a covariance of condition
1e17 is not positive definite in float64: refusing it is right). Writes the record
``kl_edge_cases``; ``tests/test_kl_guarantees.py`` runs every 10th case.

Usage::

    python bench/kl_edge_cases.py
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import scipy.stats as st  # noqa: E402
import torch  # noqa: E402
from torch import distributions as D  # noqa: E402

from klmath import gaussian_kl, gaussian_kl_diag, gaussian_kl_tril, kl  # noqa: E402

Case = tuple[str, Callable[[], Any]]


def _spd(d: int, cond: float, scale: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    eig = scale * cond ** (-np.linspace(0.0, 1.0, d))
    c = (q * eig) @ q.T
    return 0.5 * (c + c.T)


def gaussian_cases() -> Iterator[Case]:
    seed = 0
    for d in (1, 2, 3, 10, 100, 1000):
        conds = (1.0, 1e8, 1e17) if d <= 100 else (1.0, 1e8)
        for cond in conds:
            for scale in (1e-150, 1.0, 1e150):
                for dtype in (np.float64, np.float32):
                    if dtype == np.float32 and abs(math.log10(scale)) > 30:
                        continue  # not representable in float32: nothing to compute
                    seed += 1
                    c0 = _spd(d, cond, scale, seed).astype(dtype)
                    c1 = _spd(d, cond, scale, seed + 1000).astype(dtype)
                    m = (np.sqrt(scale) * np.random.default_rng(seed).standard_normal(d)).astype(
                        dtype
                    )
                    tag = f"d={d} cond={cond:g} scale={scale:g} {np.dtype(dtype).name}"
                    yield f"gaussian_kl {tag} p=q", lambda c0=c0, m=m: gaussian_kl(m, c0, m, c0)
                    near = (c0 * (1 + np.finfo(dtype).eps * 4)).astype(dtype)
                    yield (
                        f"gaussian_kl {tag} near",
                        lambda c0=c0, m=m, near=near: gaussian_kl(m, c0, m, near),
                    )
                    yield (
                        f"gaussian_kl {tag} far",
                        lambda c0=c0, c1=c1, m=m: gaussian_kl(m, c0, 0 * m, c1),
                    )
                    if d <= 100:
                        v0, v1 = np.diagonal(c0).copy(), np.diagonal(c1).copy()
                        yield (
                            f"gaussian_kl_diag {tag}",
                            lambda m=m, v0=v0, v1=v1: gaussian_kl_diag(m, v0, 0 * m, v1),
                        )
                        rng = np.random.default_rng(seed)
                        t0 = np.tril(rng.standard_normal((d, d))) * np.sqrt(scale)
                        t0[np.diag_indices(d)] = np.sqrt(scale) * cond ** (-0.5 * rng.random(d))
                        t0 = t0.astype(dtype)
                        yield (
                            f"gaussian_kl_tril {tag} p=q",
                            lambda m=m, t0=t0: gaussian_kl_tril(m, t0, m, t0),
                        )


def _t(x: float) -> torch.Tensor:
    return torch.tensor(x, dtype=torch.float64)


def family_cases() -> Iterator[Case]:
    tiny, huge = 1e-150, 1e150
    eps = np.finfo(float).eps
    pairs: list[tuple[str, Any, Any]] = []
    for s in (tiny, 1.0, huge):
        pairs += [
            (f"Normal s={s:g}", D.Normal(_t(0.0), _t(s)), D.Normal(_t(s * eps), _t(s * (1 + eps)))),
            (f"Laplace s={s:g}", D.Laplace(_t(0.0), _t(s)), D.Laplace(_t(s), _t(s * 3))),
            (f"Cauchy s={s:g}", D.Cauchy(_t(s), _t(s)), D.Cauchy(_t(0.0), _t(s * 2))),
            (f"Gumbel s={s:g}", D.Gumbel(_t(0.0), _t(s)), D.Gumbel(_t(s * eps), _t(s))),
            (f"Uniform s={s:g}", D.Uniform(_t(0.0), _t(s)), D.Uniform(_t(-s), _t(s))),
            (f"Exponential s={s:g}", D.Exponential(_t(s)), D.Exponential(_t(s * (1 + eps)))),
            (f"Pareto s={s:g}", D.Pareto(_t(s), _t(3.0)), D.Pareto(_t(s), _t(3.0 + 1e-12))),
            (f"HalfNormal s={s:g}", D.HalfNormal(_t(s)), D.HalfNormal(_t(s * 7))),
            (f"scipy norm s={s:g}", st.norm(0.0, s), st.norm(s, s)),
            (f"scipy expon s={s:g}", st.expon(scale=s), st.expon(scale=2 * s)),
            (f"Laplace‖Normal s={s:g}", D.Laplace(_t(0.0), _t(s)), D.Normal(_t(0.0), _t(s))),
            (f"Uniform‖Normal s={s:g}", D.Uniform(_t(0.0), _t(s)), D.Normal(_t(0.0), _t(s))),
        ]
    for a in (1e-3, 0.5, 1.0, 1e6, 1e12):
        pairs += [
            (f"Gamma a={a:g}", D.Gamma(_t(a), _t(1.0)), D.Gamma(_t(a * (1 + eps)), _t(1.0))),
            (f"Gamma‖Normal a={a:g}", D.Gamma(_t(a), _t(1.0)), D.Normal(_t(a), _t(math.sqrt(a)))),
            (f"Beta a={a:g}", D.Beta(_t(a), _t(a)), D.Beta(_t(a * (1 + eps)), _t(a))),
            (
                f"Dirichlet a={a:g}",
                D.Dirichlet(torch.full((3,), a, dtype=torch.float64)),
                D.Dirichlet(torch.full((3,), a * (1 + eps), dtype=torch.float64)),
            ),
            (f"scipy gamma a={a:g}", st.gamma(a), st.gamma(a, scale=1 + eps)),
        ]
    for prob in (0.0, eps, 0.5, 1 - eps, 1.0):
        pairs += [
            (f"Bernoulli p={prob:g}", D.Bernoulli(_t(prob)), D.Bernoulli(_t(min(1.0, prob + eps)))),
            (f"Binomial p={prob:g}", D.Binomial(10, _t(prob)), D.Binomial(10, _t(0.5))),
            (
                f"Categorical p={prob:g}",
                D.Categorical(torch.tensor([prob, 1 - prob], dtype=torch.float64)),
                D.Categorical(torch.tensor([0.5, 0.5], dtype=torch.float64)),
            ),
            (
                f"ContinuousBernoulli p={prob:g}",
                D.ContinuousBernoulli(_t(prob)),
                D.ContinuousBernoulli(_t(0.5)),
            ),
        ]
        if prob > 0:
            pairs.append((f"Geometric p={prob:g}", D.Geometric(_t(prob)), D.Geometric(_t(prob))))
    for rate in (0.0, 1e-300, 1.0, 1e300):
        pairs += [
            (f"Poisson rate={rate:g}", D.Poisson(_t(rate)), D.Poisson(_t(rate * (1 + eps)))),
            (f"scipy poisson rate={rate:g}", st.poisson(rate), st.poisson(1.0)),
        ]
    for name, p, q in pairs:
        yield f"kl {name} p=p", lambda p=p: kl(p, p, method="exact").value
        yield f"kl {name} p,q", lambda p=p, q=q: kl(p, q, method="exact").value
        yield f"kl {name} q,p", lambda p=p, q=q: kl(q, p, method="exact").value


def cases() -> list[Case]:
    return [*gaussian_cases(), *family_cases()]


def run(case: Case) -> str:
    """'ok', 'inf', 'refused: ...' or a failure: 'NEGATIVE ...', 'NAN', 'RAISED ...'."""
    _name, call = case
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = call()
    except (ValueError, TypeError) as err:
        return f"refused: {str(err)[:80]}"
    except Exception as err:
        return f"RAISED {type(err).__name__}: {str(err)[:80]}"
    arr = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
    arr = arr.astype(np.float64)
    if np.isnan(arr).any():
        return "NAN"
    if (arr < 0).any():
        return f"NEGATIVE {arr.min()!r}"
    return "inf" if np.isinf(arr).any() else "ok"


def main() -> None:
    from klmath._records import write_record

    torch.set_num_threads(1)
    start = time.perf_counter()
    results = {name: run((name, call)) for name, call in cases()}
    elapsed = time.perf_counter() - start
    counts: dict[str, int] = {}
    for outcome in results.values():
        key = outcome.split(":")[0].split(" ")[0]
        counts[key] = counts.get(key, 0) + 1
    bad = {k: v for k, v in results.items() if v.startswith(("NAN", "NEGATIVE", "RAISED"))}
    refused: dict[str, int] = {}
    for outcome in results.values():
        if outcome.startswith("refused: "):
            why = outcome.removeprefix("refused: ").split(" (")[0]
            why = why.replace("cov0", "cov").replace("cov1", "cov")
            refused[why] = refused.get(why, 0) + 1
    for name, outcome in bad.items():
        print(f"{name}: {outcome}")
    print(f"{len(results)} cases in {elapsed:.0f} s: {counts}")
    write_record(
        "kl_edge_cases",
        {
            "cases": len(results),
            "outcomes": counts,
            "refused": refused,
            "failures": bad,
            "seconds": elapsed,
        },
        command="python bench/kl_edge_cases.py",
        notes="never negative, never NaN, errors only ValueError/TypeError",
    )


if __name__ == "__main__":
    main()
