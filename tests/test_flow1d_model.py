"""models.flow1d: the data it trains on, and a short end-to-end run of the script."""

from __future__ import annotations

import json
import math

import numpy as np
import torch
from scipy import integrate

from models.flows import flow1d as script
from models.flows.flow1d_cli import main

# the data mixture ¼N(−1, .25²) + ¼N(.2, .25²) + ½N(1.5, .25²), moments by hand
MEAN = 0.25 * -1.0 + 0.25 * 0.2 + 0.5 * 1.5
SECOND = 0.25 * (1.0 + 0.0625) + 0.25 * (0.04 + 0.0625) + 0.5 * (2.25 + 0.0625)
VAR = SECOND - MEAN**2


def test_data_density_is_the_stated_mixture():
    total, err = integrate.quad(
        lambda x: math.exp(script.data_log_pdf(np.array(x))), -np.inf, np.inf, points=None
    )
    assert abs(total - 1) <= 10 * err + 1e-10
    mean, _ = integrate.quad(lambda x: x * math.exp(script.data_log_pdf(np.array(x))), -6, 7)
    assert abs(mean - MEAN) <= 1e-10
    # finite far out, where the plain sum of densities underflows
    assert math.isfinite(float(script.data_log_pdf(np.array(60.0))))


def test_data_samples_have_the_mixture_moments():
    n = 20_000
    x = script.sample_data(n, torch.Generator().manual_seed(7))
    assert x.dtype == torch.float64 and x.shape == (n,)
    se = math.sqrt(VAR / n)
    assert abs(float(x.mean()) - MEAN) <= 4 * se
    # the sample variance's standard error uses the fourth central moment; 4·var·√(2/n)
    # bounds it generously for this light-tailed mixture
    assert abs(float(x.var()) - VAR) <= 4 * VAR * math.sqrt(2 / n) * 2


def test_short_run_writes_a_consistent_report_and_plots(tmp_path):
    report = main(
        [
            "--out",
            str(tmp_path),
            "--seeds",
            "1",
            "--epochs",
            "3",
            "--n-samples",
            "600",
            "--batch-size",
            "200",
            "--n-test",
            "300",
            "--n-draws",
            "2000",
            "--device",
            "cpu",
            "--quiet",
        ]
    )["results"]
    on_disk = json.loads((tmp_path / "report.json").read_text())
    assert set(on_disk["results"]["models"]) == {"seed", "fixed"}
    assert on_disk["results"]["setup"]["steps"] == 3 * 3
    for variant in ("seed", "fixed"):
        assert (tmp_path / f"flow1d_{variant}.png").stat().st_size > 10_000
        model = report["models"][variant]
        assert len(model["runs"]) == 1
        for run in model["runs"]:
            # KL ≥ 0 up to quadrature error; the quadrature mass agrees with the closed form
            assert run["kl_nats"] >= -10 * run["kl_quad_error"]
            assert run["missing_mass_abs_diff"] <= 1e-6 and run["missing_mass_matches_1e-6"]
            assert abs(run["mass_quad"] - run["mass_closed_form"]) <= 1e-9
            sampling = run["sampling"]
            if variant == "fixed":
                assert run["mass_closed_form"] == 1.0 and sampling["n_no_preimage"] == 0
            else:
                # draws without a preimage: Binomial(n, missing mass), judged in std errors
                n, p = sampling["n_draws"], run["missing_mass_closed_form"]
                sd = math.sqrt(n * p * (1 - p))
                assert abs(sampling["n_no_preimage"] - n * p) <= 5 * sd + 1
            assert sampling["max_roundtrip_error_z"] <= 1e-12
            assert math.isfinite(run["test_nll"])
