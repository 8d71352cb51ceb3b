"""models.autoencoder: the detector's contract and the seed's pipeline on a subset of real data."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from models.anomaly import AutoencoderDetector
from models.anomaly.cli import main
from models.data import MissingDataError, load_dataset, resolve_data_root, split_indices
from models.kit import UserError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _small_images(n: int = 300, seed: int = 0) -> np.ndarray:
    """Blurry random strokes: uint8 (n, 28, 28), cheap stand-ins for digits."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 28, 28), np.float64)
    rows = rng.integers(6, 22, size=n)
    x[np.arange(n), rows, 6:22] = 1.0
    x[np.arange(n), 6:22, rows] = 1.0
    return (255 * x).astype(np.uint8)


def _weights(det: AutoencoderDetector) -> list[torch.Tensor]:
    return [p.detach().clone() for p in det.model.parameters()]


# -- detector ------------------------------------------------------------------------------------
def test_fit_is_deterministic_on_cpu() -> None:
    x = _small_images()
    kw: dict[str, Any] = {"epochs": 2, "holdout": 100, "latent_dim": 8, "hidden": 32}
    a = AutoencoderDetector(seed=3, device="cpu", **kw).fit(x, progress=False)
    b = AutoencoderDetector(seed=3, device="cpu", **kw).fit(x, progress=False)
    c = AutoencoderDetector(seed=4, device="cpu", **kw).fit(x, progress=False)
    assert all(torch.equal(p, q) for p, q in zip(_weights(a), _weights(b), strict=True))
    assert not all(torch.equal(p, q) for p, q in zip(_weights(a), _weights(c), strict=True))


def test_resume_matches_uninterrupted_fit(tmp_path: Path) -> None:
    x = _small_images()
    kw: dict[str, Any] = {"holdout": 100, "latent_dim": 8, "hidden": 32, "device": "cpu"}
    straight = AutoencoderDetector(epochs=3, **kw).fit(x, progress=False)
    ckpt = tmp_path / "ckpt.pt"
    with pytest.raises(_Interrupt):  # a run killed after its first epoch's checkpoint
        AutoencoderDetector(epochs=3, **kw).fit(
            x, checkpoint=ckpt, progress=False, on_epoch=_stop_after(1)
        )
    assert torch.load(ckpt, weights_only=False)["epoch"] == 1
    resumed = AutoencoderDetector(epochs=3, **kw).fit(
        x, checkpoint=ckpt, resume=True, progress=False
    )
    assert [h["epoch"] for h in resumed.history_] == [1, 2, 3]
    assert resumed.history_ == straight.history_
    assert all(
        torch.equal(p, q) for p, q in zip(_weights(straight), _weights(resumed), strict=True)
    )


class _Interrupt(Exception):
    pass


def _stop_after(n: int) -> Any:
    def on_epoch(epoch: int, record: dict[str, float]) -> None:
        if epoch == n:
            raise _Interrupt

    return on_epoch


def test_scores_predict_and_input_forms() -> None:
    x = _small_images(300)
    det = AutoencoderDetector(epochs=1, holdout=50, latent_dim=4, hidden=16, device="cpu")
    det.fit(x[:200], progress=False).calibrate(x[200:])
    s = det.decision_function(x)
    assert s.shape == (300,) and s.dtype == np.float64 and np.all(s >= 0)
    # the score is the squared error of the reconstruction, computed here independently
    recon = det.reconstruct(x[:5]).astype(np.float64)
    ref = ((x[:5] / 255.0 - recon) ** 2).sum(axis=(1, 2))
    np.testing.assert_allclose(s[:5], ref, rtol=1e-5)  # float32 network output
    np.testing.assert_array_equal(det.decision_function(x.reshape(300, 784)), s)
    np.testing.assert_allclose(
        det.decision_function(x.astype(np.float32) / np.float32(255)), s, rtol=1e-6
    )
    val = det.decision_scores_
    assert val is not None and val.shape == (100,)
    assert det.threshold_ == pytest.approx(val.mean() + 3 * val.std(ddof=1), rel=1e-12)
    np.testing.assert_array_equal(det.predict(x), (s > det.threshold_).astype(int))


def test_conv_architecture_runs() -> None:
    x = _small_images(120)
    det = AutoencoderDetector(arch="conv", epochs=1, holdout=20, latent_dim=4, hidden=8)
    det.fit(x, progress=False)
    assert det.reconstruct(x[:3]).shape == (3, 28, 28)


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        pytest.param(
            lambda d: d.decision_function(np.zeros((2, 28, 27), np.uint8)),
            ValueError,
            r"\(N, 28, 28\) or \(N, 784\), got \(2, 28, 27\)",
            id="shape",
        ),
        pytest.param(
            lambda d: d.decision_function(np.full((1, 28, 28), 255.0)),
            ValueError,
            r"must be in \[0, 1\].*divide by 255",
            id="float-range",
        ),
        pytest.param(
            lambda d: d.decision_function(np.zeros((1, 28, 28), np.int64)),
            TypeError,
            "uint8 .0..255. or float",
            id="int-dtype",
        ),
        pytest.param(
            lambda d: d.decision_function(np.full((1, 28, 28), np.nan)),
            ValueError,
            "NaN",
            id="nan",
        ),
        pytest.param(
            lambda d: d.decision_function(np.zeros((0, 28, 28), np.uint8)),
            ValueError,
            "at least one image",
            id="empty",
        ),
        pytest.param(lambda d: d.predict(_small_images(2)), RuntimeError, "call fit", id="unfit"),
        pytest.param(
            lambda d: d.fit(_small_images(10), progress=False),
            ValueError,
            "holdout=50 must be smaller than the 10",
            id="holdout",
        ),
        pytest.param(
            lambda d: d.fit(_small_images(100), resume=True, checkpoint="/nonexistent/c.pt"),
            UserError,
            "--resume: no checkpoint at /nonexistent/c.pt",
            id="resume-missing",
        ),
        pytest.param(
            lambda d: AutoencoderDetector(arch="vae"), ValueError, "arch must be one of", id="arch"
        ),
        pytest.param(
            lambda d: AutoencoderDetector(latent_dim=0),
            ValueError,
            "latent_dim must be a positive integer",
            id="latent",
        ),
    ],
)
def test_bad_input(call: Any, exc: type[Exception], match: str) -> None:
    det = AutoencoderDetector(epochs=1, holdout=50, latent_dim=4, hidden=16, device="cpu")
    with pytest.raises(exc, match=match):
        call(det)


def test_resume_with_other_options_is_refused(tmp_path: Path) -> None:
    x = _small_images(200)
    ckpt = tmp_path / "c.pt"
    AutoencoderDetector(epochs=1, holdout=50, latent_dim=4, hidden=16).fit(
        x, checkpoint=ckpt, progress=False
    )
    other = AutoencoderDetector(epochs=2, holdout=50, latent_dim=8, hidden=16)
    with pytest.raises(UserError, match="trained with --latent-dim 4, this run has --latent-dim 8"):
        other.fit(x, checkpoint=ckpt, resume=True, progress=False)


def test_split_indices_disjoint_and_seeded() -> None:
    train, val = split_indices(60_000, 10_000, seed=5)
    assert train.size == 50_000 and val.size == 10_000
    assert np.intersect1d(train, val).size == 0
    assert np.union1d(train, val).tolist() == list(range(60_000))
    np.testing.assert_array_equal(split_indices(60_000, 10_000, seed=5)[1], val)
    assert not np.array_equal(split_indices(60_000, 10_000, seed=6)[1], val)


# -- the real pipeline, on a subset -------------------------------------------------------------
SUBSET = [
    "--n-train", "3000", "--n-validation", "1000", "--holdout", "500", "--n-test", "1000",
    "--latent-dim", "32", "--hidden", "64", "--quiet", "--device", "cpu",
]  # fmt: skip


@pytest.fixture(scope="module")
def pipeline_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict]:
    try:
        root = resolve_data_root(name="kmnist")
        load_dataset("fashion-mnist", "test", root)
    except MissingDataError:
        pytest.skip("real MNIST/KMNIST/Fashion-MNIST not found (python -m models.data fetch)")
    out = tmp_path_factory.mktemp("ae")
    first = main([*SUBSET, "--out", str(out), "--epochs", "1", "--data-root", str(root)])
    report1 = json.loads((out / "report.json").read_text())
    assert first["results"]["epochs"] == report1["results"]["epochs"] == 1
    # a second run with --resume continues from the saved epoch 1 to epoch 2
    report2 = main(
        [*SUBSET, "--out", str(out), "--epochs", "2", "--resume", "--data-root", str(root)]
    )
    return out, report1, json.loads(json.dumps(report2))


def test_pipeline_resume_continues_from_saved_epoch(pipeline_run: tuple[Path, dict, dict]) -> None:
    _, report1, report2 = pipeline_run
    assert report2["results"]["epochs"] == 2
    assert [h["epoch"] for h in report2["history"]] == [1, 2]
    assert report2["history"][0] == report1["history"][0]


def test_pipeline_report_invariants(pipeline_run: tuple[Path, dict, dict]) -> None:
    out, _, full = pipeline_run
    report = full["results"]
    saved = np.load(out / "scores.npz")
    val, normal, kmnist = saved["validation"], saved["mnist_test"], saved["kmnist_test"]
    # threshold recomputed from the saved validation scores, mean + 3 std with ddof = 1
    assert report["threshold"] == pytest.approx(val.mean() + 3 * val.std(ddof=1), rel=1e-12)
    assert report["type_i_error"] == np.mean(normal > report["threshold"])
    assert report["type_ii_error"] == np.mean(kmnist <= report["threshold"])
    for r in (report, report["fashion"], report["quantile_threshold"]):
        for key in ("type_i_error", "type_ii_error", "auroc", "average_precision"):
            if key in r:
                assert 0.0 <= r[key] <= 1.0, key
    assert report["cantelli_type_i_bound"] == pytest.approx(0.1)
    q = report["quantile_threshold"]
    m = int(np.ceil((1 - q["alpha"]) * (val.size + 1)))
    assert q["threshold"] == np.sort(val)[m - 1]
    assert report["sizes"] == {
        "mnist_train_total": 60000,
        "train": 3000,
        "train_fit": 2500,
        "train_holdout": 500,
        "validation": 1000,
        "mnist_test": 1000,
        "kmnist_test": 1000,
        "fashion_test": 1000,
    }
    # the content checksums recorded are the published ones (shared/data/README.md)
    sums = report["data"]
    assert sums["mnist/test"]["images_sha256"] == (
        "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161"
    )
    assert sums["kmnist/test"]["labels_sha256"] == (
        "77d83a49ca5434c5da77399edc7143065cb3a7b0834e2898ea3094e8c2b21a3c"
    )
    for name in full["plots"]:
        assert (out / name).read_bytes()[:8] == PNG_SIGNATURE
    assert len(full["plots"]) == 4


def test_pipeline_never_trains_on_validation(pipeline_run: tuple[Path, dict, dict]) -> None:
    out, _, _ = pipeline_run
    saved = np.load(out / "scores.npz")
    val, fit, hold = saved["validation_rows"], saved["fit_rows"], saved["holdout_rows"]
    assert (val.size, fit.size, hold.size) == (1000, 2500, 500)
    # gradient steps, model selection and threshold use three disjoint sets of MNIST-train rows
    assert np.intersect1d(val, fit).size == 0
    assert np.intersect1d(val, hold).size == 0
    assert np.intersect1d(fit, hold).size == 0
    assert len(np.unique(np.r_[val, fit, hold])) == 4000


def test_pipeline_saved_model_reproduces_scores(pipeline_run: tuple[Path, dict, dict]) -> None:
    out, _, full = pipeline_run
    report = full["results"]
    det = AutoencoderDetector.load(out / "model.pt", device="cpu")
    saved = np.load(out / "scores.npz")
    x_test, _ = load_dataset("mnist", "test", resolve_data_root(name="mnist"))
    np.testing.assert_array_equal(det.decision_function(x_test[:1000]), saved["mnist_test"])
    assert det.threshold_ == report["threshold"]
    np.testing.assert_array_equal(det.decision_scores_, saved["validation"])
