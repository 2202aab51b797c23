"""The regime panel's map of predicted mean-square steps to escape, against rho of the operator."""

import math

import numpy as np

from numerics.apps.diagnose import diagnose_curvature
from numerics.apps.diagnose.options import DiagnoseOptions
from numerics.core.inputs import UnlearningConfig
from numerics.core.operator import SecondMomentOperator


def test_steps_map_is_log_growth_over_log_rho_of_the_operator():
    rng = np.random.default_rng(0)
    fr = rng.standard_normal((8, 4, 1))
    ff = rng.standard_normal((3, 4, 1))
    opts = DiagnoseOptions.from_flat({"alpha": 0.2, "eta": 0.05, "batch_retain": 4,
                                      "batch_forget": 2, "steps_grid": 4, "unlearn_steps": 0})
    rep = diagnose_curvature(fr, ff, opts)
    smap = rep.region["steps_map"]
    assert len(smap["alpha"]) == 4 and len(smap["eta"]) == 4
    checked = 0
    for i, a in enumerate(smap["alpha"]):
        op = SecondMomentOperator(fr, ff, UnlearningConfig(a, 4, 2)) if a > 0 else \
            SecondMomentOperator(fr, None, UnlearningConfig(0.0, 4, 1))
        for j, e in enumerate(smap["eta"]):
            rho = op.rho(e, "dense")
            got = smap["steps"][i][j]
            if rho > 1.0:
                assert math.isclose(got, math.log(1000.0) / math.log(rho), rel_tol=1e-6)
                checked += 1
            else:
                assert got is None
    assert checked > 0
    assert rep.as_dict()["horizon"] is None  # no run: no observed event
