r"""Coherence and unlearning outcome against the signal-to-noise ratio (SPEC §5.6; claims C7, C8).

For each SNR of the two-layer ReLU CNN (signal-plus-noise data): the coherence axes
(:math:`\sigma_{\rm joint}, \sigma_r, \sigma_{rf}`), the mean-escape curvature
:math:`\lambda_{\min}(A)/\lambda_{\max}(\bar H_r)`, the mean-square growth :math:`\rho(\mathcal T)`,
and the outcome of real (nonlinear) gradient-difference unlearning, averaged over seeds.
"""

from __future__ import annotations

from numerics.tables.base import BuildContext, Table, TableSpec, register_table


def build(ctx: BuildContext) -> Table:
    """Averages over seeds per SNR level (filled in once the CNN experiment exists)."""
    raise NotImplementedError("the CNN experiment API is not wired into this table yet")


register_table(TableSpec("cnn_snr", "coherence and unlearning outcome against SNR",
                         ("C7", "C8"), build, ("numerics.cnn", "theory.cnn"), "§5.6"))
