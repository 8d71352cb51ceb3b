"""Autoencoder anomaly detection (seed problem 1): networks, the detector, its script.

``python -m models.autoencoder --help`` (or ``python -m models.anomaly``). The
threshold rule and the metrics it is judged by live in :mod:`models.kit.detection`,
shared with the VAE; they are re-exported here.
"""

from models.anomaly.detector import AutoencoderDetector
from models.anomaly.networks import ARCHITECTURES, ConvAutoencoder, DenseAutoencoder
from models.kit.detection import (
    auroc,
    average_precision,
    cantelli_bound,
    detection_report,
    error_rates,
    quantile_threshold,
    roc_curve,
    sigma_threshold,
)

__all__ = [
    "ARCHITECTURES",
    "AutoencoderDetector",
    "ConvAutoencoder",
    "DenseAutoencoder",
    "auroc",
    "average_precision",
    "cantelli_bound",
    "detection_report",
    "error_rates",
    "quantile_threshold",
    "roc_curve",
    "sigma_threshold",
]
