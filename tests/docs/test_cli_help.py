"""Every sub-command's ``--help`` ends with runnable examples and explains its choices; every
command accepts ``--quiet``; the examples run as shown (in a fresh directory)."""

from __future__ import annotations

import contextlib
import importlib
import io

import doccommands
import pytest

from numerics.cli import COMMANDS, build_parser


def _help(name: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as stop:
        build_parser().parse_args([name, "--help"])
    assert stop.value.code == 0
    return out.getvalue()


@pytest.mark.parametrize("name", COMMANDS)
def test_help_ends_with_examples_and_explains_choices(name):
    text = _help(name)
    examples = text.split("\nexamples:\n", 1)
    assert len(examples) == 2, f"{name} --help has no examples section"
    lines = doccommands.shell_lines(examples[1].split("\n\n", 1)[0])
    assert any(line.startswith(f"unlearnstab {name}") for line in lines)
    assert "--quiet" in text
    if "--sampling" in text:
        for scheme in ("wor ", "bernoulli ", "wr "):
            assert f"\n  {scheme}" in text, (name, scheme)
        assert "mean-square" in text and "almost-sure" in text


@pytest.mark.parametrize("name", ["radius", "threshold", "diagnose"])
def test_quiet_is_accepted_everywhere(name):
    args = build_parser().parse_args([name, "--quiet", *{
        "radius": ["--hessians", "H.npz", "--eta", "0.1"], "threshold": ["--hessians", "H.npz"],
        "diagnose": ["--entry", "m:f"]}[name]])
    assert args.quiet is True


@pytest.mark.slow
@pytest.mark.parametrize("name", COMMANDS)
def test_help_examples_run_as_shown(name, tmp_path):
    module = importlib.import_module(f"numerics.cli.{name}")
    lines = doccommands.shell_lines(module.EXAMPLES)
    assert lines
    for line in lines:
        status, _ = doccommands.run_command(line, tmp_path, quick=False)
        assert status == 0, line
