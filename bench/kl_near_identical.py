"""KL of nearly equal Gaussians in float64: klmath and torch.distributions against mpmath.

    python bench/kl_near_identical.py [--no-record]

The example of ``docs/numerics.md``: d = 8, Σ₀ = I + 0.5·11ᵀ, Σ₁ = Σ₀ + εI for nine
ε from 1e-12 to 1e-8, equal means. The reference is the textbook formula in mpmath
at 50 digits on the same float64 matrices. The page checks (as a doctest) what does
not depend on the machine's rounding; the columns that do (klmath's relative error,
torch.distributions' value) come from this script's record,
``docs/results/kl_near_identical.json``, unless ``--no-record`` is given. The
inputs are fixed, so there is no spread: a rerun on the same machine and library
versions gives the same bits.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import mpmath
import torch
from torch.distributions import MultivariateNormal, kl_divergence

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import klmath
from klmath._records import write_record


def reference(c0: torch.Tensor, c1: torch.Tensor) -> float:
    """The textbook formula at 50 digits on the exact float64 inputs."""
    d = c0.shape[-1]
    with mpmath.workdps(50):
        s0, s1 = mpmath.matrix(c0.tolist()), mpmath.matrix(c1.tolist())
        tr = sum((s1**-1 * s0)[i, i] for i in range(d))
        return float((tr - d + mpmath.log(mpmath.det(s1) / mpmath.det(s0))) / 2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-record", action="store_true", help="print only, write no record")
    args = parser.parse_args(argv)
    d = 8
    cov0 = torch.eye(d, dtype=torch.float64) + 0.5
    eps = torch.logspace(-12, -8, 9, dtype=torch.float64)
    cov1 = cov0 + eps[:, None, None] * torch.eye(d, dtype=torch.float64)
    mean = torch.zeros(d, dtype=torch.float64)
    kl_torch = kl_divergence(MultivariateNormal(mean, cov0), MultivariateNormal(mean, cov1))
    kl_klmath = klmath.gaussian_kl(mean, cov0, mean, cov1)
    rows = []
    print("  eps    reference  klmath     rel. error  torch.distributions")
    for e, c1, k, t in zip(eps, cov1, kl_klmath, kl_torch, strict=True):
        r = reference(cov0, c1)
        rows.append(
            {
                "eps": float(e),
                "reference": r,
                "klmath": float(k),
                "klmath_rel_error": abs(float(k) - r) / r,
                "torch": float(t),
            }
        )
        print(f"{e:5.0e}  {r:.3e}  {k:.3e}  {abs(k - r) / r:.0e}       {t:+.1e}")
    if not args.no_record:
        path = write_record(
            "kl_near_identical",
            {"d": d, "rows": rows},
            command="python bench/kl_near_identical.py",
            notes="Fixed inputs, deterministic: no spread.",
        )
        print(f"record: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
