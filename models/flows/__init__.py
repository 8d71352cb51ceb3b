"""Normalizing flows: the 1-D flow of seed problem 2 and RealNVP (seed problem 3).

Scripts: ``python -m models.flow1d`` and ``python -m models.realnvp``.
"""

from models.flows.flow1d import Flow1d, data_log_pdf, init_flow, sample_data
from models.flows.realnvp import (
    LOGIT_ALPHA,
    RealNVP,
    make_masks,
    mnist_log_prob_bits,
    toy_density,
)

__all__ = [
    "LOGIT_ALPHA",
    "Flow1d",
    "RealNVP",
    "data_log_pdf",
    "init_flow",
    "make_masks",
    "mnist_log_prob_bits",
    "sample_data",
    "toy_density",
]
