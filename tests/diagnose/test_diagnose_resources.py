"""Resources of diagnose: the unlearning run's batch weights are streamed (memory independent of
the number of steps), and every other unbounded request is refused before any work."""

import tracemalloc

import numpy as np
import torch

from numerics.apps.cnn.unlearn import draw_batches
from numerics.apps.diagnose.data import DataSet, FlatModel
from numerics.apps.diagnose.options import RunOptions
from numerics.apps.diagnose.unlearn import batch_weight_rows, gradient_difference
from numerics.core.inputs import UnlearningConfig


def _problem():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(10, 3, generator=g, dtype=torch.float64)
    y = X @ torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    model = torch.nn.Linear(3, 1, bias=False).double()
    return (FlatModel(model), lambda o, t: (o[:, 0] - t) ** 2,
            DataSet(X[:7], y[:7], "retain"), DataSet(X[7:], y[7:], "forget"))


def test_short_runs_draw_the_same_weights_as_one_piece():
    cfg = UnlearningConfig(0.3, 2, 2, "wor").validated(7, 3)
    rows = np.array(list(batch_weight_rows(np.random.default_rng(5), cfg, 7, 3, 50)))
    rng = np.random.default_rng(5)  # the construction of earlier versions, all steps at once
    wr = draw_batches(rng, 7, 2, 50, "wor") * 0.7
    wf = draw_batches(rng, 3, 2, 50, "wor") * -0.3
    assert np.array_equal(rows, np.concatenate([wr, wf], axis=1))


def test_hundred_million_steps_allocate_no_weights_up_front():
    flat, loss, retain, forget = _problem()
    cfg = UnlearningConfig(0.1, 2, 1, "wor")
    tracemalloc.start()
    try:  # a step this large diverges at once: the run ends after a step or two
        run = gradient_difference(flat, loss, retain, forget, cfg, 1e300,
                                  run=RunOptions(unlearn_steps=10**8))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert run.record["diverged"] and run.record["steps_taken"] < 5
    assert peak < 256 * 2**20, f"peak {peak / 2**20:.0f} MiB"  # 1e8 x 10 weights: 7.5 GiB
