"""Signal-plus-noise generator and forget split."""

import numpy as np
import pytest
import torch

from numerics.apps.cnn.data import DataConfig, forget_split, make_data
from numerics.core.inputs import InputError


def test_geometry_and_snr():
    cfg = DataConfig(n_train=20, n_test=30, d=50, snr=0.7, sigma_p=2.0, seed=3)
    data = make_data(cfg)
    assert data.x_train.shape == (20, 2, 50) and data.x_test.shape == (30, 2, 50)
    assert data.x_train.dtype == torch.float64
    mu = data.mu
    assert float(mu.norm()) == pytest.approx(0.7 * 2.0 * np.sqrt(50))
    assert torch.allclose(data.x_train[:, 0], data.y_train[:, None] * mu[None])
    assert float((data.xi_train @ mu).abs().max()) < 1e-12 * float(mu.norm())
    assert set(data.y_train.tolist()) <= {-1.0, 1.0}


def test_seeded_and_common_random_numbers():
    a = make_data(DataConfig(snr=0.1, seed=5))
    b = make_data(DataConfig(snr=2.0, seed=5))
    c = make_data(DataConfig(snr=0.1, seed=6))
    assert torch.equal(a.xi_train, b.xi_train) and torch.equal(a.y_train, b.y_train)
    assert torch.equal(a.x_test[:, 1], b.x_test[:, 1])
    assert not torch.equal(a.xi_train, c.xi_train)
    assert torch.equal(make_data(DataConfig(snr=0.1, seed=5)).x_train, a.x_train)


def test_label_flips():
    data = make_data(DataConfig(n_train=2000, n_test=5, d=4, flip_prob=0.2, seed=0))
    frac = data.flipped.mean()
    assert 0.17 < frac < 0.23
    flipped = torch.as_tensor(data.flipped)
    assert torch.equal(data.y_train[flipped], -data.clean_train[flipped])
    assert torch.equal(data.x_train[:, 0], data.clean_train[:, None] * data.mu[None])


def test_forget_split_rules():
    r, f = forget_split(10, 3, "random", seed=1)
    assert len(f) == 3 and len(r) == 7 and set(r) | set(f) == set(range(10))
    scores = np.arange(10.0)
    _, f = forget_split(10, 3, "memorized", scores=scores)
    assert list(f) == [7, 8, 9]
    mask = np.zeros(10, bool)
    mask[[2, 4]] = True
    _, f = forget_split(10, 2, "flipped", flipped=mask)
    assert list(f) == [2, 4]


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"d": 1}, "d must be >= 2"),
    ({"snr": -0.1}, "SNR"),
    ({"snr": float("nan")}, "SNR"),
    ({"n_train": 1}, "n_train"),
    ({"sigma_p": 0.0}, "sigma_p"),
    ({"flip_prob": 0.5}, "flip_prob"),
])
def test_bad_data_config(kwargs, match):
    with pytest.raises(InputError, match=match):
        make_data(DataConfig(**kwargs))


def test_bad_split():
    with pytest.raises(InputError, match="n_forget"):
        forget_split(5, 5)
    with pytest.raises(InputError, match="n_forget"):
        forget_split(5, 0)
    with pytest.raises(InputError, match="unknown forget rule"):
        forget_split(5, 1, "oldest")
    with pytest.raises(InputError, match="scores"):
        forget_split(5, 1, "memorized")
