"""The CNN tests run single-threaded: their tensors are small, and on a shared 2-core machine
thread start-up and contention cost more than the arithmetic they would share."""

import pytest
import torch
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(previous)
