"""Readers of the file formats the data sets come in: IDX (gz or raw) and NumPy ``.npz``."""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

__all__ = ["array_sha256", "check_pair", "read_idx", "read_npz"]

_IDX_DTYPES = {0x08: np.dtype(np.uint8)}  # the only type these data sets use


def array_sha256(a: np.ndarray) -> str:
    """SHA-256 of an array's bytes in C order (the content checksum of the catalog)."""
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def check_pair(x: np.ndarray, y: np.ndarray, where: str) -> None:
    """Raise ValueError unless ``x`` is uint8 (n, 28, 28) and ``y`` uint8 (n,) in 0..9."""
    if x.dtype != np.uint8 or y.dtype != np.uint8:
        raise ValueError(f"{where}: expected uint8 images and labels, got {x.dtype} and {y.dtype}")
    if x.ndim != 3 or x.shape[1:] != (28, 28):
        raise ValueError(f"{where}: expected images of shape (n, 28, 28), got {x.shape}")
    if y.shape != (x.shape[0],):
        raise ValueError(f"{where}: expected labels of shape ({x.shape[0]},), got {y.shape}")
    if y.size and int(y.max()) > 9:
        raise ValueError(f"{where}: labels must be in 0..9, got max {int(y.max())}")


def read_npz(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Return every array of a ``.npz`` archive (no pickles); ValueError names a bad file."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except (OSError, ValueError, zlib.error, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path}: not a readable .npz archive ({exc})") from None


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Return the array stored in an IDX file (gzip'ed when the name ends in ``.gz``).

    IDX layout: two zero bytes, a type code (0x08 = uint8), the number of
    dimensions k, then k big-endian uint32 sizes, then the data row-major.

    Parameters
    ----------
    path : path-like
        ``*.gz`` or uncompressed IDX file.

    Returns
    -------
    numpy.ndarray
        uint8 array of the declared shape.

    Raises
    ------
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
