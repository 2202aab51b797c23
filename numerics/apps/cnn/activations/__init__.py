"""Activations of the CNN, one module each defining ``ACTIVATION`` (:mod:`numerics.apps.cnn.family`)."""
