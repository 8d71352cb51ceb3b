"""MNIST, KMNIST and Fashion-MNIST: found in any usual layout, verified by content, fetched.

``python -m models.data fetch [--dataset NAME]`` downloads the official files into
the user cache; ``python -m models.data where`` shows what is found where. See
:mod:`models.data.locate` for the search order and layouts, and
:mod:`models.data.catalog` for the checksums.
"""

from models.data.catalog import DATASETS, SPLITS
from models.data.fetch import FetchError, fetch
from models.data.formats import array_sha256, read_idx, read_npz
from models.data.locate import (
    DataChecksumError,
    MissingDataError,
    cache_dir,
    candidate_roots,
    dataset_checksums,
    load_dataset,
    require,
    resolve_data_root,
)
from models.data.splits import split_indices

__all__ = [
    "DATASETS",
    "SPLITS",
    "DataChecksumError",
    "FetchError",
    "MissingDataError",
    "array_sha256",
    "cache_dir",
    "candidate_roots",
    "dataset_checksums",
    "fetch",
    "load_dataset",
    "read_idx",
    "read_npz",
    "require",
    "resolve_data_root",
    "split_indices",
]
