r"""The exact Hessian's negative curvature against the noise of unfinished training.

On the Hessian routes (``dense``, ``matrix-free``) :math:`\lambda_{\min}(A|_V)<0` says that the
mean escapes at every step size.  At an imperfectly trained :math:`w^\star` the exact Hessian also
carries a little negative curvature of the training itself (for cross-entropy, the term
:math:`\sum_c\partial_{f_c}\ell_i\nabla^2_\theta f_c` proportional to the output residual, which
training drives down but never to zero).  The report compares the negative curvature with two
noise levels and takes the larger,

.. math::
   y=\max\big(\kappa\,\|\nabla L(w^\star)\|,\ \epsilon\,\max|\operatorname{spec}A|\big),

* the **training noise** :math:`\kappa\|\nabla L(w^\star)\|`: the norm of the mean training
  gradient at :math:`w^\star` (retain and forget sets) times :data:`NOISE_FACTOR`
  :math:`\kappa=1` per unit parameter distance.  Read: over a displacement of the weights' own
  scale (1), a curvature :math:`|\lambda|\le y` changes the loss by :math:`\tfrac12|\lambda|`,
  less than the first-order slope training left behind, so training has not resolved it.  This
  is a stated scale, not a bound; on the digits cross-entropy MLP with :math:`P=658` it
  separates the two cases the tests pin (:math:`\alpha=0`: :math:`\lambda_{\min}=-1.7\cdot10^{-4}`
  against :math:`\|\nabla L\|=5.4\cdot10^{-4}`, the Gauss--Newton curvature resists;
  :math:`\alpha=0.1`: :math:`-3.4\cdot10^{-3}`, and the Gauss--Newton curvature escapes too);
* the **float noise** :math:`\epsilon\max|\operatorname{spec}A|` with :math:`\epsilon=`
  :data:`FLOAT_RTOL`, the relative round-off cut of the curvature routes.

Below it, the report says so (``negative_curvature.below_noise``) and re-checks the same
:math:`\alpha`, batches and :math:`\eta` on the PSD Gauss--Newton curvature
(``negative_curvature.ggn``), where the loss allows one: materialised after the dense
route; after the matrix-free route, restricted to that route's own subspace (which holds the
Hessian's bottom eigenvectors; ``ggn.subspace_dim``), so no second Krylov solve is run.  That decides the reading
(``negative_curvature.attributed_to``): ``training`` when the Gauss--Newton
:math:`\lambda_{\min}(A|_V)` is not negative (the negative curvature came from the omitted
residual term alone), ``data`` when it is negative too (the forget ascent curves it, whatever
the size), ``undetermined`` without a Gauss--Newton verdict.
"""

from __future__ import annotations

from typing import Any

from numerics.apps.diagnose.route import RTOL

__all__ = ["NOISE_FACTOR", "FLOAT_RTOL", "HESSIAN_ROUTES", "noise_level", "attribute",
           "noise_note"]

#: kappa: training noise per unit parameter distance, in units of the mean gradient norm.
NOISE_FACTOR = 1.0
#: Relative float noise of the curvature (the routes' round-off cut).
FLOAT_RTOL = RTOL
#: Reported routes whose curvature is the exact Hessian (restricted or not).
HESSIAN_ROUTES: tuple[str, ...] = ("dense", "matrix-free")


def noise_level(lambda_min_A: float, lambda_scale: float,
                gradient_norm: float) -> dict[str, Any]:
    r"""The noise level :math:`y` of the module docstring and whether :math:`\lambda_{\min}` is below it.

    Parameters
    ----------
    lambda_min_A:
        :math:`\lambda_{\min}(A|_V)` of the exact Hessian.
    lambda_scale:
        :math:`\max|\operatorname{spec}A|`.
    gradient_norm:
        :math:`\|\nabla L(w^\star)\|`, the mean training gradient's norm.

    Returns
    -------
    dict
        ``lambda_min_A``, ``training_noise`` (:math:`y`), ``gradient_norm``, ``noise_factor``,
        ``float_noise``, ``dominant`` (``gradient`` or ``float``) and ``below_noise``
        (:math:`\lambda_{\min}<0` and :math:`|\lambda_{\min}|\le y`).
    """
    grad_noise = NOISE_FACTOR * float(gradient_norm)
    float_noise = FLOAT_RTOL * abs(float(lambda_scale))
    y = max(grad_noise, float_noise)
    lam = float(lambda_min_A)
    return {"lambda_min_A": lam, "training_noise": y, "gradient_norm": float(gradient_norm),
            "noise_factor": NOISE_FACTOR, "float_noise": float_noise,
            "dominant": "gradient" if grad_noise >= float_noise else "float",
            "below_noise": bool(lam < 0.0 and -lam <= y)}


def attribute(entry: dict[str, Any]) -> str:
    """``training``, ``data`` or ``undetermined`` for an entry below the noise (module docstring)."""
    ggn = entry.get("ggn")
    if ggn is None:
        return "undetermined"
    return "data" if ggn["lambda_min_A"] < 0.0 else "training"


def noise_note(entry: dict[str, Any]) -> str:
    """The report's sentence for a ``negative_curvature`` entry that is below the noise."""
    lam, y = entry["lambda_min_A"], entry["training_noise"]
    what = ("the mean training gradient's norm at w*" if entry["dominant"] == "gradient"
            else "the curvature's float round-off")
    head = (f"the exact Hessian's negative curvature {lam:.3g} is below the training noise "
            f"{y:.3g} ({what})")
    ggn = entry.get("ggn")
    if ggn is None:
        return (head + "; it may reflect imperfect training rather than the data, and no "
                f"Gauss-Newton verdict tells them apart "
                f"({entry.get('ggn_unavailable', 'not computed')})")
    where = (f" on the Hessian route's {ggn['subspace_dim']}-dimensional subspace"
             if "subspace_dim" in ggn else "")
    verdict = (f"the GGN verdict is: {ggn['verdict']} (route {ggn['route']}{where}, "
               f"lambda_min(A|V) = {ggn['lambda_min_A']:.4g})")
    if attribute(entry) == "training":
        return head + f": it reflects imperfect training, not the data; {verdict}"
    return (head + ", but the PSD Gauss-Newton curvature is negative there too: it comes from "
            f"the data (the forget ascent), not from imperfect training; {verdict}")
