"""A short printed tour of klmath's Gaussian KL (part of ``make demo``).

    python bench/demo_kl.py [--no-record]

1. A nearly equal pair where torch.distributions returns a negative KL and
   klmath returns the right tiny positive value (checked against mpmath).
2. The diagonal form equals the full form on diagonal covariances.
3. NumPy in, NumPy out; torch in, torch out (differentiable). NumPy and torch
   without autograd run the same code on the same bits, so they agree bit for
   bit; with ``requires_grad`` klmath takes its out-of-place autograd path,
   which may differ in the last bits (the difference is printed in ulps).
4. A bad input and the error it gets.

The numbers go to the record ``docs/results/demo_kl.json`` (the README's table
is rendered from it) unless ``--no-record`` is given. The inputs are seeded, so
there is no spread to report: a rerun on the same machine and library versions
gives the same bits.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import mpmath
import numpy as np
import torch
from torch.distributions import MultivariateNormal, kl_divergence

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from klmath import gaussian_kl, gaussian_kl_diag
from klmath._records import write_record


def mp_kl(mean0, cov0, mean1, cov1, digits: int = 50) -> mpmath.mpf:
    """Textbook formula at ``digits`` digits on the exact float64 inputs."""
    with mpmath.workdps(digits):
        s0, s1 = mpmath.matrix(cov0.tolist()), mpmath.matrix(cov1.tolist())
        dm = mpmath.matrix((np.asarray(mean1) - np.asarray(mean0)).tolist())
        inv1 = mpmath.inverse(s1)
        d = len(mean0)
        trace = sum((inv1 * s0)[i, i] for i in range(d))
        quad = (dm.T * inv1 * dm)[0, 0]
        return (trace + quad - d + mpmath.log(mpmath.det(s1) / mpmath.det(s0))) / 2


def near_identical_pair() -> dict[str, Any]:
    print("1. Nearly equal Gaussians: Σ₁ = Σ₀ + 1e-7·I, d = 8, float32")
    rng = np.random.default_rng(0)
    for _ in range(20):
        a = rng.standard_normal((8, 8))
        s0 = a @ a.T / 8 + np.eye(8)
        s1 = s0 + 1e-7 * np.eye(8)
        mean = torch.zeros(8)
        t0, t1 = torch.tensor(s0, dtype=torch.float32), torch.tensor(s1, dtype=torch.float32)
        theirs = float(kl_divergence(MultivariateNormal(mean, t0), MultivariateNormal(mean, t1)))
        if theirs < 0:
            break
    ours32 = float(gaussian_kl(mean, t0, mean, t1))
    # The reference of the float32 inputs, and float64 on the same (rounded) inputs.
    s0r, s1r = t0.double().numpy(), t1.double().numpy()
    ours64 = float(gaussian_kl(np.zeros(8), s0r, np.zeros(8), s1r))
    ref = mp_kl(np.zeros(8), s0r, np.zeros(8), s1r)
    print(f"   torch.distributions (float32): {theirs: .3e}   <- negative")
    print(f"   klmath gaussian_kl  (float32): {ours32: .3e}")
    print(f"   klmath gaussian_kl  (float64): {ours64: .10e}")
    print(f"   mpmath, 50 digits            : {float(ref): .10e}")
    same = float(gaussian_kl(mean, t0, mean, t0))
    print(f"   identical inputs             : {same} (exactly)")
    print()
    return {
        "d": 8,
        "eps": 1e-7,
        "torch_float32": theirs,
        "klmath_float32": ours32,
        "klmath_float64": ours64,
        "mpmath_50_digits": float(ref),
        "klmath_identical_inputs": same,
    }


def diag_equals_full() -> dict[str, Any]:
    print("2. Diagonal form = full form on diagonal covariances")
    var0, var1 = np.array([0.5, 2.0, 1.0]), np.array([1.0, 1.0, 3.0])
    m0, m1 = np.array([0.0, 1.0, -1.0]), np.zeros(3)
    diag = gaussian_kl_diag(m0, var0, m1, var1)
    full = gaussian_kl(m0, np.diag(var0), m1, np.diag(var1))
    print(f"   gaussian_kl_diag: {float(diag):.17g}")
    print(f"   gaussian_kl     : {float(full):.17g}")
    print(
        f"   KL to N(0, I) of a VAE posterior, gaussian_kl_diag(mu, var, 0.0, 1.0): "
        f"{float(gaussian_kl_diag(m0, var0, 0.0, 1.0)):.6f}"
    )
    print()
    return {"diag": float(diag), "full": float(full)}


def ulps(a: np.ndarray, b: np.ndarray) -> int:
    """Largest distance between ``a`` and ``b`` in units in the last place of float64."""
    ia, ib = a.astype(np.float64).view(np.int64), b.astype(np.float64).view(np.int64)
    return int(np.max(np.abs(ia - ib)))  # same sign and finite here: KL > 0


def numpy_and_torch() -> dict[str, Any]:
    print("3. NumPy in -> NumPy out, torch in -> torch out (differentiable)")
    rng = np.random.default_rng(1)
    a = rng.standard_normal((4, 5, 5))
    cov0 = a @ a.transpose(0, 2, 1) + np.eye(5)
    cov1 = np.eye(5)
    mean0, mean1 = rng.standard_normal((4, 5)), np.zeros(5)
    out_np = gaussian_kl(mean0, cov0, mean1, cov1)
    as_t = [torch.from_numpy(v) for v in (mean0, cov0, mean1, cov1)]
    out_nograd = gaussian_kl(*as_t).numpy()
    m0 = as_t[0].clone().requires_grad_()
    out_t = gaussian_kl(m0, *as_t[1:])
    out_t.sum().backward()
    out_grad = out_t.detach().numpy()
    print(f"   NumPy : {type(out_np).__name__} {np.array2string(out_np, precision=6)}")
    print(f"   torch : {type(out_t).__name__} {np.array2string(out_grad, precision=6)}")
    same_bits = bool(np.array_equal(out_np, out_nograd))
    print(f"   NumPy vs torch without autograd (one code path), bitwise equal: {same_bits}")
    diff = ulps(out_np, out_grad)
    rel = float(np.max(np.abs(out_np - out_grad) / out_np))
    print(
        f"   NumPy vs torch with requires_grad (the autograd path): {diff} ulp apart "
        f"(max relative difference {rel:.1e})"
    )
    # ∂KL/∂μ₀ = Σ₁⁻¹(μ₀ − μ₁) = μ₀ here (Σ₁ = I, μ₁ = 0).
    grad_ok = bool(torch.allclose(m0.grad, m0.detach()))
    print(f"   ∂KL/∂μ₀ = Σ₁⁻¹(μ₀ − μ₁): {grad_ok}")
    print()
    return {
        "numpy_equals_torch_no_grad": same_bits,
        "autograd_path_max_ulps": diff,
        "autograd_path_max_rel_diff": rel,
        "gradient_matches_closed_form": grad_ok,
    }


def bad_input() -> None:
    print("4. Bad input gets a clear error")
    covs = np.broadcast_to(np.eye(2), (5, 2, 2)).copy()
    covs[3] = [[1.0, 2.0], [2.0, 1.0]]
    for args in [
        (np.zeros(2), np.eye(2), np.zeros(2), covs),
        (np.zeros(2), np.array([[1.0, 0.5], [0.0, 1.0]]), np.zeros(2), np.eye(2)),
        (np.zeros(2), torch.eye(2), np.zeros(2), np.eye(2)),
    ]:
        try:
            gaussian_kl(*args)
        except (TypeError, ValueError) as error:
            print(f"   {type(error).__name__}: {error}")
    print()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--no-record",
        action="store_true",
        help="print only; do not write docs/results/demo_kl.json",
    )
    args = parser.parse_args(argv)
    torch.set_printoptions(precision=6)
    values = {
        "near_identical": near_identical_pair(),
        "diag_vs_full": diag_equals_full(),
        "numpy_vs_torch": numpy_and_torch(),
    }
    bad_input()
    if not args.no_record:
        path = write_record(
            "demo_kl",
            values,
            command="python bench/demo_kl.py",
            notes="Seeded inputs, deterministic: no spread. Section 1 searches seeded "
            "8x8 pairs for one where torch.distributions goes negative in float32.",
        )
        print(f"record: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
