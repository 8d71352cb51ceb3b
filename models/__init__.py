"""Models built on klmath: autoencoder anomaly detection, flows, VAEs. Runs from the checkout.

* ``models.kit`` — what every model shares: runtime (device, threads, seeds), the
  common command-line options, the training loop, atomic checkpoints with
  ``--resume``, plots, reports and records, and the detection metrics;
* ``models.data`` — MNIST, KMNIST, Fashion-MNIST: found in any usual layout,
  verified by content, downloaded by ``python -m models.data fetch``;
* one package per family, importing only ``models.kit``, ``models.data`` and
  ``klmath``: ``models.anomaly`` (seed problem 1), ``models.flows`` (problems 2
  and 3), ``models.vae`` (problem 6).

Scripts: ``python -m models.NAME --help`` for ``autoencoder`` (also ``anomaly``),
``flow1d``, ``realnvp``, ``vae``, ``data``, ``report`` and ``demo``. They run on a GPU
when one exists and on the CPU otherwise. ``models`` depends on ``klmath``, never
the other way round; the wheel installs ``klmath`` alone.
"""
