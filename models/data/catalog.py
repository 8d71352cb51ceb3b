"""What the data sets are: their array checksums, sizes, official files and download mirrors.

A data set is identified by its *content*: the SHA-256 of each array's bytes
(``sha256(np.ascontiguousarray(a).tobytes())``, uint8, images (N, 28, 28) and
labels (N,), in the canonical order of the official files). Any copy, official
gz or raw IDX files, torchvision's ``MNIST/raw/``, a ``.npz`` written by NumPy,
is accepted when its decoded arrays have these checksums, and refused, with the
reason, when not. MNIST and KMNIST sums: ``shared/data/README.md``; Fashion-MNIST
sums: the arrays of the official IDX files whose uncompressed SHA-256 that README
lists (``tests/test_data_catalog.py`` recomputes them).

The official files are downloaded by ``python -m models.data fetch`` and checked
against the SHA-256 of each ``.gz`` file (the sums TensorFlow Datasets publishes
for the same URLs; the sizes agree with the data sets' own documentation).
"""

from __future__ import annotations

__all__ = ["ARRAY_SHA256", "DATASETS", "FILES", "MIRRORS", "SIZES", "SPLITS", "TORCHVISION"]

DATASETS = ("mnist", "kmnist", "fashion-mnist")
SPLITS = ("train", "test")
SIZES = {"train": 60_000, "test": 10_000}

# (images, labels) per split.
ARRAY_SHA256: dict[str, dict[str, tuple[str, str]]] = {
    "mnist": {
        "train": (
            "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
            "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
        ),
        "test": (
            "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
            "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
        ),
    },
    "kmnist": {
        "train": (
            "a739bf427aa2dfc5c56d12f608684bc6db28276246c1b912b0416ba34349a7ca",
            "691c5342313eaef4a0b4d33645442ae1b98f13bd2066e67b551fdd4972ef71ea",
        ),
        "test": (
            "dc10e73c6e83fb3fb3586eafece217ab6602e7825fa7d49399359bde3fc66f07",
            "77d83a49ca5434c5da77399edc7143065cb3a7b0834e2898ea3094e8c2b21a3c",
        ),
    },
    "fashion-mnist": {
        "train": (
            "2e487a6c89124f78f2d7521542223cafe96f7123c3ca13d447772ac6ecbb3012",
            "657fbd221bfc9f4198cc14b5619cc33ec57c58dd0e47af4d99d6650759e869a7",
        ),
        "test": (
            "c867c93ff95360594e8ec3287995350b824dd110b11595c0e13d5423f621867a",
            "3d0e6c6ea990b53b6f8f500a41cac93881d981b315f84578b7d915342ade01e9",
        ),
    },
}

# The official gzip'ed IDX files: name -> SHA-256 of the .gz file.
FILES: dict[str, dict[str, str]] = {
    "mnist": {
        "train-images-idx3-ubyte.gz": (
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"
        ),
        "train-labels-idx1-ubyte.gz": (
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"
        ),
        "t10k-images-idx3-ubyte.gz": (
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"
        ),
        "t10k-labels-idx1-ubyte.gz": (
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"
        ),
    },
    "kmnist": {
        "train-images-idx3-ubyte.gz": (
            "51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4"
        ),
        "train-labels-idx1-ubyte.gz": (
            "e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17"
        ),
        "t10k-images-idx3-ubyte.gz": (
            "edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5"
        ),
        "t10k-labels-idx1-ubyte.gz": (
            "20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c"
        ),
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": (
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"
        ),
        "train-labels-idx1-ubyte.gz": (
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"
        ),
        "t10k-images-idx3-ubyte.gz": (
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"
        ),
        "t10k-labels-idx1-ubyte.gz": (
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"
        ),
    },
}

# Base URLs, tried in order (the first that serves the right file wins).
MIRRORS: dict[str, tuple[str, ...]] = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    "kmnist": (
        "https://codh.rois.ac.jp/kmnist/dataset/kmnist/",
        "http://codh.rois.ac.jp/kmnist/dataset/kmnist/",
    ),
    "fashion-mnist": (
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ),
}

# torchvision's folder names (<root>/<folder>/raw/*-ubyte[.gz]).
TORCHVISION = {"mnist": "MNIST", "kmnist": "KMNIST", "fashion-mnist": "FashionMNIST"}
