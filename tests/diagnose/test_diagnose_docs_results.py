"""The digits tables that the docs include were written by the current configuration.

``docs/results/digits.md`` takes minutes to regenerate, so the docs include the file that
``python -m numerics.examples.digits --table --out docs/results/digits.md`` wrote.  These tests
fail when the code's configuration or forget-set kinds move away from what the file records, so a
stale table cannot sit in the docs unnoticed.
"""

from dataclasses import asdict
from pathlib import Path

import pytest

from numerics.examples import digits

RESULTS = Path(__file__).resolve().parents[2] / "docs" / "results" / "digits.md"


def test_recorded_configuration_round_trips():
    """The parser reads back exactly what :func:`digits.table` writes (no experiment run)."""
    cfg = asdict(digits.DigitsConfig())
    opts = ", ".join(f"{k}={v}" for k, v in digits.OPTIONS.items())
    text = f"Configuration: {cfg}; diagnose options {opts}; function distances on softmax."
    assert digits.recorded_configuration(text) == (cfg, digits.OPTIONS)
    with pytest.raises(ValueError, match="Configuration"):
        digits.recorded_configuration("no such line")


def test_docs_digits_table_matches_the_code():
    text = RESULTS.read_text(encoding="utf-8")
    cfg, opts = digits.recorded_configuration(text)
    assert cfg == asdict(digits.DigitsConfig()), (
        "docs/results/digits.md was written with another DigitsConfig; regenerate it with "
        "python -m numerics.examples.digits --table --out docs/results/digits.md")
    assert opts == digits.OPTIONS, "docs/results/digits.md was written with other OPTIONS"
    for kind in digits.KINDS:
        assert text.count(f"\n| {kind} |") == 2, f"forget kind {kind!r} missing from a table"


def test_table_at_small_size_records_its_configuration():
    """:func:`digits.table` at a small size: both tables, one row each, the overrides recorded."""
    pytest.importorskip("sklearn")
    small = {"n_train": 40, "hidden": 4, "steps": 300, "n_forget": 4, "n_test": 60}
    text = digits.table(("redundant",), **small)
    assert text.count("\n| redundant |") == 2
    cfg, opts = digits.recorded_configuration(text)
    assert cfg == {**asdict(digits.DigitsConfig()), **small} and opts == digits.OPTIONS
