"""Finding a data set in the usual layouts, and loading it verified by its content.

Data roots, in order: the ``data_root`` argument (``--data-root``), else the
``KLMATH_DATA`` environment variable (either one is then the only place searched,
so a typo is an error, not a silent fallback); else ``<checkout>/data``,
``<checkout>/../shared/data``, ``/usr/share/datasets`` (Debian's
``dataset-fashion-mnist``) and last the download cache of ``python -m models.data
fetch`` (the user cache folder, ``~/.cache/klmath/data`` on Linux). ``<checkout>``
is the repository these models run from (the current folder when there is none).

In a root, a data set ``NAME`` (``mnist``, ``kmnist``, ``fashion-mnist``) is found as

* ``NAME.npz`` with ``x_train``, ``y_train``, ``x_test``, ``y_test`` (Keras' layout);
* IDX files ``{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]`` in ``NAME/``,
  in torchvision's ``MNIST/raw/``, ``KMNIST/raw/``, ``FashionMNIST/raw/``, or in the
  root itself when the root is that folder;
* ``NAME-{train,test}-{imgs,labels}.npz`` (KMNIST's own NumPy release).

Whatever the layout, the decoded arrays must have the catalog's SHA-256
(:mod:`models.data.catalog`); loaded arrays are cached per process and read-only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from models.data import catalog
from models.data.formats import array_sha256, check_pair, read_idx, read_npz
from models.kit.errors import UserError

__all__ = [
    "DataChecksumError",
    "MissingDataError",
    "Source",
    "cache_dir",
    "candidate_roots",
    "dataset_checksums",
    "find_source",
    "load_dataset",
    "require",
    "resolve_data_root",
]

ENV_VAR = "KLMATH_DATA"
SYSTEM_ROOT = Path("/usr/share/datasets")
_REPO = Path(__file__).resolve().parents[2]
_STEM = {"train": "train", "test": "t10k"}


class MissingDataError(UserError, FileNotFoundError):
    """A data set is in none of the searched places; the message gives the fetch command."""


class DataChecksumError(UserError, ValueError):
    """A copy of a data set was found but its content is not the canonical one."""


def checkout() -> Path:
    """The repository the models run from; the current folder when not in one."""
    if (_REPO / "pyproject.toml").is_file() and "site-packages" not in _REPO.parts:
        return _REPO
    return Path.cwd()


def cache_dir() -> Path:
    """Where ``python -m models.data fetch`` puts downloads by default (user cache)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("klmath")) / "data"


def candidate_roots(data_root: str | os.PathLike[str] | None = None) -> list[Path]:
    """The data roots searched, in order (see the module docstring)."""
    if data_root is not None:
        return [Path(data_root).expanduser()]
    env = os.environ.get(ENV_VAR)
    if env:
        return [Path(env).expanduser()]
    base = checkout()
    return [base / "data", base.parent / "shared" / "data", SYSTEM_ROOT, cache_dir()]


@dataclass(frozen=True)
class Source:
    """Files holding one split of a data set: ``kind`` is npz, idx or npz-pair."""

    kind: str
    files: tuple[Path, ...]

    def __str__(self) -> str:
        return ", ".join(str(f) for f in self.files)


def _first(folder: Path, name: str) -> Path | None:
    for candidate in (folder / f"{name}.gz", folder / name):
        if candidate.is_file():
            return candidate
    return None


def _folders(root: Path, name: str) -> list[Path]:
    tv = catalog.TORCHVISION[name]
    folders = [root / name, root / tv / "raw"]
    if root.name == name or (root.name == "raw" and root.parent.name == tv):
        folders.insert(0, root)
    return folders


def find_source(name: str, split: str, roots: list[Path]) -> Source | None:
    """The first files holding ``name``/``split`` in ``roots`` (no content check)."""
    stem = _STEM[split]
    for root in roots:
        npz = root / f"{name}.npz"
        if npz.is_file():
            return Source("npz", (npz,))
        for folder in _folders(root, name):
            images = _first(folder, f"{stem}-images-idx3-ubyte")
            labels = _first(folder, f"{stem}-labels-idx1-ubyte")
            if images and labels:
                return Source("idx", (images, labels))
        for folder in (root, root / name):
            pair = (folder / f"{name}-{split}-imgs.npz", folder / f"{name}-{split}-labels.npz")
            if all(p.is_file() for p in pair):
                return Source("npz-pair", pair)
    return None


def _check_name_split(name: str, split: str) -> None:
    if name not in catalog.DATASETS:
        raise ValueError(f"name must be one of {catalog.DATASETS}, got {name!r}")
    if split not in catalog.SPLITS:
        raise ValueError(f"split must be one of {catalog.SPLITS}, got {split!r}")


def _missing(name: str, split: str, data_root: str | os.PathLike[str] | None) -> MissingDataError:
    roots = candidate_roots(data_root)
    explicit = data_root is not None or bool(os.environ.get(ENV_VAR))
    dest = f" --dest {roots[0]}" if explicit else ""
    where = "--data-root" if data_root is not None else (ENV_VAR if explicit else "the defaults")
    return MissingDataError(
        f"{name} ({split}) not found in {', '.join(map(str, roots))} ({where}); "
        f"run: python -m models.data fetch --dataset {name}{dest}"
    )


def require(
    names: tuple[str, ...],
    data_root: str | os.PathLike[str] | None = None,
    splits=("train", "test"),
) -> None:
    """Raise :class:`MissingDataError` unless every data set is found (nothing is read)."""
    for name in names:
        for split in splits:
            _check_name_split(name, split)
            if find_source(name, split, candidate_roots(data_root)) is None:
                raise _missing(name, split, data_root)


def _decode(source: Source, split: str) -> tuple[np.ndarray, np.ndarray]:
    if source.kind == "idx":
        return read_idx(source.files[0]), read_idx(source.files[1])
    if source.kind == "npz-pair":
        pair = []
        for f in source.files:
            arrays = read_npz(f)
            if len(arrays) != 1:
                raise ValueError(f"{f}: expected one array, got {sorted(arrays)}")
            pair.append(next(iter(arrays.values())))
        return pair[0], pair[1]
    arrays = read_npz(source.files[0])
    if f"x_{split}" not in arrays or f"y_{split}" not in arrays:
        raise ValueError(f"{source}: missing array x_{split} or y_{split}; has {sorted(arrays)}")
    return arrays[f"x_{split}"], arrays[f"y_{split}"]


def _verify(name: str, split: str, x: np.ndarray, y: np.ndarray, where: str) -> None:
    check_pair(x, y, where)
    if x.shape[0] != catalog.SIZES[split]:
        raise DataChecksumError(
            f"{where}: expected {catalog.SIZES[split]} {split} images, got {x.shape[0]}"
        )
    for what, a, expected in zip(
        ("images", "labels"), (x, y), catalog.ARRAY_SHA256[name][split], strict=True
    ):
        got = array_sha256(a)
        if got != expected:
            raise DataChecksumError(
                f"{where}: these {name} {split} {what} are not the canonical ones (a shuffled, "
                f"altered or other-release copy): SHA-256 of the array bytes is {got}, "
                f"expected {expected}"
            )


@lru_cache(maxsize=16)
def _load_cached(
    name: str, split: str, source: Source, stamps: tuple[tuple[int, int], ...]
) -> tuple[np.ndarray, np.ndarray]:
    x, y = (np.ascontiguousarray(a) for a in _decode(source, split))
    _verify(name, split, x, y, str(source))
    x.flags.writeable = False
    y.flags.writeable = False
    return x, y


def load_dataset(
    name: str, split: str, data_root: str | os.PathLike[str] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(images, labels)`` of a data set split, its content verified.

    Parameters
    ----------
    name : {"mnist", "kmnist", "fashion-mnist"}
    split : {"train", "test"}
        60,000 and 10,000 images.
    data_root : path-like, optional
        The only folder searched; None: ``KLMATH_DATA``, else the default places.

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
        The arrays found are not the canonical ones; the message names the files and
        both SHA-256 sums.
    MissingDataError
        The data set is in none of the searched places; the message (one line) lists
        them and gives the ``python -m models.data fetch`` command.
    """
    _check_name_split(name, split)
    source = find_source(name, split, candidate_roots(data_root))
    if source is None:
        raise _missing(name, split, data_root)
    stamps = tuple((f.stat().st_size, f.stat().st_mtime_ns) for f in source.files)
    resolved = Source(source.kind, tuple(f.resolve() for f in source.files))
    return _load_cached(name, split, resolved, stamps)


def resolve_data_root(
    data_root: str | os.PathLike[str] | None = None, *, name: str = "mnist"
) -> Path:
    """Return the first searched root that holds both splits of ``name``."""
    for root in candidate_roots(data_root):
        if all(find_source(name, split, [root]) for split in catalog.SPLITS):
            return root
    raise _missing(name, "train", data_root)


def dataset_checksums(
    name: str, split: str, data_root: str | os.PathLike[str] | None = None
) -> dict[str, str]:
    """Return the files read for ``name``/``split`` and the verified array SHA-256 sums."""
    load_dataset(name, split, data_root)  # verifies
    source = find_source(name, split, candidate_roots(data_root))
    images, labels = catalog.ARRAY_SHA256[name][split]
    return {"files": str(source), "images_sha256": images, "labels_sha256": labels}
