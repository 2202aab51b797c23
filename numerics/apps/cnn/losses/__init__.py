"""Losses of the CNN, one module each defining ``LOSS`` (:mod:`numerics.apps.cnn.family`)."""
