"""VAEs and the argmax lemma (seed problem 6): the exact linear-Gaussian VAE and a conv VAE.

* :mod:`models.vae.linear` — closed-form ELBO, posterior, marginal, PPCA;
  :mod:`models.vae.linear_checks` — the identity, PPCA and lemma checks;
  :mod:`models.vae.linear_run` — training on the exact ELBO;
* :mod:`models.vae.conv` — the convolutional VAE, its ELBO and IWAE bound;
  :mod:`models.vae.mnist` — training and evaluation on binarised MNIST.

Script: ``python -m models.vae [--linear]``.
"""

from models.vae.conv import ConvVAE, binarize, iw_bound, nats_to_bits_per_dim
from models.vae.linear import LinearGaussianVAE, elbo, marginal_log_prob, ppca_closed_form

__all__ = [
    "ConvVAE",
    "LinearGaussianVAE",
    "binarize",
    "elbo",
    "iw_bound",
    "marginal_log_prob",
    "nats_to_bits_per_dim",
    "ppca_closed_form",
]
