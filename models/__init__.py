"""Models built on klmath: autoencoder anomaly detection, flows, VAEs.

Each model has a training script, ``python -m models.<name> --help``. They run
on a GPU when one exists and on the CPU otherwise. ``models`` depends on
``klmath``, never the other way round.
"""
