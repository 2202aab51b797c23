"""Option objects: flags generated from the fields, one validation, flat names through groups."""

import argparse
import dataclasses

import pytest

from numerics.apps.cnn.experiment import ExperimentConfig
from numerics.apps.diagnose.options import DiagnoseOptions
from numerics.cli.diagnose import options as diagnose_options
from numerics.cli.entry import build_parser
from numerics.core.inputs import InputError
from numerics.core.options import add_options, option_fields, options_from_args
from numerics.sweep.options import SweepOptions, sweep_options


def _flags(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {s: a for a in parser._actions for s in a.option_strings}


def _sub(name: str) -> argparse.ArgumentParser:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


def _leaf_fields(cls):
    for f, meta in option_fields(cls):
        if meta.get("group") is not None:
            yield from _leaf_fields(meta["group"])
        elif meta["cli"]:
            yield f, meta


@pytest.mark.parametrize(("command", "cls"), [("diagnose", DiagnoseOptions),
                                              ("cnn", ExperimentConfig),
                                              ("frontier", SweepOptions)])
def test_every_command_line_field_has_its_flag(command, cls):
    flags = _flags(_sub(command))
    for f, meta in _leaf_fields(cls):
        name = meta["flag"] or (f"--no-{f.name}" if f.default is True else f"--{f.name}")
        name = name.replace("_", "-")
        assert name in flags, (command, f.name)
        assert flags[name].dest == f.name
        assert meta["help"] in flags[name].help


def test_existing_flag_names_are_kept():
    flags = _flags(_sub("diagnose"))
    for flag in ("--eta", "--eta-rel", "--alpha", "--batch-retain", "--batch-forget", "--sampling",
                 "--device", "--max-samples", "--route", "--memory-budget-gb", "--seed",
                 "--unlearn-steps", "--init-noise", "--grid", "--no-deletion", "--no-prescribe",
                 "--no-progress", "--threads", "--out", "--json", "--entry"):
        assert flag in flags, flag


def test_defaults_are_the_dataclass_defaults():
    args = _sub("diagnose").parse_args(["--entry", "m:f"])
    assert diagnose_options(args) == DiagnoseOptions()
    args = _sub("frontier").parse_args(["--family", "sigma", "--n", "4", "--sigma", "1",
                                        "--batch", "1", "--eta", "0.1"])
    assert sweep_options(args).chunk_size == 1 and sweep_options(args).executor == "inprocess"


def test_flags_override_entry_options_and_the_step_size_replaces():
    p = _sub("diagnose")
    args = p.parse_args(["--entry", "m:f", "--eta-rel", "0.3", "--grid", "3", "--no-deletion"])
    opts = diagnose_options(args, {"eta": 0.5, "alpha": 0.2, "grid_size": 5}, entry_seed=7)
    assert opts.unlearning.eta is None and opts.unlearning.eta_rel == 0.3  # not "both given"
    assert opts.unlearning.alpha == 0.2 and opts.prescription.grid_size == 3
    assert opts.deletion.deletion is False and opts.deletion.train_seed == 7


def test_one_validation_for_every_entry_point():
    with pytest.raises(InputError, match="alpha must lie in"):
        DiagnoseOptions.of(alpha=1.5)
    with pytest.raises(InputError, match="either eta or eta_rel"):
        DiagnoseOptions.of(eta=0.1, eta_rel=0.5)
    with pytest.raises(InputError, match="entry options: 'alhpa' is not a diagnose option"):
        diagnose_options(_sub("diagnose").parse_args(["--entry", "m:f"]), {"alhpa": 0.1})
    with pytest.raises(InputError, match="max_samples must be an integer >= 1"):
        DiagnoseOptions.of(max_samples=0)


def test_flat_names_round_trip_through_groups():
    opts = DiagnoseOptions.of(alpha=0.3, route="ggn", seed=4, grid_size=2, deletion=False)
    assert DiagnoseOptions.from_flat(opts.flat()) == opts
    assert len(set(DiagnoseOptions.names())) == len(DiagnoseOptions.names())


def test_mutually_exclusive_flags_and_a_new_option_written_once():
    @dataclasses.dataclass(frozen=True)
    class Extra(SweepOptions):
        pass

    parser = argparse.ArgumentParser()
    add_options(parser, Extra)
    with pytest.raises(SystemExit):
        parser.parse_args(["--dask-workers", "2", "--scheduler", "tcp://h:1"])
    got = options_from_args(parser.parse_args(["--chunk-size", "4", "--retry-failed"]), Extra)
    assert got.chunk_size == 4 and got.retry_failed is True and got.store is None
