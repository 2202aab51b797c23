"""The two-layer CNN on signal-plus-noise data (SPEC §5): data, model, training, unlearning.

Modules: :mod:`~numerics.apps.cnn.data` (generator and forget split), :mod:`~numerics.apps.cnn.model`
(network, analytic gradients, rank-one curvature), :mod:`~numerics.apps.cnn.train` (full-batch GD),
:mod:`~numerics.apps.cnn.unlearn` (nonlinear gradient-difference unlearning),
:mod:`~numerics.apps.cnn.experiment` (the per-SNR pipeline) and :mod:`~numerics.apps.cnn.frontier`
(finite-horizon frontier maps).
"""
