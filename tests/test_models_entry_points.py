"""Every ``python -m models.NAME``: the common options, a 1-batch CPU smoke run that honours
them, kill-and-resume equal to an uninterrupted run, and refused resumes.

The models read a small fake data root (tests/models_support.py); the catalog is
pointed at its checksums, so data verification runs as usual.
"""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from models_support import (
    Interrupted,
    interrupt_after_saves,
    use_fake_catalog,
    without_timings,
    write_fake_root,
)

from models.anomaly.cli import main as autoencoder
from models.flows.flow1d_cli import main as flow1d
from models.flows.realnvp_cli import main as realnvp
from models.kit import UserError
from models.kit.cli import COMMON_OPTIONS
from models.vae.cli import main as vae

# One batch per epoch, tiny widths: each entry point in about a second.
SMOKE: dict[str, tuple[Any, list[str]]] = {
    "autoencoder": (autoencoder, [
        "--n-validation", "100", "--n-train", "120", "--holdout", "20", "--batch-size", "100",
        "--latent-dim", "4", "--hidden", "8", "--n-test", "50", "--no-plots"]),
    "flow1d": (flow1d, [
        "--model", "seed", "--seeds", "1", "--n-samples", "200", "--batch-size", "200",
        "--n-test", "100", "--n-draws", "200"]),
    "realnvp": (realnvp, [
        "--n-train", "64", "--batch-size", "64", "--n-test", "100", "--n-kl", "100",
        "--layers", "2", "--hidden", "8"]),
    "vae_linear": (vae, [
        "--linear", "--n", "40", "--polish-steps", "3", "--n-models", "2", "--lr", "0.05"]),
    "vae": (vae, [
        "--n-train", "64", "--batch-size", "64", "--n-validation", "100", "--n-test", "30",
        "--latent-dim", "4", "--iwae-k", "4", "--iwae-subset", "2", "--score-samples", "1"]),
}  # fmt: skip
MODULES = ["autoencoder", "anomaly", "flow1d", "realnvp", "vae"]


@pytest.fixture
def data_root(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path_factory.mktemp("data")
    use_fake_catalog(monkeypatch, write_fake_root(root))
    return root


@pytest.fixture
def records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KLMATH_RECORDS", str(tmp_path / "records"))
    return tmp_path / "records"


def _run(name: str, out: Path, data_root: Path, *extra: str, epochs: int = 1) -> dict:
    main, args = SMOKE[name]
    threads = torch.get_num_threads()
    try:
        return main([*args, "--epochs", str(epochs), "--out", str(out), "--data-root",
                     str(data_root), "--device", "cpu", "--quiet", *extra])  # fmt: skip
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("module", MODULES)
def test_help_lists_the_common_options(
    module: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", [module, "--help"])
    with pytest.raises(SystemExit) as info:
        runpy.run_module(f"models.{module}", run_name="__main__")
    assert info.value.code == 0
    text = capsys.readouterr().out
    prog = "autoencoder" if module == "anomaly" else module  # models.anomaly is the same script
    assert text.startswith(f"usage: python -m models.{prog} ")
    for option in COMMON_OPTIONS:
        assert f"--{option.replace('_', '-')}" in text, option


@pytest.mark.parametrize("name", list(SMOKE))
def test_smoke_run_honours_the_common_options(
    name: str, tmp_path: Path, data_root: Path, records: Path, capsys
) -> None:
    out = tmp_path / "out"
    extra = ["--k", "2.5", "--alpha", "0.05"] if name in ("autoencoder", "vae") else []
    report = _run(
        name, out, data_root, "--seed", "3", "--threads", "1", "--record", "smoke", *extra
    )
    assert json.loads((out / "report.json").read_text()) == report
    assert (out / "report.md").is_file()
    meta, config = report["metadata"], report["config"]
    assert (meta["device"], meta["threads"]) == ("cpu", 1)
    assert config["seed"] == 3 and config["epochs"] == 1 and config["out"] == str(out)
    assert all(option in config for option in COMMON_OPTIONS)
    assert list(out.glob("checkpoint*.pt"))  # a checkpoint per epoch
    for plot in report["plots"]:
        assert (out / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    record = json.loads((records / "smoke.json").read_text())
    assert record["command"].startswith("python -m models.") and record["device"] == "cpu"
    assert record["values"]["config"]["seed"] == 3
    assert capsys.readouterr().err == ""  # --quiet: no progress bars
    if extra:  # the detectors' report and plot labels follow --k and --alpha
        results = report["results"].get("anomaly", report["results"])
        assert results["k"] == 2.5 and results["quantile_threshold"]["alpha"] == 0.05
        assert results["cantelli_type_i_bound"] == pytest.approx(1 / (1 + 2.5**2))


def _weights(out: Path) -> list[dict]:
    return [
        torch.load(p, weights_only=False)["modules"] for p in sorted(out.glob("checkpoint*.pt"))
    ]


@pytest.mark.parametrize("name", list(SMOKE))
def test_kill_and_resume_equals_an_uninterrupted_run(
    name: str, tmp_path: Path, data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    epochs = 60 if name == "vae_linear" else 2  # the linear VAE checkpoints every 50 epochs
    straight = _run(name, tmp_path / "a", data_root, epochs=epochs)
    with monkeypatch.context() as m:
        interrupt_after_saves(m, 1)
        with pytest.raises(Interrupted):
            _run(name, tmp_path / "b", data_root, epochs=epochs)
    torch.randn(100)  # whatever ran in between, the checkpoint restores the RNG
    resumed = _run(name, tmp_path / "b", data_root, "--resume", epochs=epochs)
    a, b = without_timings(straight), without_timings(resumed)
    a["config"].pop("out"), b["config"].pop("out")
    assert b["config"].pop("resume") and not a["config"].pop("resume")
    assert a["results"] == b["results"] and a["history"] == b["history"]
    for wa, wb in zip(_weights(tmp_path / "a"), _weights(tmp_path / "b"), strict=True):
        for module in wa:
            for key, value in wa[module].items():
                assert torch.equal(value, wb[module][key]), (module, key)
    # resuming with an option that shapes the model is refused, naming the option
    option, value = CHANGED[name]
    with pytest.raises(UserError, match=f"trained with {option} .* this run has {option} "):
        _run(name, tmp_path / "b", data_root, "--resume", option, value, epochs=epochs)


CHANGED = {
    "autoencoder": ("--latent-dim", "5"),
    "flow1d": ("--lr", "0.01"),
    "realnvp": ("--hidden", "9"),
    "vae_linear": ("--seed", "1"),
    "vae": ("--batch-size", "32"),
}


@pytest.mark.parametrize("name", list(SMOKE))
def test_resume_without_checkpoint_is_an_error(name: str, tmp_path: Path, data_root: Path) -> None:
    with pytest.raises(UserError, match="--resume: no checkpoint"):
        _run(name, tmp_path, data_root, "--resume")


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        pytest.param(["--device", "tpu"], "--device 'tpu' is not a device name", id="device"),
        pytest.param(["--epochs", "0"], "--epochs must be positive, got 0", id="epochs"),
        pytest.param(["--k", "-1"], "--k must be positive", id="k"),
        pytest.param(["--threads", "0"], "--threads must be at least 1", id="threads"),
        pytest.param(
            ["--n-validation", "50"], "--alpha 0.01 needs --n-validation >= 99", id="alpha"
        ),
    ],
)
def test_bad_options_are_user_errors(argv: list[str], match: str, tmp_path: Path) -> None:
    with pytest.raises(UserError, match=match):
        autoencoder([*argv, "--out", str(tmp_path / "x")])
    assert not (tmp_path / "x").exists()
