"""The GPU allocator cap of ``--memory-budget-gb`` (``numerics.core.device.gpu_memory_cap``).

No GPU is needed: the CUDA calls are replaced by recorders, so these tests check the wiring
(the fraction passed to the allocator equals budget / device memory, it is reset on exit, and an
allocator refusal becomes one line naming the budget), not the allocator itself.
"""

from types import SimpleNamespace

import pytest
import torch

from numerics.core.device import gpu_memory_cap
from numerics.core.inputs import InputError

DEVICE_GIB = 80.0


@pytest.fixture
def fake_cuda(monkeypatch):
    calls: list[tuple[float, torch.device]] = []
    monkeypatch.setattr(torch.cuda, "get_device_properties",
                        lambda d: SimpleNamespace(total_memory=int(DEVICE_GIB * 2**30)))
    monkeypatch.setattr(torch.cuda, "set_per_process_memory_fraction",
                        lambda f, d: calls.append((f, d)))
    return calls


def test_fraction_is_budget_over_device_memory_and_reset(fake_cuda):
    dev = torch.device("cuda:0")
    with gpu_memory_cap(dev, 8.0):
        assert len(fake_cuda) == 1
        frac, where = fake_cuda[0]
        assert frac == pytest.approx(8.0 / DEVICE_GIB, rel=1e-12) and where == dev
    assert len(fake_cuda) == 2 and fake_cuda[1][0] == 1.0


def test_budget_above_the_device_caps_at_one(fake_cuda):
    with gpu_memory_cap(torch.device("cuda"), 500.0):
        pass
    assert fake_cuda[0][0] == 1.0


def test_cpu_or_no_budget_leaves_the_allocator_alone(fake_cuda):
    with gpu_memory_cap(torch.device("cpu"), 8.0):
        pass
    with gpu_memory_cap(torch.device("cuda"), None):
        pass
    assert fake_cuda == []


def test_allocator_refusal_is_one_line_naming_the_budget(fake_cuda):
    with pytest.raises(InputError) as err:
        with gpu_memory_cap(torch.device("cuda"), 2.0):
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 3.00 GiB\nmore")
    msg = str(err.value)
    assert "\n" not in msg and "GPU memory budget of 2 GiB" in msg and "3.00 GiB" in msg
    assert fake_cuda[-1][0] == 1.0  # reset after the refusal too
