"""Cells: canonical JSON, keys, specs and the capture of a cell's record or error."""

import json
import math

import numpy as np
import pytest

from numerics.core.inputs import InputError
from numerics.sweep.cells import (
    canonical_json,
    cell_key,
    cell_path,
    execute_cell,
    is_importable,
    make_cells,
    resolve,
)
from numerics.sweep.demo import TOY_CELL as TOY
from numerics.sweep.demo import toy_cell


def test_canonical_json_is_order_free_and_exact():
    a = {"b": 1, "a": [1.0, 0.1 + 0.2], "c": {"y": None, "x": True}}
    b = {"c": {"x": True, "y": None}, "a": [1.0, 0.1 + 0.2], "b": 1}
    assert canonical_json(a) == canonical_json(b)
    assert json.loads(canonical_json(a))["a"][1] == 0.1 + 0.2  # floats round-trip exactly


def test_canonical_json_maps_numpy_and_non_finite():
    text = canonical_json({"i": np.int64(3), "f": np.float32(0.5), "b": np.bool_(True),
                           "arr": np.arange(3), "nan": math.nan, "inf": np.inf, "t": (1, 2)})
    assert json.loads(text) == {"i": 3, "f": 0.5, "b": True, "arr": [0, 1, 2], "nan": None,
                                "inf": None, "t": [1, 2]}


def test_canonical_json_refuses_non_json():
    with pytest.raises(TypeError, match="set"):
        canonical_json({"s": {1, 2}})


def test_key_depends_on_config_seed_version_and_function():
    base = cell_key(TOY, {"d": 5, "seed": 0}, "1.0")
    assert base == cell_key(TOY, {"seed": 0, "d": 5}, "1.0")
    assert base != cell_key(TOY, {"d": 5, "seed": 1}, "1.0")
    assert base != cell_key(TOY, {"d": 5, "seed": 0}, "1.1")
    assert base != cell_key(TOY, {"d": 6, "seed": 0}, "1.0")
    assert base != cell_key("other.module:cell", {"d": 5, "seed": 0}, "1.0")
    assert len(base) == 64


def test_make_cells_defaults_seed_and_drops_duplicates():
    specs = make_cells(TOY, [{"d": 5}, {"d": 5, "seed": 0}, {"d": 5, "seed": 2}])
    assert [s.seed for s in specs] == [0, 2]
    assert specs[0].config == {"d": 5, "seed": 0}


@pytest.mark.parametrize("bad", [{"seed": 1.5}, {"seed": "1"}, {"seed": True}])
def test_make_cells_rejects_bad_seed(bad):
    with pytest.raises(InputError, match="seed must be an integer"):
        make_cells(TOY, [bad])


def test_make_cells_rejects_non_json_config():
    with pytest.raises(InputError, match="not JSON data"):
        make_cells(TOY, [{"x": object()}])


@pytest.mark.parametrize(("path", "msg"), [
    ("no_colon", "must look like"),
    ("numerics.nope:cell", "cannot import"),
    ("numerics.sweep.demo:nope", "has no cell"),
    ("numerics.sweep.demo:__doc__", "not callable"),
])
def test_resolve_errors(path, msg):
    with pytest.raises(InputError, match=msg):
        resolve(path)


def test_paths_of_functions():
    assert cell_path(toy_cell) == TOY and is_importable(toy_cell)
    assert not is_importable(lambda c: c)


def test_execute_cell_captures_record_and_error():
    ok = execute_cell(TOY, "k", {"seed": 3, "d": 4})
    assert ok.ok and ok.error is None
    rec = json.loads(ok.record_json)
    assert rec == json.loads(canonical_json(toy_cell({"seed": 3, "d": 4})))
    bad = execute_cell(TOY, "k", {"seed": 3, "fail": True})
    assert not bad.ok and bad.record_json is None
    assert bad.error.startswith("ValueError: cell asked to fail") and "Traceback" in bad.error
    not_dict = execute_cell(lambda c: [1], "k", {"seed": 0})
    assert not not_dict.ok and "must return a dict" in not_dict.error
