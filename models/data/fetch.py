"""Download the official files of a data set, verified, into the cache (or a folder of choice).

pooch does the work: each file is streamed to a temporary file next to its
destination, its SHA-256 compared with the catalog's, and only then moved into
place; a failed or interrupted download leaves nothing behind. Mirrors are tried
in order until one serves the right file. After download the arrays are decoded
and checked against the catalog's content checksums as well.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from models.data import catalog
from models.data.locate import cache_dir
from models.kit.errors import UserError
from models.kit.progress import bar

__all__ = ["FetchError", "fetch"]


class FetchError(UserError):
    """No mirror served a file with the right checksum; the message lists each failure."""


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"{type(exc).__name__}: {text[:160]}"


def _download(url: str, sha256: str, target: Path, *, progress: bool, timeout: float) -> None:
    import pooch

    pooch.get_logger().setLevel("WARNING")
    # pooch sets the total once it knows the size; a bar must be truthy, hence total=1
    progressbar = bar(desc=target.name, unit="B", total=1, leave=False) if progress else None
    try:
        downloader = pooch.HTTPDownloader(progressbar=progressbar or False, timeout=timeout)
        pooch.retrieve(
            url,
            known_hash=f"sha256:{sha256}",
            fname=target.name,
            path=target.parent,
            downloader=downloader,
        )
    finally:
        if progressbar is not None:
            progressbar.close()


def fetch(
    name: str,
    dest: str | os.PathLike[str] | None = None,
    *,
    mirrors: Sequence[str] | None = None,
    files: Mapping[str, str] | None = None,
    progress: bool = True,
    timeout: float = 60.0,
    verify: bool = True,
) -> Path:
    """Download data set ``name`` into ``dest/name/`` (default: the user cache); return it.

    Parameters
    ----------
    name : {"mnist", "kmnist", "fashion-mnist"}
    dest : path-like, optional
        Data root to fill (default :func:`~models.data.locate.cache_dir`).
    mirrors, files : optional
        Base URLs to try in order and ``{file name: SHA-256}``; default: the
        catalog's (tests pass a local server and fixtures).
    verify : bool
        Also decode the files and check the arrays' content checksums.

    Raises
    ------
    FetchError
        A file could not be had with the right checksum from any mirror; files
        already complete are kept, nothing partial is.
    """
    if name not in catalog.DATASETS:
        raise UserError(f"--dataset must be one of {', '.join(catalog.DATASETS)}, got {name!r}")
    import requests

    root = Path(dest) if dest is not None else cache_dir()
    folder = root / name
    mirrors = list(mirrors if mirrors is not None else catalog.MIRRORS[name])
    files = dict(files if files is not None else catalog.FILES[name])
    created = [p for p in (root, folder) if not p.exists()]
    for fname, sha256 in files.items():
        errors = []
        for base in mirrors:
            try:
                _download(base + fname, sha256, folder / fname, progress=progress, timeout=timeout)
                break
            except ValueError as exc:  # pooch: the downloaded file has another SHA-256
                errors.append(f"{base}{fname}: wrong checksum ({_short(exc)})")
            except (requests.RequestException, OSError) as exc:
                errors.append(f"{base}{fname}: {_short(exc)}")
        else:
            for made in reversed(created):  # leave no empty folder behind
                if made.is_dir() and not any(made.iterdir()):
                    made.rmdir()
            raise FetchError(f"could not download {name}/{fname}: " + "; ".join(errors))
    if verify:
        from models.data.locate import load_dataset

        for split in catalog.SPLITS:
            load_dataset(name, split, root)
    return folder
