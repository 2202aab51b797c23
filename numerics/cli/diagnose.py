"""``unlearnstab diagnose``: does gradient-difference unlearning escape for my model and forget set.

``--entry module:function`` names a function with no arguments that returns a dict with
``model`` (a ``torch.nn.Module`` at its trained weights), ``loss`` (per-sample, like a torch loss
with ``reduction='none'``), ``retain`` and ``forget`` (``(inputs, targets)`` pairs or torch
Datasets) and optionally ``test``, ``train`` (``train(inputs, targets, seed) -> model``, for the
deletion check), ``seed`` (the seed the original was trained with), ``output_map`` (applied to
outputs before the deletion check's function distance, e.g. a softmax) and ``options`` (defaults
for the options below; the command line wins).
"""

from __future__ import annotations

import argparse
from typing import Any

from numerics.apps.diagnose.api import diagnose
from numerics.apps.diagnose.data import load_entry
from numerics.apps.diagnose.options import DiagnoseOptions
from numerics.apps.diagnose.trust import event_text
from numerics.cli._common import emit
from numerics.core.inputs import InputError
from numerics.core.options import add_options, given_flags
from numerics.core.serialise import jsonable

#: Options an entry's ``options`` dict may set (the flat names of :class:`DiagnoseOptions`).
OPTION_NAMES: tuple[str, ...] = DiagnoseOptions.names()

#: Keys printed in the human-readable summary.
SUMMARY_KEYS: tuple[str, ...] = (
    "verdict", "rho", "eta_star_ms", "escapes_at_every_eta", "lambda_min_A", "alpha_c",
    "sigma_r", "sigma_f", "sigma_rf", "sigma_joint", "curvature_route", "active_dim",
    "out_of_span_forget",
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``diagnose`` parser."""
    p = sub.add_parser(
        "diagnose", help="verdict and prescriptions for your model and forget set",
        description="Compute per-sample curvature of your trained model, the coherences and the "
                    "exact mean-square criterion of gradient-difference unlearning; say whether "
                    "it escapes the trained minimum or is pulled back, what to change to flip "
                    "that, and (with a train function) how it compares with retraining without "
                    "the forget set.")
    p.add_argument("--entry", required=True, metavar="MODULE:FUNCTION",
                   help="function with no arguments returning {model, loss, retain, forget, "
                        "[test, train, seed, options]} (also path/to/file.py:function)")
    add_options(p, DiagnoseOptions)  # every option's flag and help, from its field
    p.add_argument("--json", action="store_true", help="print the JSON report")
    p.set_defaults(func=run)


def options(args: argparse.Namespace, entry_options: dict[str, Any] | None = None,
            entry_seed: int = 0) -> DiagnoseOptions:
    """The diagnose options: defaults, then the entry's ``options``, then the flags given.

    Parameters
    ----------
    args:
        The parsed command line.
    entry_options:
        The entry's ``options`` dict (flat option names).
    entry_seed:
        The seed the original model was trained with (the default ``train_seed``).

    Returns
    -------
    DiagnoseOptions
        The validated options; a step size on the command line replaces the entry's.
    """
    try:
        base = DiagnoseOptions.from_flat({"train_seed": entry_seed, **(entry_options or {})})
    except InputError as exc:
        raise InputError(f"entry options: {exc}") from None
    given = given_flags(args, DiagnoseOptions)
    if "eta" in given or "eta_rel" in given:  # the command line's step size wins
        given = {"eta": None, "eta_rel": None, **given}
    return base.replace_flat(**given)


def run(args: argparse.Namespace) -> int:
    """Print the report (and write the files under ``--out``); exit 0."""
    entry = load_entry(args.entry)
    opts = options(args, dict(entry.options) if entry.options else None, entry.seed)
    if args.quiet:  # no progress bars
        opts = opts.replace_flat(progress=False)
    report = diagnose(entry.model, entry.loss, entry.retain, entry.forget, opts,
                      test=entry.test, train=entry.train, output_map=entry.output_map)
    out = opts.run.out
    if args.json:
        emit(jsonable(report.as_dict()), True)
        return 0
    record = {k: report.as_dict()[k] for k in SUMMARY_KEYS}
    emit(record, False)
    print("prescriptions:")
    for p in report.prescriptions:
        flag = p["check"].get("flips")
        mark = "" if flag is None else ("  [re-checked: flips]" if flag else "  [re-check FAILED]")
        print(f"  - {p['text']}{mark}")
    if report.unlearning is not None:
        u = report.unlearning
        print(f"unlearning run: {u['steps_taken']} steps, forget loss {u['forget_loss_before']:.4g}"
              f" -> {u['forget_loss_after']:.4g} (uninformative level "
              f"{u['uninformative_forget_loss']:.4g}, {u['uninformative_predictor']}): "
              f"{u['outcome']}"
              + ("" if u["steps_to_escape_observed"] is None else
                 f" at step {u['steps_to_escape_observed']} of {u['horizon']}"))
    if report.trust is not None:
        print(f"linearisation: {report.trust['text']}")
        beyond = event_text(report.trust, report.steps_to_escape_predicted)
        if beyond is not None:
            print(f"predicted steps to escape: {beyond}")
    if report.deletion is not None:
        d = report.deletion
        fd = d["function_distance"]["original-retrained"]
        print(f"deletion standard: d_forget(original, retrained) = {fd['forget']:.4g}, "
              f"d_{d['reference_set']} = {fd[d['reference_set']]:.4g}: "
              f"{'already met' if d['already_met'] else 'not met'}")
        print(f"  {report.standards}")
    for note in report.notes:
        print(f"note: {note}")
    if out is not None and not args.quiet:
        print(f"wrote {out}/report.html, report.json and diagnose.png")
    return 0


#: Runnable examples closing ``--help`` (:mod:`numerics.cli._help`).
EXAMPLES = """\
unlearnstab diagnose --entry numerics.apps.examples.synthetic:entry_aligned --quiet
unlearnstab diagnose --entry numerics.apps.examples.synthetic:entry_memorised \\
    --alpha 0.1 --eta-rel 0.5 --out diag/ --quiet
"""
#: Shared notes explaining this command's choices.
NOTES = ('sampling', 'notions', 'step_size', 'routes')
