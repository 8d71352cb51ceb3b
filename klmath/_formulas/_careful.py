r"""Private: the non-negative building blocks every closed form here is a sum of.

Each closed form in :mod:`klmath._formulas` is written, where the mathematics allows,
as a sum of terms that are each ≥ 0 and each exactly 0 when p = q, evaluated so that
a tiny term keeps its relative accuracy. Then the sum is ≥ 0 by construction, exactly
0 for identical arguments, and accurate relative to the result near p = q, where the
textbook forms cancel to rounding noise (how torch returns −1.1e−16 for KL(p ‖ p)).
The blocks:

* :func:`ratio_term`: :math:`r - 1 - \log r` for :math:`r = a/b` (eᵛ − 1 − v with
  v = log r, from :mod:`klmath.gaussian`);
* :func:`rel_entr_term`: :math:`a\log(a/b) - a + b`, the generalised relative entropy
  (``scipy.special.kl_div``), whose sum over a probability vector is KL;
* :func:`lgamma_bregman`: :math:`\ln\Gamma(y) - \ln\Gamma(x) - \psi(x)(y - x)`, the
  Bregman divergence of the convex :math:`\ln\Gamma` (Gamma, Beta, Dirichlet, Gumbel).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from klmath.gaussian import _expm1_minus_x, _log_ratio

if TYPE_CHECKING:
    import torch

__all__ = [
    "cb_log_normalizer",
    "cb_mean",
    "cb_variance",
    "expm1_minus_x",
    "lgamma_bregman",
    "log_ratio",
    "ratio_term",
    "rel_entr_term",
]

#: eᵛ − 1 − v ≥ 0, a few ulps relative to itself (Taylor series for |v| < 1/4).
expm1_minus_x = _expm1_minus_x
#: log(a/b) for a, b > 0, as log1p((a − b)/b) when a/b is near 1.
log_ratio = _log_ratio

# φ(t) = t eᵗ − eᵗ + 1 = Σ_{k≥2} (k − 1) tᵏ / k!, used for |t| < 1/4: the first
# omitted term (k = 17) is below 1e−18 of the sum there.
_PHI_RADIUS = 0.25
_PHI_COEFFS = tuple((k - 1) / math.factorial(k) for k in range(2, 17))

# lnΓ Bregman series: for |y − x| ≤ x/8 each term is ≤ 1/8 of the previous one, and 20
# terms leave < 8⁻²⁰ ≈ 1e−18 of the sum. Above 1e14, ζ(21, x) underflows and the direct
# form is used (a shape parameter beyond 1e14 is not a practical case).
_LGAMMA_SERIES_RATIO = 0.125
_LGAMMA_SERIES_TERMS = 20
_LGAMMA_SERIES_MAX_X = 1e14


def ratio_term(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a/b − 1 − log(a/b) ≥ 0 for a, b > 0: exactly 0 when a = b, relative accuracy near it."""
    return expm1_minus_x(log_ratio(a, b))


def rel_entr_term(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    r"""a log(a/b) − a + b ≥ 0 for a, b ≥ 0, with the conventions of ``scipy.special.kl_div``.

    0 log 0 = 0 (so a = 0 gives b) and a log(a/0) = ∞ for a > 0. With t = log(a/b),
    the term is b φ(t), φ(t) = t eᵗ − eᵗ + 1 = Σ_{k≥2} (k−1) tᵏ/k!, summed as a series
    for |t| < 1/4 (the direct form a t − (a − b) cancels there) and directly beyond.
    Summed over two probability vectors it is KL, since Σ(b − a) = 0.
    """
    import torch

    both = (a > 0) & (b > 0)
    one = torch.ones_like(a)
    sa, sb = torch.where(both, a, one), torch.where(both, b, one)
    t = log_ratio(sa, sb)
    small = t.abs() < _PHI_RADIUS
    ts = torch.where(small, t, 0.0)
    acc = torch.full_like(ts, _PHI_COEFFS[-1])
    for c in reversed(_PHI_COEFFS[:-1]):
        acc = acc * ts + c
    series = sb * acc * ts * ts
    direct = sa * t - (sa - sb)
    inside = torch.where(small, series, direct).clamp_min(0.0)
    edge = torch.where(a > 0, torch.full_like(a, math.inf), b)  # b = 0 < a: ∞; a = 0: b
    return torch.where(both, inside, edge)


def lgamma_bregman(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r"""lnΓ(y) − lnΓ(x) − ψ(x)(y − x) ≥ 0 for x, y > 0 (lnΓ is convex).

    Near y = x the three terms cancel; there (|y − x| ≤ x/8, 10⁻³ ≤ x ≤ 10¹²) the sum
    is its Taylor series, with ψ⁽ᵏ⁻¹⁾(x) = (−1)ᵏ (k−1)! ζ(k, x) (Hurwitz zeta):

    .. math:: \sum_{k\ge2} \frac{(-1)^k}{k}\,\zeta(k, x)\,(y - x)^k,

    written as Σ (−1)ᵏ/k · [ζ(k, x) xᵏ] · hᵏ with h = (y − x)/x so nothing overflows:
    ζ(k, x) xᵏ = Σₙ (x/(n + x))ᵏ lies in [1, 1 + x/(k − 1)], computed as
    1 + xᵏ ζ(k, x + 1) for x < 1 and as exp(log ζ(k, x) + k log x) above.
    Exactly 0 when y = x.
    """
    import torch

    delta = y - x
    h = delta / x
    near = (h.abs() <= _LGAMMA_SERIES_RATIO) & (x <= _LGAMMA_SERIES_MAX_X)
    xs = torch.where(near, x, torch.ones_like(x))
    hs = torch.where(near, h, torch.zeros_like(h))
    series = torch.zeros_like(hs)
    power = hs * hs
    log_x = torch.log(xs)
    below_one = xs < 1
    shifted = torch.where(below_one, xs + 1, xs)
    for k in range(2, _LGAMMA_SERIES_TERMS + 2):
        tail = torch.exp(torch.log(torch.special.zeta(float(k), shifted)) + k * log_x)
        scaled = torch.where(below_one, 1.0 + tail, tail)
        series = series + ((-1.0) ** k / k) * scaled * power
        power = power * hs
    direct = torch.lgamma(y) - torch.lgamma(x) - torch.digamma(x) * delta
    value = torch.where(near, series, direct)
    return torch.where(delta == 0, torch.zeros_like(value), value.clamp_min(0.0))


# --------------------------------------------------------------------------- continuous Bernoulli


def _bernoulli_numbers(count: int) -> list[float]:
    """B₂, B₄, ..., B_{2·count} (exact rationals, Akiyama–Tanigawa), as floats."""
    from fractions import Fraction

    size = 2 * count + 1
    row = [Fraction(0)] * (size + 1)
    numbers = []
    for m in range(size + 1):
        row[m] = Fraction(1, m + 1)
        for j in range(m, 0, -1):
            row[j - 1] = j * (row[j - 1] - row[j])
        numbers.append(row[0])
    return [float(numbers[2 * n]) for n in range(1, count + 1)]


# log(sinh h / h) = Σ_{n≥1} cₙ h²ⁿ, cₙ = 2²ⁿ B₂ₙ / (2n (2n)!); for |h| < 1/2 successive
# terms shrink by about (h/π)² < 0.026, so 14 terms leave < 1e−20 of the sum.
_SINHC_RADIUS = 0.5
_SINHC_COEFFS = tuple(
    2.0 ** (2 * n) * b / (2 * n * math.factorial(2 * n))
    for n, b in enumerate(_bernoulli_numbers(14), start=1)
)


def _series(h: torch.Tensor, coeffs: tuple[float, ...], first_power: int) -> torch.Tensor:
    """Σᵢ coeffs[i] h^(first_power + 2i), by Horner in h²."""
    import torch

    h2 = h * h
    acc = torch.zeros_like(h) + coeffs[-1]
    for c in reversed(coeffs[:-1]):
        acc = acc * h2 + c
    return acc * h**first_power


def cb_log_normalizer(eta: torch.Tensor) -> torch.Tensor:
    r"""A(η) = log ∫₀¹ e^{ηx} dx = log((e^η − 1)/η), the continuous Bernoulli's log-normalizer.

    Written as η/2 + S(η/2) with S(h) = log(sinh h / h) (even, ≥ 0): a series for
    |h| < 1/2, else |h| + log1p(−e^{−2|h|}) − log(2|h|), which never overflows.
    """
    import torch

    h = eta / 2
    small = h.abs() < _SINHC_RADIUS
    hs = torch.where(small, h, torch.zeros_like(h))
    ha = torch.where(small, torch.ones_like(h), h.abs())
    far = ha + torch.log1p(-torch.exp(-2 * ha)) - torch.log(2 * ha)
    return h + torch.where(small, _series(hs, _SINHC_COEFFS, 2), far)


def cb_mean(eta: torch.Tensor) -> torch.Tensor:
    """A'(η) = E[x] = 1/2 + (coth h − 1/h)/2 with h = η/2 (series for |h| < 1/2)."""
    import torch

    h = eta / 2
    small = h.abs() < _SINHC_RADIUS
    hs = torch.where(small, h, torch.zeros_like(h))
    ha = torch.where(small, torch.ones_like(h), h)
    coeffs = tuple(2 * n * c for n, c in enumerate(_SINHC_COEFFS, start=1))
    far = 1 / torch.tanh(ha) - 1 / ha
    return 0.5 + 0.5 * torch.where(small, _series(hs, coeffs, 1), far)


def cb_variance(eta: torch.Tensor) -> torch.Tensor:
    """A''(η) = Var[x] = (1/h² − 1/sinh² h)/4 with h = η/2 (series for |h| < 1/2)."""
    import torch

    h = eta / 2
    small = h.abs() < _SINHC_RADIUS
    hs = torch.where(small, h, torch.zeros_like(h))
    ha = torch.where(small, torch.ones_like(h), h)
    coeffs = tuple(2 * n * (2 * n - 1) * c for n, c in enumerate(_SINHC_COEFFS, start=1))
    far = 1 / (ha * ha) - 1 / torch.sinh(ha) ** 2
    return 0.25 * torch.where(small, _series(hs, coeffs, 0), far)
