"""
The diagnose figure at small and at large n
===========================================

The figure ``unlearnstab diagnose --out DIR`` writes (``DIR/diagnose.png``, also embedded in
``DIR/report.html``), for two sets of rank-one per-sample curvatures :math:`H_i=u_iu_i^\\top` in
:math:`\\mathbb R^{40}` whose vectors share a common direction with weight 2 (seed 0), at
:math:`\\alpha=0.1`, batches :math:`B_r=8`, :math:`B_f=4` drawn without replacement and
:math:`\\eta=0.5\\cdot2/\\lambda_{\\max}(\\bar H_r)`:

* **top**, :math:`n_r=30`, :math:`n_f=6`: the left panel is the coherence matrix
  :math:`S_{ij}=\\sqrt{\\operatorname{tr}(H_iH_j)}` itself (log colour scale, retain | forget
  boundary dashed);
* **bottom**, :math:`n_r=400`, :math:`n_f=60`: above 60 samples the matrix would be a moiré, so
  each set is sorted by mean coherence and cut into groups (``r1``... retain, ``f1``... forget,
  sizes in brackets), and each cell is the mean of :math:`S_{ij}` over the pair of groups.

The right panel is the verdict region over :math:`(\\alpha,\\eta)`; the mean-square verdict at the
user's point is in its title.  Its contours are the mean-square steps to a 1000-fold growth of
:math:`\\mathbb E\\|\\delta\\|^2` (labelled "ms"), because curvatures alone have no unlearning run:
with a model and a run, ``diagnose`` draws the predicted steps to the run's own event instead
(forget loss at its uninformative level within the run's horizon).  The script asserts that the
title's verdict agrees with :math:`\\rho(\\mathcal T(\\eta))` computed independently by the exact
operator.

Claims: C1
"""

import tempfile
from pathlib import Path

import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import numpy as np

from numerics.apps.diagnose import DiagnoseOptions, diagnose_curvature
from numerics.apps.diagnose.plot import figure
from numerics.core.inputs import UnlearningConfig
from numerics.core.operator import SecondMomentOperator


def curvatures(n_r: int, n_f: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Rank-one factors u_i in R^40 sharing one direction with weight 2."""
    rng = np.random.default_rng(seed)
    u = rng.standard_normal((n_r + n_f, 40))
    u[:, 0] += 2.0 * rng.standard_normal(n_r + n_f)
    return u[:n_r], u[n_r:]


with tempfile.TemporaryDirectory() as tmp:
    for n_r, n_f in [(30, 6), (400, 60)]:
        retain, forget = curvatures(n_r, n_f)
        opts = DiagnoseOptions.of(alpha=0.1, batch_retain=8, batch_forget=4, eta_rel=0.5)
        report = diagnose_curvature(retain, forget, opts)
        # the verdict at the user's step size agrees with the exact operator, computed anew
        op = SecondMomentOperator(retain[:, :, None], forget[:, :, None],
                                  UnlearningConfig(0.1, 8, 4, "wor"))
        rho = op.rho(report.eta)
        assert abs(rho - report.rho) <= 1e-8 * rho, (rho, report.rho)
        assert (rho > 1) == bool(report.escapes), (rho, report.verdict)
        image = mpimg.imread(figure(report, Path(tmp) / f"diagnose_{n_r + n_f}.png"))
        # shown pixel for pixel (the gallery saves at 100 dpi)
        height, width = image.shape[:2]
        shown = plt.figure(figsize=(width / 100, height / 100), dpi=100)
        shown.add_axes((0, 0, 1, 1)).imshow(image, interpolation="none")
        shown.axes[0].set_axis_off()
plt.show()
