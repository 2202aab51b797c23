"""The two-layer CNN on signal-plus-noise data (SPEC §5): data, model, training, unlearning.

Modules: :mod:`~numerics.cnn.data` (generator and forget split), :mod:`~numerics.cnn.model`
(network, analytic gradients, rank-one curvature), :mod:`~numerics.cnn.train` (full-batch GD),
:mod:`~numerics.cnn.unlearn` (nonlinear gradient-difference unlearning),
:mod:`~numerics.cnn.experiment` (the per-SNR pipeline) and :mod:`~numerics.cnn.frontier`
(finite-horizon frontier maps).
"""
