"""The convolutional MNIST VAE: its KL term, its importance-weighted bound, a smoke run.

The KL term (:func:`klmath.gaussian_kl_diag`) is compared with a Monte Carlo
estimate (:func:`klmath.mc_kl`) judged in standard errors; the log-weights of the
importance-weighted bound with the densities of ``torch.distributions``; the script
end to end on a few hundred real images, checking the report's invariants.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch.distributions import Bernoulli, Independent, Normal

import klmath
from models.data import MissingDataError, resolve_data_root
from models.vae.cli import main
from models.vae.conv import ConvVAE, iw_bound, nats_to_bits_per_dim


def _encoder_with_spread(seed: int) -> ConvVAE:
    # A fresh encoder outputs μ ≈ 0, σ² ≈ 1 (KL ≈ 0); scaling its last layer gives
    # posteriors with O(1) means and variances over a wide range, a harder test.
    torch.manual_seed(seed)
    model = ConvVAE(latent_dim=8)
    with torch.no_grad():
        model.encoder[-1].weight.mul_(30.0)
        model.encoder[-1].bias.normal_(0.0, 1.0)
    return model.double()


def _binary_images(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.bernoulli(torch.rand(n, 1, 28, 28, generator=g, dtype=torch.float64), generator=g)


def test_kl_term_matches_monte_carlo_within_4_standard_errors() -> None:
    model = _encoder_with_spread(0)
    x = _binary_images(6, 1)
    with torch.no_grad():
        mean, var = model.encode(x)
        kl = model.kl_prior(mean, var)
    q = Independent(Normal(mean, var.sqrt()), 1)
    prior = Independent(Normal(torch.zeros_like(mean), torch.ones_like(mean)), 1)
    # k1 (the plain mean of log q − log p): for Gaussians the log-ratio is a
    # quadratic form with light tails, so its standard error is trustworthy; k3
    # contains the ratio p/q itself, heavy-tailed when the variances differ a lot.
    mc = klmath.mc_kl(q, prior, 5000, estimator="k1", seed=0)
    value = torch.as_tensor(np.asarray(mc.value), dtype=torch.float64)
    stderr = torch.as_tensor(np.asarray(mc.stderr), dtype=torch.float64)
    assert value.shape == kl.shape == (6,)
    assert torch.isfinite(value).all() and torch.isfinite(stderr).all()
    assert (kl > 0.5).all()  # the test is not about KL ≈ 0
    assert ((kl - value).abs() <= 4 * stderr).all(), (kl - value) / stderr


def test_iw_log_weights_match_torch_distributions() -> None:
    # With k = 1, L_1 = log p(x|z) + log p(z) − log q(z|x) at one draw z; recompute
    # it from the same draw with torch.distributions densities.
    model = _encoder_with_spread(2)
    x = _binary_images(4, 3)
    torch.manual_seed(7)
    got = iw_bound(model, x, k=1)
    torch.manual_seed(7)
    with torch.no_grad():
        mean, var = model.encode(x)
        z = mean + var.sqrt() * torch.randn((1, *mean.shape), dtype=mean.dtype)
        logits = model.decode(z)
        ref = (
            Independent(Bernoulli(logits=logits), 3).log_prob(x.expand_as(logits))
            + Independent(Normal(torch.zeros_like(z), 1.0), 1).log_prob(z)
            - Independent(Normal(mean, var.sqrt()), 1).log_prob(z)
        )[0]
    torch.testing.assert_close(got, ref, rtol=1e-12, atol=1e-9)


def test_iw_bound_grows_with_k_and_stays_above_the_elbo() -> None:
    # E[L_k] is non-decreasing in k and L_1 is an unbiased ELBO estimate. Averaged
    # over 8 images and a fixed seed, L_200 must clear the 64-sample ELBO estimate.
    model = _encoder_with_spread(4)
    x = _binary_images(8, 5)
    torch.manual_seed(0)
    with torch.no_grad():
        elbo = model.elbo(x, n_samples=64)[0]
        bound = iw_bound(model, x, k=200, chunk=64)
    assert torch.isfinite(bound).all()
    assert bound.mean() > elbo.mean()


def test_bits_per_dim_conversion() -> None:
    assert nats_to_bits_per_dim(784 * math.log(2.0)) == pytest.approx(1.0, rel=1e-15)


def test_smoke_run_on_real_images(tmp_path) -> None:
    try:
        root = resolve_data_root(name="kmnist")
    except MissingDataError as err:
        pytest.skip(f"MNIST/KMNIST not available: {err}")
    threads = torch.get_num_threads()
    try:
        report = main(
            ["--epochs", "1", "--n-train", "256", "--n-validation", "200", "--n-test", "150",
             "--iwae-k", "16", "--iwae-subset", "6", "--score-samples", "1", "--alpha", "0.05",
             "--device", "cpu", "--quiet", "--data-root", str(root), "--out", str(tmp_path)]
        )  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    on_disk = json.loads((tmp_path / "report.json").read_text())
    results = report["results"]
    assert on_disk["results"]["iw_bound"]["k"] == 16 and results["data"]["n_train"] == 256
    for name in ("samples.png", "reconstructions.png", "training.png", "anomaly_scores.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert (tmp_path / "checkpoint.pt").exists()
    d = results["data"]
    assert (d["n_validation"], d["n_test"], d["n_kmnist"]) == (200, 150, 150)
    for key in ("test_nll_elbo", "iw_bound"):
        r = results[key]
        assert 0 < r["nats"] < math.inf
        assert r["bits_per_dim"] == pytest.approx(r["nats"] / (784 * math.log(2.0)), rel=1e-12)
    a = results["anomaly"]
    assert 0.0 <= a["type_i_error"] <= 1.0 and 0.0 <= a["type_ii_error"] <= 1.0
    assert 0.0 <= a["auroc"] <= 1.0 and math.isfinite(a["threshold"])
    assert results["training"]["epochs"] == 1 and len(report["history"]) == 1
