"""models.data: IDX/npz readers on files the tests write, checksums on the real files, errors."""

from __future__ import annotations

import argparse
import gzip
import hashlib
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from models import data
from models.data import (
    DataChecksumError,
    add_data_root_argument,
    load_dataset,
    read_idx,
    read_npz,
    resolve_data_root,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _real_root() -> Path:
    try:
        return resolve_data_root(name="kmnist")
    except FileNotFoundError:
        pytest.skip("real MNIST/KMNIST data not found (see models/data.py for where to put it)")


def _idx_bytes(a: np.ndarray) -> bytes:
    """IDX content written independently of the reader: magic 0x0000 08 ndim, sizes, data."""
    return bytes([0, 0, 0x08, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape) + a.tobytes()


def _write_idx(path: Path, a: np.ndarray, *, compress: bool = True) -> str:
    content = _idx_bytes(a)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(content) if compress else content)
    return hashlib.sha256(content).hexdigest()


# -- IDX reader on files the test writes ---------------------------------------------------
@pytest.mark.parametrize("compress", [True, False], ids=["gz", "raw"])
@pytest.mark.parametrize("shape", [(5,), (3, 28, 28), (2, 3, 4, 5)], ids=["1d", "3d", "4d"])
def test_read_idx_round_trip(tmp_path: Path, shape: tuple[int, ...], compress: bool) -> None:
    a = np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8)
    path = tmp_path / ("x-idx-ubyte" + (".gz" if compress else ""))
    sha = _write_idx(path, a, compress=compress)
    b = read_idx(path, expected_sha256=sha)
    assert b.dtype == np.uint8 and b.shape == shape
    np.testing.assert_array_equal(b, a)


def _corrupt_cases(a: np.ndarray) -> list:
    good = _idx_bytes(a)
    return [
        pytest.param(gzip.compress(good[:-7]), "truncated or padded", id="truncated-payload"),
        pytest.param(gzip.compress(good + b"\0"), "truncated or padded", id="extra-byte"),
        pytest.param(gzip.compress(b"\x08\x03" + good[2:]), "magic", id="wrong-magic"),
        pytest.param(gzip.compress(good[:2] + b"\x0d" + good[3:]), "type code 0x0d", id="float"),
        pytest.param(gzip.compress(good[:10]), "cut short", id="header-cut"),
        pytest.param(gzip.compress(b""), "empty file", id="empty"),
        pytest.param(gzip.compress(good)[:-20], "cannot decompress", id="truncated-gzip"),
        pytest.param(b"not gzip at all", "cannot decompress", id="not-gzip"),
    ]


@pytest.mark.parametrize(
    ("content", "match"), _corrupt_cases(np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28))
)
def test_read_idx_rejects_corrupt_files(tmp_path: Path, content: bytes, match: str) -> None:
    path = tmp_path / "bad-images-idx3-ubyte.gz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=match) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_read_idx_checksum_mismatch_names_file_and_both_sums(tmp_path: Path) -> None:
    a = np.arange(12, dtype=np.uint8)
    path = tmp_path / "x-idx1-ubyte.gz"
    sha = _write_idx(path, a)
    wrong = "0" * 64
    with pytest.raises(DataChecksumError, match=f"{path}.*expected {wrong}, got {sha}"):
        read_idx(path, expected_sha256=wrong)


def _write_idx_dataset(folder: Path, name: str, split: str, n: int) -> dict[str, str]:
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, size=n, dtype=np.uint8)
    stem = {"train": "train", "test": "t10k"}[split]
    return {
        f"{stem}-images": _write_idx(folder / name / f"{stem}-images-idx3-ubyte.gz", x),
        f"{stem}-labels": _write_idx(folder / name / f"{stem}-labels-idx1-ubyte.gz", y),
        "x": x,  # type: ignore[dict-item]
        "y": y,  # type: ignore[dict-item]
    }


def test_load_dataset_from_idx_files_written_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = _write_idx_dataset(tmp_path, "fashion-mnist", "test", 10_000)
    for key in ("t10k-images", "t10k-labels"):
        monkeypatch.setitem(data._IDX_SHA256["fashion-mnist"], key, written[key])
    x, y = load_dataset("fashion-mnist", "test", tmp_path)
    np.testing.assert_array_equal(x, written["x"])
    np.testing.assert_array_equal(y, written["y"])
    # the dataset's own folder works as a root too
    x2, _ = load_dataset("fashion-mnist", "test", tmp_path / "fashion-mnist")
    np.testing.assert_array_equal(x2, written["x"])


def test_load_dataset_idx_with_wrong_content_names_file(tmp_path: Path) -> None:
    _write_idx_dataset(tmp_path, "fashion-mnist", "test", 10)
    expected = data._IDX_SHA256["fashion-mnist"]["t10k-images"]
    with pytest.raises(DataChecksumError, match=f"t10k-images-idx3-ubyte.gz.*expected {expected}"):
        load_dataset("fashion-mnist", "test", tmp_path)


def test_load_dataset_rejects_wrong_number_of_images(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = _write_idx_dataset(tmp_path, "kmnist", "test", 10)
    for key in ("t10k-images", "t10k-labels"):
        monkeypatch.setitem(data._IDX_SHA256["kmnist"], key, written[key])
    with pytest.raises(ValueError, match="expected 10000 images, got 10"):
        load_dataset("kmnist", "test", tmp_path)


# -- npz reader ------------------------------------------------------------------------------
def _npz(path: Path, **overrides: np.ndarray) -> Path:
    arrays = {
        "x_train": np.zeros((4, 28, 28), np.uint8),
        "y_train": np.zeros(4, np.uint8),
        "x_test": np.zeros((2, 28, 28), np.uint8),
        "y_test": np.zeros(2, np.uint8),
    }
    arrays.update(overrides)
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        pytest.param({"x_train": np.zeros((4, 28, 27), np.uint8)}, r"\(n, 28, 28\)", id="shape"),
        pytest.param({"y_test": np.zeros(3, np.uint8)}, r"labels of shape \(2,\)", id="labels"),
        pytest.param({"x_test": np.zeros((2, 28, 28), np.float32)}, "uint8", id="dtype"),
        pytest.param({"y_train": np.full(4, 10, np.uint8)}, "0..9", id="label-range"),
    ],
)
def test_read_npz_rejects_wrong_arrays(tmp_path: Path, overrides: dict, match: str) -> None:
    path = _npz(tmp_path / "m.npz", **overrides)
    with pytest.raises(ValueError, match=match):
        read_npz(path)


def test_read_npz_missing_array_and_junk(tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    np.savez(path, x_train=np.zeros((1, 28, 28), np.uint8))
    with pytest.raises(ValueError, match="missing array"):
        read_npz(path)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ValueError, match=r"not a readable \.npz"):
        read_npz(junk)


def test_truncated_npz_gives_checksum_error(tmp_path: Path) -> None:
    root = _real_root()
    src = root / "mnist.npz"
    if not src.is_file():
        pytest.skip("mnist.npz not in the data root")
    dst = tmp_path / "mnist.npz"
    dst.write_bytes(src.read_bytes()[:100_000])
    got = hashlib.sha256(dst.read_bytes()).hexdigest()
    with pytest.raises(
        DataChecksumError, match=f"{dst}.*expected {data._NPZ_SHA256['mnist']}, got {got}"
    ):
        load_dataset("mnist", "test", tmp_path)


# -- data root resolution --------------------------------------------------------------------
def test_missing_dataset_message_lists_places_and_env(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError) as info:
        load_dataset("mnist", "train", missing)
    msg = str(info.value)
    assert str(missing) in msg and "does not exist" in msg
    assert "KLMATH_DATA" in msg and "--data-root" in msg and "mnist.npz" in msg


def test_env_var_is_used_and_explicit_root_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _real_root()
    (tmp_path / "env").mkdir()
    shutil.copy(root / "kmnist.npz", tmp_path / "env" / "kmnist.npz")
    monkeypatch.setenv("KLMATH_DATA", str(tmp_path / "env"))
    assert data.candidate_roots() == [tmp_path / "env"]
    assert resolve_data_root(name="kmnist") == tmp_path / "env"
    x, _ = load_dataset("kmnist", "test")
    assert x.shape == (10_000, 28, 28)
    with pytest.raises(FileNotFoundError, match="KLMATH_DATA"):
        load_dataset("mnist", "test")  # only kmnist was copied there
    assert data.candidate_roots(root) == [root]


def test_default_roots_in_documented_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KLMATH_DATA", raising=False)
    repo = Path(data.__file__).resolve().parents[1]
    assert data.candidate_roots() == [
        repo / "data",
        repo.parent / "shared" / "data",
        Path("/usr/share/datasets"),
    ]


@pytest.mark.parametrize(
    ("name", "split", "match"),
    [
        pytest.param("cifar10", "train", "name must be one of", id="name"),
        pytest.param("mnist", "validation", "split must be one of", id="split"),
    ],
)
def test_bad_name_or_split(name: str, split: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        load_dataset(name, split)


def test_add_data_root_argument() -> None:
    parser = add_data_root_argument(argparse.ArgumentParser())
    assert parser.parse_args([]).data_root is None
    assert parser.parse_args(["--data-root", "/x"]).data_root == Path("/x")


# -- the real files: README checksums of each array, class counts ------------------------------
# Raw SHA-256 of each array's bytes, from shared/data/README.md (independent of the
# whole-file checksums that models.data verifies).
README_RAW_SHA256 = {
    ("mnist", "train"): (
        "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
        "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
    ),
    ("mnist", "test"): (
        "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
        "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
    ),
    ("kmnist", "train"): (
        "a739bf427aa2dfc5c56d12f608684bc6db28276246c1b912b0416ba34349a7ca",
        "691c5342313eaef4a0b4d33645442ae1b98f13bd2066e67b551fdd4972ef71ea",
    ),
    ("kmnist", "test"): (
        "dc10e73c6e83fb3fb3586eafece217ab6602e7825fa7d49399359bde3fc66f07",
        "77d83a49ca5434c5da77399edc7143065cb3a7b0834e2898ea3094e8c2b21a3c",
    ),
}
README_CLASS_COUNTS = {
    ("mnist", "train"): [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
    ("mnist", "test"): [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
    ("kmnist", "train"): [6000] * 10,
    ("kmnist", "test"): [1000] * 10,
    ("fashion-mnist", "test"): [1000] * 10,
}


@pytest.mark.parametrize(
    ("name", "split"), list(README_RAW_SHA256), ids=[f"{n}-{s}" for n, s in README_RAW_SHA256]
)
def test_real_arrays_match_readme(name: str, split: str) -> None:
    x, y = load_dataset(name, split, _real_root())
    sha_x, sha_y = README_RAW_SHA256[name, split]
    assert hashlib.sha256(x.tobytes()).hexdigest() == sha_x
    assert hashlib.sha256(y.tobytes()).hexdigest() == sha_y
    assert np.bincount(y, minlength=10).tolist() == README_CLASS_COUNTS[name, split]
    # The IDX checksums in models.data for these sets are sha256(header + array bytes):
    # rebuild the header here and compare, so a user's IDX copy would pass too.
    stem = {"train": "train", "test": "t10k"}[split]
    assert hashlib.sha256(_idx_bytes(x)).hexdigest() == data._IDX_SHA256[name][f"{stem}-images"]
    assert hashlib.sha256(_idx_bytes(y)).hexdigest() == data._IDX_SHA256[name][f"{stem}-labels"]


def test_real_fashion_mnist_idx() -> None:
    root = _real_root()
    try:
        x, y = load_dataset("fashion-mnist", "test", root)
    except FileNotFoundError:
        pytest.skip("Fashion-MNIST IDX files not found")
    assert x.shape == (10_000, 28, 28) and x.dtype == np.uint8
    assert np.bincount(y, minlength=10).tolist() == README_CLASS_COUNTS["fashion-mnist", "test"]
    # the checksum the loader verified is the README's, of the uncompressed IDX content
    sums = data.dataset_checksums("fashion-mnist", "test", root)
    assert sorted(sums.values()) == sorted(
        [
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
        ]
    )


def test_loaded_arrays_are_cached_and_read_only() -> None:
    root = _real_root()
    x1, _ = load_dataset("mnist", "test", root)
    x2, _ = load_dataset("mnist", "test", root)
    assert x1 is x2
    with pytest.raises(ValueError, match="read-only"):
        x1[0, 0, 0] = 1
