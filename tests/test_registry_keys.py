"""The registry's keys, messages and fallbacks: what a user registering a formula relies on.

Registrations go to private copies of the tables (the ``registry`` fixture), and the
torch rule registered below is removed again, so nothing leaks into other tests.
"""

from __future__ import annotations

import math
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import mpmath as mp
import pytest
import scipy.stats
import torch
from torch.distributions import (
    AffineTransform,
    Normal,
    StudentT,
    TransformedDistribution,
)
from torch.distributions import kl as torch_kl

import klmath.registry as registry_module
from klmath import (
    KLAmbiguityWarning,
    KLMonteCarloWarning,
    entropy,
    kl,
    register_entropy,
    register_kl,
)
from klmath.registry import chain


class Coin:
    """A fair coin in klmath's sample / log_prob protocol: H = log 2."""

    event_shape = ()

    def sample(self, n: int, rng: Any) -> Any:
        return rng.integers(0, 2, n)

    def log_prob(self, x: Any) -> Any:
        import numpy as np

        return np.full(np.shape(x), -math.log(2.0))


class MyNormal(Normal):
    """A user subclass of a torch class: keyed by itself, then by torch.Normal."""


@pytest.mark.usefixtures("registry")
def test_a_registered_entropy_is_used_for_its_class() -> None:
    register_entropy(Coin)(lambda p: math.log(2.0))
    res = entropy(Coin())
    assert res.exact and res.value == math.log(2.0)
    assert "test_registry_keys" in res.formula


@pytest.mark.parametrize("key", [3, "", "torch.", "scipy.", "mypackage.Dist"])
def test_bad_keys_are_refused_naming_the_argument(key: Any) -> None:
    # "torch." and "scipy." name no class; a dotted name other than torch./scipy. is
    # neither a torch class name nor a scipy family.
    for call, argument in [
        (lambda: register_kl(key, Normal), "type_p"),
        (lambda: register_kl(Normal, key), "type_q"),
        (lambda: register_entropy(key), "type_p"),
    ]:
        with pytest.raises(TypeError, match=rf"^{argument} must be a class, a torch class name"):
            call()


def test_registering_by_name_imports_neither_torch_nor_scipy() -> None:
    # The module's promise: keys are names, so registering costs no import (even a
    # refused key).
    code = (
        "import sys, klmath\n"
        "klmath.register_kl('torch.Gamma', 'lognorm')(lambda p, q: 0.0)\n"
        "klmath.register_entropy('scipy.lognorm')(lambda p: 0.0)\n"
        "try:\n"
        "    klmath.register_kl(3, 'norm')\n"
        "except TypeError:\n"
        "    pass\n"
        "print(sorted(m for m in ('torch', 'scipy.stats') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out


def test_a_scipy_multivariate_family_is_keyed_as_its_frozen_objects() -> None:
    # scipy.stats.multivariate_normal is an instance of multivariate_normal_gen; its
    # frozen objects look up "scipy.multivariate_normal", the key of the name too.
    key = registry_module._key("type_p", scipy.stats.multivariate_normal)
    assert key == registry_module._key("type_p", "multivariate_normal")
    assert key == chain(scipy.stats.multivariate_normal(mean=[0.0, 0.0]))[0]
    assert registry_module._key("type_p", scipy.stats.norm) == chain(scipy.stats.norm())[0]


@pytest.mark.usefixtures("registry")
def test_ambiguity_message_spells_torch_and_scipy_keys_as_register_kl_takes_them() -> None:
    register_kl(MyNormal, "torch.Normal")(lambda p, q: 1.0)
    register_kl(Normal, MyNormal)(lambda p, q: 2.0)
    with pytest.warns(KLAmbiguityWarning) as record:
        kl(MyNormal(0.0, 1.0), MyNormal(1.0, 1.0))
    assert str(record[0].message) == (
        "ambiguous kl() registrations for (MyNormal, MyNormal): (MyNormal, Normal) and "
        "(Normal, MyNormal) match equally well; using the first. Settle it with "
        "register_kl(MyNormal, MyNormal)"
    )
    # (klmath has no formula for Maxwell pairs, so the two are the best matches.)
    register_kl("maxwell", object)(lambda p, q: 1.0)
    register_kl(object, scipy.stats.maxwell)(lambda p, q: 2.0)
    with pytest.warns(KLAmbiguityWarning) as record:
        kl(scipy.stats.maxwell(), scipy.stats.maxwell(scale=2.0))
    assert str(record[0].message) == (
        "ambiguous kl() registrations for ('maxwell', 'maxwell'): ('maxwell', object) and "
        "(object, 'maxwell') match equally well; using the first. Settle it with "
        "register_kl('maxwell', 'maxwell')"
    )


class MyTransformed(TransformedDistribution):
    """A user subclass, so that a user's torch rule for it is the most specific one."""


def _pair(grad: str = "") -> tuple[Any, Any]:
    """Two transformed Gaussians with different transforms: klmath's formula declines.

    ``grad`` names p's parameter that requires grad: "loc" (of the base), "scale" (of
    the transform), or none.
    """
    loc = torch.tensor(0.3, dtype=torch.float64, requires_grad=grad == "loc")
    scale = torch.tensor(1.5, dtype=torch.float64, requires_grad=grad == "scale")
    p = MyTransformed(Normal(loc, 1.0), [AffineTransform(0.0, scale)])
    q = MyTransformed(
        Normal(torch.tensor(0.0, dtype=torch.float64), 1.0), [AffineTransform(0.0, 2.0)]
    )
    return p, q


@pytest.fixture
def user_torch_rule() -> Iterator[None]:
    """A user's rule in torch's own registry for (MyTransformed, MyTransformed)."""

    def rule(p: Any, q: Any) -> torch.Tensor:
        return 7.0 + p.base_dist.loc**2 + p.transforms[0].scale ** 3

    key = (MyTransformed, MyTransformed)
    assert key not in torch_kl._KL_REGISTRY
    torch_kl.register_kl(*key)(rule)
    try:
        yield
    finally:
        del torch_kl._KL_REGISTRY[key]
        torch_kl._KL_MEMOIZE.clear()


def test_where_klmath_declines_a_torch_pair_monte_carlo_runs() -> None:
    # (torch's own rule for transformed pairs needs equal transforms: it would raise.)
    p, q = _pair()
    with pytest.warns(KLMonteCarloWarning):
        res = kl(p, q, n=20_000, seed=0)
    # The pair is N(0.45, 1.5²) against N(0, 2²) in disguise.
    exact = math.log(2.0 / 1.5) + (1.5**2 + 0.45**2) / (2 * 2.0**2) - 0.5
    assert not res.exact and abs(float(res.value) - exact) <= 4 * float(res.stderr)


@pytest.mark.usefixtures("user_torch_rule")
@pytest.mark.parametrize(("grad", "derivative"), [("loc", 2 * 0.3), ("scale", 3 * 1.5**2)])
def test_where_klmath_declines_a_users_torch_rule_is_used_with_its_gradient(
    grad: str, derivative: float
) -> None:
    # klmath's own formulas cover torch's registry; a rule the user added to torch's
    # registry is theirs to trust, and kl() keeps its autograd graph.
    # The parameter sits in a nested object (the base distribution, the transform); p
    # also refers to itself, which the search for such parameters must not follow forever.
    p, q = _pair(grad)
    p.me = p
    res = kl(p, q)
    assert res.exact and res.formula == "torch.distributions.kl_divergence"
    assert float(res.value.detach()) == pytest.approx(7.0 + 0.3**2 + 1.5**3, rel=1e-15)
    assert res.value.requires_grad
    param = p.base_dist.loc if grad == "loc" else p.transforms[0].scale
    (got,) = torch.autograd.grad(res.value, param)
    assert float(got) == pytest.approx(derivative, rel=1e-15)


@pytest.mark.usefixtures("user_torch_rule")
def test_a_torch_rule_value_without_grad_parameters_carries_no_graph() -> None:
    # The rule's own graph is dropped when no parameter of p or q asks for one.
    p, q = _pair()
    assert not kl(p, q).value.requires_grad


def test_a_torch_family_without_klmath_entropy_uses_torchs_checked_at_30_digits() -> None:
    # Student t with ν = 3: H = −∫ p log p by quadrature.
    res = entropy(StudentT(torch.tensor(3.0, dtype=torch.float64)))
    assert res.exact and res.formula == "torch.distributions.StudentT.entropy"
    with mp.workdps(30):
        nu = mp.mpf(3)
        c = mp.gamma((nu + 1) / 2) / (mp.sqrt(nu * mp.pi) * mp.gamma(nu / 2))

        def integrand(x: mp.mpf) -> mp.mpf:
            logp = mp.log(c) - (nu + 1) / 2 * mp.log1p(x**2 / nu)
            return -mp.exp(logp) * logp

        ref = 2 * mp.quad(integrand, [0, 1, 10, mp.inf])
    assert float(res.value) == pytest.approx(float(ref), rel=1e-12)
