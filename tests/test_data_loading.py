"""models.data: readers, layouts, content checksums, search order, one-line errors."""

from __future__ import annotations

import gzip
import hashlib
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from models_support import SIZES, fake_arrays, use_fake_catalog

from models.data import (
    DataChecksumError,
    MissingDataError,
    catalog,
    load_dataset,
    locate,
    read_idx,
    read_npz,
    resolve_data_root,
)

ROOT = Path(__file__).resolve().parents[1]


def _idx_bytes(a: np.ndarray) -> bytes:
    """IDX content written independently of the reader: magic 0x0000 08 ndim, sizes, data."""
    return bytes([0, 0, 0x08, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape) + a.tobytes()


def _write_idx(path: Path, a: np.ndarray, *, compress: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    content = _idx_bytes(a)
    path.write_bytes(gzip.compress(content) if compress else content)


def _real_root() -> Path:
    try:
        return resolve_data_root(name="kmnist")
    except MissingDataError:
        pytest.skip("real MNIST/KMNIST data not found (python -m models.data fetch)")


# -- IDX reader ---------------------------------------------------------------------------------
@pytest.mark.parametrize("compress", [True, False], ids=["gz", "raw"])
@pytest.mark.parametrize("shape", [(5,), (3, 28, 28), (2, 3, 4, 5)], ids=["1d", "3d", "4d"])
def test_read_idx_round_trip(tmp_path: Path, shape: tuple[int, ...], compress: bool) -> None:
    a = np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8)
    path = tmp_path / ("x-idx-ubyte" + (".gz" if compress else ""))
    _write_idx(path, a, compress=compress)
    b = read_idx(path)
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


def test_read_npz_junk(tmp_path: Path) -> None:
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ValueError, match=r"not a readable \.npz"):
        read_npz(junk)


# -- every usual layout of the same content is accepted -------------------------------------------
def _layouts(root: Path, arrays: dict, layout: str) -> Path:
    """Write kmnist in ``layout`` under ``root``; return the root to pass as --data-root."""
    (xt, yt), (xs, ys) = arrays["kmnist", "train"], arrays["kmnist", "test"]
    files = {"train": (xt, yt), "t10k": (xs, ys)}
    if layout == "keras-npz":
        np.savez_compressed(root / "kmnist.npz", x_train=xt, y_train=yt, x_test=xs, y_test=ys)
    elif layout == "npz-resaved":  # same arrays, another container: np.savez, other key order
        np.savez(root / "kmnist.npz", y_test=ys, x_test=xs, y_train=yt, x_train=xt)
    elif layout in ("idx-gz", "idx-raw", "torchvision", "dataset-folder"):
        folder = {"torchvision": root / "KMNIST" / "raw"}.get(layout, root / "kmnist")
        for stem, (x, y) in files.items():
            gz = layout in ("idx-gz", "dataset-folder")
            _write_idx(folder / f"{stem}-images-idx3-ubyte{'.gz' if gz else ''}", x, compress=gz)
            _write_idx(folder / f"{stem}-labels-idx1-ubyte{'.gz' if gz else ''}", y, compress=gz)
        if layout == "dataset-folder":
            return folder
    elif layout == "kmnist-npz-pair":  # KMNIST's own release: one array per file
        for split, (x, y) in (("train", (xt, yt)), ("test", (xs, ys))):
            np.savez_compressed(root / f"kmnist-{split}-imgs.npz", arr_0=x)
            np.savez_compressed(root / f"kmnist-{split}-labels.npz", arr_0=y)
    return root


LAYOUTS = [
    "keras-npz", "npz-resaved", "idx-gz", "idx-raw", "torchvision", "dataset-folder",
    "kmnist-npz-pair",
]  # fmt: skip


@pytest.mark.parametrize("layout", LAYOUTS)
def test_same_content_in_any_layout_is_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: str
) -> None:
    arrays = fake_arrays()
    use_fake_catalog(monkeypatch, arrays)
    root = _layouts(tmp_path, arrays, layout)
    for split in ("train", "test"):
        x, y = load_dataset("kmnist", split, root)
        np.testing.assert_array_equal(x, arrays["kmnist", split][0])
        np.testing.assert_array_equal(y, arrays["kmnist", split][1])
        assert not x.flags.writeable


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        pytest.param("shuffle", "images are not the canonical ones", id="shuffled"),
        pytest.param("pixel", "images are not the canonical ones", id="one-pixel"),
        pytest.param("label", "labels are not the canonical ones", id="one-label"),
        pytest.param("short", f"expected {SIZES['test']} test images, got 99", id="short"),
    ],
)
def test_wrong_content_is_refused_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str, match: str
) -> None:
    arrays = fake_arrays()
    use_fake_catalog(monkeypatch, arrays)
    (xt, yt), (xs, ys) = arrays["kmnist", "train"], arrays["kmnist", "test"]
    xs, ys = xs.copy(), ys.copy()
    if damage == "shuffle":
        xs = xs[::-1].copy()
    elif damage == "pixel":
        xs[3, 14, 14] ^= 1
    elif damage == "label":
        ys[0] = (ys[0] + 1) % 10
    else:
        xs, ys = xs[:99], ys[:99]
    np.savez(tmp_path / "kmnist.npz", x_train=xt, y_train=yt, x_test=xs, y_test=ys)
    with pytest.raises(DataChecksumError, match=match) as info:
        load_dataset("kmnist", "test", tmp_path)
    assert "kmnist.npz" in str(info.value)


# -- search order, messages ----------------------------------------------------------------------
def test_missing_data_is_one_line_with_the_fetch_command(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(MissingDataError) as info:
        load_dataset("mnist", "train", missing)
    msg = str(info.value)
    assert "\n" not in msg and str(missing) in msg and "--data-root" in msg
    assert msg.endswith(f"run: python -m models.data fetch --dataset mnist --dest {missing}")
    assert not missing.exists()


def test_default_roots_in_order_with_the_cache_last(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KLMATH_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert locate.candidate_roots() == [
        ROOT / "data",
        ROOT.parent / "shared" / "data",
        Path("/usr/share/datasets"),
        tmp_path / "cache" / "klmath" / "data",
    ]
    monkeypatch.setenv("KLMATH_DATA", str(tmp_path / "env"))
    assert locate.candidate_roots() == [tmp_path / "env"]
    assert locate.candidate_roots(tmp_path / "explicit") == [tmp_path / "explicit"]


def test_defaults_never_point_inside_site_packages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # If models/ were installed, the data roots follow the current folder instead.
    monkeypatch.setattr(locate, "_REPO", tmp_path / "lib" / "site-packages")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("KLMATH_DATA", raising=False)
    roots = locate.candidate_roots()
    assert roots[0] == tmp_path / "data"
    assert not any("site-packages" in str(r) for r in roots)


def test_missing_data_cli_prints_one_line_and_creates_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = subprocess.run(
        [sys.executable, "-m", "models.autoencoder", "--data-root", str(tmp_path / "none"),
         "--out", str(out)],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    assert run.returncode == 2, run.stderr
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert "run: python -m models.data fetch --dataset mnist" in run.stderr
    assert not out.exists()


# -- the real files ------------------------------------------------------------------------------
README_CLASS_COUNTS = {
    ("mnist", "train"): [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
    ("mnist", "test"): [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
    ("kmnist", "test"): [1000] * 10,
    ("fashion-mnist", "test"): [1000] * 10,
}


@pytest.mark.parametrize(
    ("name", "split"), list(README_CLASS_COUNTS), ids=[f"{n}-{s}" for n, s in README_CLASS_COUNTS]
)
def test_real_arrays_have_the_readme_class_counts(name: str, split: str) -> None:
    root = _real_root()
    x, y = load_dataset(name, split, root)  # content verified against the catalog
    assert x.shape == (catalog.SIZES[split], 28, 28)
    assert np.bincount(y, minlength=10).tolist() == README_CLASS_COUNTS[name, split]


# SHA-256 of the uncompressed IDX files of Fashion-MNIST, as shared/data/README.md lists them.
FASHION_IDX_SHA256 = {
    "train-images-idx3-ubyte.gz": (
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888"
    ),
    "train-labels-idx1-ubyte.gz": (
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"
    ),
    "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}


def test_fashion_catalog_sums_are_those_of_the_readme_files() -> None:
    # The catalog's Fashion-MNIST array sums, recomputed from files whose content
    # checksum is the README's (so the catalog entry is not copied from the code).
    folder = _real_root() / "fashion-mnist"
    if not folder.is_dir():
        pytest.skip("Fashion-MNIST IDX files not found")
    for split, stem in (("train", "train"), ("test", "t10k")):
        sums = []
        for kind, idx in (("images", 3), ("labels", 1)):
            name = f"{stem}-{kind}-idx{idx}-ubyte.gz"
            content = gzip.decompress((folder / name).read_bytes())
            assert hashlib.sha256(content).hexdigest() == FASHION_IDX_SHA256[name]
            sums.append(hashlib.sha256(content[4 + 4 * content[3] :]).hexdigest())
        assert tuple(sums) == catalog.ARRAY_SHA256["fashion-mnist"][split]


def test_real_npz_resaved_is_accepted(tmp_path: Path) -> None:
    src = _real_root() / "kmnist.npz"
    if not src.is_file():
        pytest.skip("kmnist.npz not in the data root")
    with np.load(src) as f:
        np.savez(tmp_path / "kmnist.npz", **{k: f[k] for k in f.files})
    assert (
        hashlib.sha256((tmp_path / "kmnist.npz").read_bytes()).hexdigest()
        != hashlib.sha256(src.read_bytes()).hexdigest()
    )
    x, _ = load_dataset("kmnist", "test", tmp_path)
    assert x.shape == (10_000, 28, 28)
    shutil.rmtree(tmp_path)
