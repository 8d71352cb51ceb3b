"""MNIST, KMNIST and Fashion-MNIST from a local data root, checksums verified.

Two file formats are read:

* NumPy archives ``<root>/mnist.npz`` and ``<root>/kmnist.npz`` with uint8
  arrays ``x_train`` (60000, 28, 28), ``y_train`` (60000,), ``x_test``
  (10000, 28, 28), ``y_test`` (10000,); the SHA-256 of the whole ``.npz`` file
  is checked.
* The official IDX files, gzip'ed or not, in ``<root>/<name>/``:
  ``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
  ``t10k-images-idx3-ubyte.gz``, ``t10k-labels-idx1-ubyte.gz``. The SHA-256 of
  the *uncompressed* IDX content is checked, because re-compressed copies (as
  Debian ships Fashion-MNIST) differ in their ``.gz`` bytes only.

The data root is, in this order: the ``data_root`` argument (``--data-root``),
the ``KLMATH_DATA`` environment variable, ``<repo>/data`` (git-ignored),
``<repo>/../shared/data``, and ``/usr/share/datasets`` (where Debian's
``dataset-fashion-mnist`` installs ``fashion-mnist/``). An explicit root (the
argument or the environment variable) is the only place searched; the
defaults are searched in turn, per dataset.

Loaded arrays are cached per process (keyed by file path, size and mtime) and
returned read-only, so a file is read and hashed once however often it is asked
for: hashing the 11 MB ``mnist.npz`` takes ~50 ms, decompressing it ~0.3 s.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import struct
import zipfile
import zlib
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = [
    "DATASETS",
    "SPLITS",
    "DataChecksumError",
    "add_data_root_argument",
    "candidate_roots",
    "dataset_checksums",
    "load_dataset",
    "read_idx",
    "read_npz",
    "resolve_data_root",
]

DATASETS = ("mnist", "kmnist", "fashion-mnist")
SPLITS = ("train", "test")
ENV_VAR = "KLMATH_DATA"

_REPO = Path(__file__).resolve().parents[1]
SYSTEM_ROOT = Path("/usr/share/datasets")

# SHA-256 of the .npz files, from shared/data/README.md.
_NPZ_SHA256 = {
    "mnist": "06af5dfe73b70e3bc1c36439982b18a8d76803db9b544f6fdf838a37fbb01b64",
    "kmnist": "3b189c3435ff44bcce67ea24bd8d7eafc67ccde904fdfe1db4d4892436dc7789",
}

# SHA-256 of the uncompressed IDX content (header + payload). Fashion-MNIST: from
# shared/data/README.md. MNIST/KMNIST: the README gives the SHA-256 of each array's
# bytes (the IDX payload); these are sha256(header + payload) for the same arrays,
# with the standard header (magic 0x0803/0x0801 then the sizes, big-endian uint32).
# tests/test_data_loading.py recomputes them from the verified .npz arrays.
_IDX_SHA256 = {
    "mnist": {
        "train-images": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    "kmnist": {
        "train-images": "7112ba9ec422d98de4885262d4a4dff14cc4fefb81c11ace8bf563a8255df5c3",
        "train-labels": "2a16eeae62da984b8bd24fa32e31d47291f01dac3fe84d5594f304f71e7d374b",
        "t10k-images": "76fbd229ce87db80dd281af5e6670de4ad0e42fb30a7bd643972994c47c1f42e",
        "t10k-labels": "a11dc742be8e781a40a92f53d6a4957e7b7d36df2faa097659131ebfd8fd60c6",
    },
    "fashion-mnist": {
        "train-images": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
}

_SIZES = {"train": 60000, "test": 10000}
_IDX_STEM = {"train": "train", "test": "t10k"}
_IDX_DTYPES = {0x08: np.dtype(np.uint8)}  # the only type these datasets use


class DataChecksumError(ValueError):
    """A data file exists but its SHA-256 is not the expected one (corrupt or wrong file)."""


def _check_name_split(name: str, split: str) -> None:
    if name not in DATASETS:
        raise ValueError(f"name must be one of {DATASETS}, got {name!r}")
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def candidate_roots(data_root: str | os.PathLike[str] | None = None) -> list[Path]:
    """Return the data roots searched, in order (see the module docstring).

    An explicit ``data_root`` or ``KLMATH_DATA`` is returned alone, whether or not it
    exists (so that a typo gives an error, not a silent fallback); otherwise the
    default places, existing or not.
    """
    if data_root is not None:
        return [Path(data_root).expanduser()]
    env = os.environ.get(ENV_VAR)
    if env:
        return [Path(env).expanduser()]
    return [_REPO / "data", _REPO.parent / "shared" / "data", SYSTEM_ROOT]


def _idx_files(root: Path, name: str, split: str) -> tuple[Path, Path] | None:
    """The (images, labels) IDX files of ``name``/``split`` under ``root``, if both exist."""
    stem = _IDX_STEM[split]
    # A root that is the dataset's own folder (e.g. /usr/share/datasets/fashion-mnist) works too.
    folder = root if root.name == name else root / name
    found = []
    for kind, idx in (("images", 3), ("labels", 1)):
        base = folder / f"{stem}-{kind}-idx{idx}-ubyte"
        path = next((p for p in (base.with_name(base.name + ".gz"), base) if p.is_file()), None)
        if path is None:
            return None
        found.append(path)
    return found[0], found[1]


def _idx_key(path: Path) -> str:
    """``.../t10k-images-idx3-ubyte.gz`` -> ``t10k-images`` (the key of ``_IDX_SHA256``)."""
    return path.name.split("-idx")[0]


def _find(name: str, split: str, roots: list[Path]) -> Path | tuple[Path, Path] | None:
    for root in roots:
        npz = root / f"{name}.npz"
        if name in _NPZ_SHA256 and npz.is_file():
            return npz
        idx = _idx_files(root, name, split)
        if idx is not None:
            return idx
    return None


def _missing_message(name: str, split: str, roots: list[Path]) -> str:
    stem = _IDX_STEM[split]
    wanted = [f"{name}/{stem}-images-idx3-ubyte.gz", f"{name}/{stem}-labels-idx1-ubyte.gz"]
    if name in _NPZ_SHA256:
        wanted.insert(0, f"{name}.npz")
    searched = "\n".join(f"  {r}" + ("" if r.is_dir() else "  (does not exist)") for r in roots)
    return (
        f"dataset {name!r} ({split}) not found. Looked for {' or '.join(wanted)} in:\n"
        f"{searched}\n"
        f"Put the files in one of these folders (e.g. {_REPO / 'data'}), or point "
        f"--data-root or the {ENV_VAR} environment variable at the folder that holds them."
    )


def resolve_data_root(
    data_root: str | os.PathLike[str] | None = None, *, name: str | None = None
) -> Path:
    """Return the data root that holds ``name`` (any known dataset when ``name`` is None).

    Parameters
    ----------
    data_root : path-like, optional
        Explicit root; if None, ``KLMATH_DATA`` and then the defaults are used.
    name : {"mnist", "kmnist", "fashion-mnist"}, optional
        Dataset that must be present there (both splits' files are looked for).

    Raises
    ------
    FileNotFoundError
        No searched root holds the dataset; the message lists the places searched,
        the file names expected and how to point at another folder.
    """
    roots = candidate_roots(data_root)
    names = DATASETS if name is None else (name,)
    if name is not None:
        _check_name_split(name, "train")
    for root in roots:
        for n in names:
            if _find(n, "train", [root]) is not None or _find(n, "test", [root]) is not None:
                return root
    raise FileNotFoundError(_missing_message(names[0], "train", roots))


def add_data_root_argument(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``--data-root DIR`` to an argparse parser (default None: env, then defaults)."""
    parser.add_argument(
        "--data-root",
        type=Path,
        default=None,
        help=(
            f"folder holding mnist.npz, kmnist.npz and/or <name>/*-idx?-ubyte.gz "
            f"(default: ${ENV_VAR}, else {_REPO / 'data'}, else "
            f"{_REPO.parent / 'shared' / 'data'}, else {SYSTEM_ROOT})"
        ),
    )
    return parser


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _checksum_error(path: Path, expected: str, got: str) -> DataChecksumError:
    return DataChecksumError(
        f"{path}: SHA-256 mismatch (file corrupt, truncated or not the expected release): "
        f"expected {expected}, got {got}"
    )


def read_npz(
    path: str | os.PathLike[str], *, expected_sha256: str | None = None
) -> dict[str, np.ndarray]:
    """Return the four arrays of an MNIST-style ``.npz`` archive, checked.

    Parameters
    ----------
    path : path-like
        Archive with uint8 ``x_train`` (n, 28, 28), ``y_train`` (n,), ``x_test``
        (m, 28, 28), ``y_test`` (m,).
    expected_sha256 : str, optional
        SHA-256 of the whole file; checked before the archive is opened.

    Raises
    ------
    DataChecksumError
        The file's SHA-256 differs from ``expected_sha256``.
    ValueError
        The archive cannot be read, lacks an array, or an array has the wrong dtype,
        shape or a label outside 0..9.
    """
    path = Path(path)
    if expected_sha256 is not None:
        got = _sha256_file(path)
        if got != expected_sha256:
            raise _checksum_error(path, expected_sha256, got)
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in ("x_train", "y_train", "x_test", "y_test") if k in f}
    except (OSError, ValueError, zlib.error, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path}: not a readable .npz archive ({exc})") from None
    for split in SPLITS:
        x, y = arrays.get(f"x_{split}"), arrays.get(f"y_{split}")
        if x is None or y is None:
            raise ValueError(f"{path}: missing array x_{split} or y_{split}; has {sorted(arrays)}")
        _check_pair(x, y, f"{path} [x_{split}, y_{split}]")
    return arrays


def _check_pair(x: np.ndarray, y: np.ndarray, where: str) -> None:
    if x.dtype != np.uint8 or y.dtype != np.uint8:
        raise ValueError(f"{where}: expected uint8 images and labels, got {x.dtype} and {y.dtype}")
    if x.ndim != 3 or x.shape[1:] != (28, 28):
        raise ValueError(f"{where}: expected images of shape (n, 28, 28), got {x.shape}")
    if y.shape != (x.shape[0],):
        raise ValueError(f"{where}: expected labels of shape ({x.shape[0]},), got {y.shape}")
    if y.size and int(y.max()) > 9:
        raise ValueError(f"{where}: labels must be in 0..9, got max {int(y.max())}")


def read_idx(path: str | os.PathLike[str], *, expected_sha256: str | None = None) -> np.ndarray:
    """Return the array stored in an IDX file (gzip'ed when the name ends in ``.gz``).

    IDX layout: two zero bytes, a type code (0x08 = uint8), the number of
    dimensions k, then k big-endian uint32 sizes, then the data row-major.

    Parameters
    ----------
    path : path-like
        ``*.gz`` or uncompressed IDX file.
    expected_sha256 : str, optional
        SHA-256 of the uncompressed content (header included); checked before parsing,
        so a truncated or altered file is named with both checksums.

    Returns
    -------
    numpy.ndarray
        uint8 array of the declared shape.

    Raises
    ------
    DataChecksumError
        The uncompressed content's SHA-256 differs from ``expected_sha256``.
    ValueError
        Broken gzip stream, bad magic, unsupported type code, or a payload whose
        length differs from the header's sizes.

    Examples
    --------
    >>> import gzip, struct, tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x-idx1-ubyte.gz"
    >>> _ = p.write_bytes(gzip.compress(struct.pack(">II", 0x801, 3) + bytes([7, 8, 9])))
    >>> read_idx(p)
    array([7, 8, 9], dtype=uint8)
    """
    path = Path(path)
    try:
        if path.name.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                content = f.read()
        else:
            content = path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        # gzip raises EOFError on a truncated stream and BadGzipFile (an OSError) on junk.
        raise ValueError(f"{path}: cannot decompress ({type(exc).__name__}: {exc})") from None
    if expected_sha256 is not None:
        got = hashlib.sha256(content).hexdigest()
        if got != expected_sha256:
            raise _checksum_error(path, expected_sha256, got)
    if len(content) < 4 or content[0] != 0 or content[1] != 0:
        raise ValueError(
            f"{path}: not an IDX file: magic must start with two zero bytes, "
            f"got {content[:4].hex() or 'an empty file'}"
        )
    code, ndim = content[2], content[3]
    if code not in _IDX_DTYPES:
        raise ValueError(f"{path}: unsupported IDX type code 0x{code:02x} (expected 0x08 = uint8)")
    header = 4 + 4 * ndim
    if ndim == 0 or len(content) < header:
        raise ValueError(f"{path}: IDX header declares {ndim} dimensions but is cut short")
    shape = struct.unpack(f">{ndim}I", content[4:header])
    dtype = _IDX_DTYPES[code]
    expected_len = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(content) - header != expected_len:
        raise ValueError(
            f"{path}: IDX header says shape {shape} ({expected_len} data bytes) "
            f"but the file has {len(content) - header} (truncated or padded)"
        )
    return np.frombuffer(content, dtype=dtype, offset=header).reshape(shape)


@lru_cache(maxsize=16)
def _load_npz_cached(path: str, size: int, mtime_ns: int, sha: str) -> dict[str, np.ndarray]:
    arrays = read_npz(path, expected_sha256=sha)
    for a in arrays.values():
        a.flags.writeable = False
    return arrays


@lru_cache(maxsize=32)
def _load_idx_cached(path: str, size: int, mtime_ns: int, sha: str | None) -> np.ndarray:
    # np.frombuffer over bytes is already read-only.
    return read_idx(path, expected_sha256=sha)


def _stat_key(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return str(path.resolve()), st.st_size, st.st_mtime_ns


def load_dataset(
    name: str, split: str, data_root: str | os.PathLike[str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(images, labels)`` of a dataset split, checksums verified.

    Parameters
    ----------
    name : {"mnist", "kmnist", "fashion-mnist"}
    split : {"train", "test"}
        60,000 and 10,000 images.
    data_root : path-like, optional
        Folder holding ``<name>.npz`` or ``<name>/*-idx?-ubyte[.gz]``; if None,
        ``KLMATH_DATA`` and then the default places are searched.

    Returns
    -------
    images : numpy.ndarray
        uint8 (N, 28, 28), 0 = background, read-only (cached; copy before writing).
    labels : numpy.ndarray
        uint8 (N,), in 0..9.

    Raises
    ------
    ValueError
        Unknown ``name`` or ``split``; unreadable file, bad IDX header, wrong shape.
    DataChecksumError
        A file's SHA-256 is not the published one; the message names the file and
        both checksums.
    FileNotFoundError
        The dataset is in none of the searched places; the message lists them.
    """
    _check_name_split(name, split)
    roots = candidate_roots(data_root)
    found = _find(name, split, roots)
    if found is None:
        raise FileNotFoundError(_missing_message(name, split, roots))
    if isinstance(found, Path):
        arrays = _load_npz_cached(*_stat_key(found), _NPZ_SHA256[name])
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        where = f"{found} [x_{split}, y_{split}]"
    else:
        xy = []
        for path in found:
            xy.append(_load_idx_cached(*_stat_key(path), _IDX_SHA256[name][_idx_key(path)]))
        x, y = xy
        where = f"{found[0]}, {found[1]}"
    _check_pair(x, y, where)
    if x.shape[0] != _SIZES[split]:
        raise ValueError(f"{where}: expected {_SIZES[split]} images, got {x.shape[0]}")
    return x, y


def dataset_checksums(
    name: str, split: str, data_root: str | os.PathLike[str] | None = None
) -> dict[str, str]:
    """Return ``{file: published SHA-256}`` for the files ``load_dataset`` reads and checks."""
    _check_name_split(name, split)
    roots = candidate_roots(data_root)
    found = _find(name, split, roots)
    if found is None:
        raise FileNotFoundError(_missing_message(name, split, roots))
    if isinstance(found, Path):
        return {str(found): _NPZ_SHA256[name]}
    return {str(p): _IDX_SHA256[name][_idx_key(p)] for p in found}
