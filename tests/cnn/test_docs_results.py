"""The CNN agreement tables in the docs were written by the current configuration.

``docs/results/cnn_agreement.json`` takes about 20 CPU-minutes to regenerate, so the docs include
the markdown that ``docs/results/cnn_agreement.py`` wrote from it.  These tests fail when the
script's grids or configurations move away from what the file records, when the markdown is not
the rendering of the recorded summary, or when claim C13's documented pass rule no longer matches
the measurement it was set from.
"""

import importlib.util
import json
from dataclasses import asdict
from pathlib import Path

import pytest

from numerics.verify.claims.cnn_logistic import C13_MARGIN, C13_RATE

RESULTS = Path(__file__).resolve().parents[2] / "docs" / "results"


@pytest.fixture(scope="module")
def script():
    spec = importlib.util.spec_from_file_location("cnn_agreement", RESULTS / "cnn_agreement.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def stored():
    return json.loads((RESULTS / "cnn_agreement.json").read_text(encoding="utf-8"))


def _plain(x):
    return json.loads(json.dumps(x))


def test_recorded_configurations_are_the_scripts(script, stored):
    assert stored["config"]["squared"] == _plain({**asdict(script.SQUARED),
                                                  "grid": script.SQUARED_GRID})
    for tol, steps in script.SETTINGS:
        key = f"logistic_tol{tol:g}_K{steps}"
        assert stored["config"][key]["loss_tol"] == tol and stored["config"][key]["steps"] == steps
        assert stored["config"][key]["grid"] == _plain(script.LOGISTIC_GRID)


def test_markdown_is_the_rendering_of_the_summary(script, stored):
    assert (RESULTS / "cnn_agreement.md").read_text(encoding="utf-8") == script.render(
        stored["summary"])


def test_c13_pass_rule_matches_the_measurement(stored):
    rates = stored["summary"]["logistic_tol0.05_K200"]["predictors"]
    frozen = rates["d_frozen_activation_exact_loss"]["all"]["rate"]
    homogeneous = rates["a_homogeneous_mean_square"]["all"]["rate"]
    assert frozen >= C13_RATE
    assert frozen - homogeneous >= C13_MARGIN
