r"""Signal-plus-noise data of SPEC §5.1 [S:CAO, S:KOU], seeded, with common random numbers.

Each sample has two patches,
:math:`x=(x^{(1)},x^{(2)})=(\tilde y\,\mu,\ \xi)\in\mathbb R^{2\times d}`:

* clean label :math:`\tilde y\in\{\pm1\}` uniform; the observed label :math:`y` equals
  :math:`\tilde y` flipped with probability ``flip_prob`` (training set only; the test set keeps
  clean labels, so test accuracy is measured against :math:`\tilde y`);
* :math:`\mu=\|\mu\|\,e` with a seeded random unit direction :math:`e` and
  :math:`\|\mu\|=\mathrm{SNR}\cdot\sigma_p\sqrt d`;
* :math:`\xi=\sigma_p(I-ee^\top)z`, :math:`z\sim\mathcal N(0,I_d)`, so
  :math:`\langle\mu,\xi\rangle=0`
  (to round-off) and :math:`\xi\sim\mathcal N(0,\sigma_p^2(I-\mu\mu^\top/\|\mu\|^2))`.

**Common random numbers.**  The seed fixes :math:`e`, every :math:`z`, every label and every flip;
the SNR only rescales :math:`\mu`.  Data sets at different SNR with one seed therefore differ
only in :math:`\|\mu\|`, which makes trends in SNR much less noisy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from numerics.core.inputs import InputError

__all__ = ["DataConfig", "SignalNoiseData", "make_data", "forget_split", "FORGET_RULES"]

#: Rules for choosing the forget set.
FORGET_RULES: tuple[str, ...] = ("random", "memorized", "flipped")


@dataclass(frozen=True)
class DataConfig:
    r"""Size and geometry of the data.

    Attributes
    ----------
    n_train, n_test:
        Sample counts (:math:`n\ge2`, test :math:`\ge1`).
    d:
        Patch dimension (:math:`d\ge2`, so that :math:`\xi\perp\mu` has room).
    snr:
        :math:`\|\mu\|/(\sigma_p\sqrt d)\ge0`.
    sigma_p:
        Noise scale :math:`\sigma_p>0`.
    flip_prob:
        Label-flip probability in :math:`[0,1/2)`.
    seed:
        Seed of every random draw.
    """

    n_train: int = 24
    n_test: int = 200
    d: int = 300
    snr: float = 1.0
    sigma_p: float = 1.0
    flip_prob: float = 0.0
    seed: int = 0

    def validated(self) -> DataConfig:
        """Checked copy; raises :class:`InputError` naming the bad field."""
        for name in ("n_train", "n_test", "d", "seed"):
            v = getattr(self, name)
            if isinstance(v, bool) or int(v) != v:
                raise InputError(f"{name} must be an integer, got {v!r}")
        if self.d < 2:
            raise InputError(
                f"patch dimension d must be >= 2 (xi is orthogonal to mu), got {self.d}")
        if self.n_train < 2:
            raise InputError(f"n_train must be >= 2, got {self.n_train}")
        if self.n_test < 1:
            raise InputError(f"n_test must be >= 1, got {self.n_test}")
        snr = float(self.snr)
        if not np.isfinite(snr) or snr < 0:
            raise InputError(f"SNR must be finite and >= 0, got {self.snr}")
        sp = float(self.sigma_p)
        if not np.isfinite(sp) or sp <= 0:
            raise InputError(f"sigma_p must be finite and > 0, got {self.sigma_p}")
        fp = float(self.flip_prob)
        if not np.isfinite(fp) or fp < 0 or fp >= 0.5:
            raise InputError(f"flip_prob must lie in [0, 0.5), got {self.flip_prob}")
        if self.seed < 0:
            raise InputError(f"seed must be >= 0, got {self.seed}")
        return DataConfig(int(self.n_train), int(self.n_test), int(self.d), snr, sp, fp,
                          int(self.seed))


@dataclass(frozen=True)
class SignalNoiseData:
    r"""One draw of the data (float64 tensors on the chosen device).

    Attributes
    ----------
    x_train, x_test:
        ``(n, 2, d)`` patches :math:`(\tilde y\mu,\xi)`.
    y_train, y_test:
        Observed labels in :math:`\{\pm1\}` (test labels are clean).
    clean_train:
        Clean training labels :math:`\tilde y`.
    flipped:
        Boolean mask of flipped training labels (numpy).
    mu:
        The signal vector :math:`\mu` (``(d,)``).
    config:
        The :class:`DataConfig` that made it.
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    clean_train: torch.Tensor
    flipped: np.ndarray
    x_test: torch.Tensor
    y_test: torch.Tensor
    mu: torch.Tensor
    config: DataConfig

    @property
    def xi_train(self) -> torch.Tensor:
        r"""Training noise patches :math:`\xi_i`, ``(n, d)``."""
        return self.x_train[:, 1, :]


def make_data(config: DataConfig, *, device: torch.device | str = "cpu",
              dtype: torch.dtype = torch.float64) -> SignalNoiseData:
    r"""Draw train and test sets of the signal-plus-noise model (see the module docstring).

    The draws are made in float64 with ``numpy.random.default_rng(seed)`` in a fixed order
    (direction, train labels, train noise, flips, test labels, test noise), then moved to
    ``device``/``dtype``; so a seed gives the same data on every device and at every SNR.
    """
    cfg = config.validated()
    rng = np.random.default_rng(cfg.seed)
    e = rng.standard_normal(cfg.d)
    e /= np.linalg.norm(e)
    n, nt = cfg.n_train, cfg.n_test
    clean = rng.choice(np.array([-1.0, 1.0]), size=n)
    z = rng.standard_normal((n, cfg.d))
    flips = rng.random(n) < cfg.flip_prob
    y_test = rng.choice(np.array([-1.0, 1.0]), size=nt)
    z_test = rng.standard_normal((nt, cfg.d))

    mu = cfg.snr * cfg.sigma_p * np.sqrt(cfg.d) * e

    def patches(labels: np.ndarray, noise: np.ndarray) -> np.ndarray:
        xi = cfg.sigma_p * (noise - np.outer(noise @ e, e))
        return np.stack([labels[:, None] * mu[None, :], xi], axis=1)

    y = np.where(flips, -clean, clean)

    def t(a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(a, dtype=dtype, device=device)

    return SignalNoiseData(t(patches(clean, z)), t(y), t(clean), flips,
                           t(patches(y_test, z_test)), t(y_test), t(mu), cfg)


def forget_split(n: int, n_forget: int, rule: str = "random", *, seed: int = 0,
                 scores: np.ndarray | None = None,
                 flipped: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    r"""Split ``range(n)`` into sorted ``(retain, forget)`` index arrays.

    Rules
    -----
    ``random``
        A seeded uniform subset of size ``n_forget``.
    ``memorized``
        The ``n_forget`` samples with the largest memorisation ``scores`` (see
        :func:`numerics.apps.cnn.model.memorization_scores`), ties broken by index.
    ``flipped``
        The label-flipped samples first (then random ones to reach ``n_forget``).
    """
    if isinstance(n_forget, bool) or int(n_forget) != n_forget:
        raise InputError(f"n_forget must be an integer, got {n_forget!r}")
    n_forget = int(n_forget)
    if n_forget < 1 or n_forget >= n:
        raise InputError(f"n_forget must satisfy 1 <= n_forget < n = {n}, got {n_forget}")
    rng = np.random.default_rng(seed)
    if rule == "random":
        forget = rng.permutation(n)[:n_forget]
    elif rule == "memorized":
        if scores is None:
            raise InputError("the 'memorized' forget rule needs memorisation scores")
        scores = np.asarray(scores, dtype=float)
        if scores.shape != (n,) or not np.isfinite(scores).all():
            raise InputError(f"memorisation scores must be {n} finite numbers")
        forget = np.lexsort((np.arange(n), -scores))[:n_forget]
    elif rule == "flipped":
        if flipped is None:
            raise InputError("the 'flipped' forget rule needs the flip mask")
        flipped = np.asarray(flipped, bool)
        order = np.concatenate([rng.permutation(np.flatnonzero(flipped)),
                                rng.permutation(np.flatnonzero(~flipped))])
        forget = order[:n_forget]
    else:
        raise InputError(f"unknown forget rule {rule!r}; expected one of {', '.join(FORGET_RULES)}")
    mask = np.zeros(n, bool)
    mask[forget] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)
