"""The fuzz suite's case list: every input tried, what it must get, and which message.

This module is data.  ``tests/fuzz/test_cases.py`` runs every case and the documentation build
turns the list into the table of ``docs/generated/inputs.rst`` (:func:`table_rows`).

A case is either a command line (``argv``, run through :func:`numerics.cli.main`; ``{file:NAME}``
names an input of :data:`inputs.FILES` and ``{tmp}`` a scratch directory) or a call of the Python
API (``api``: a function of the scratch directory).  Its expected outcome is

* ``refused`` -- the project's ``InputError`` (CLI: exit status 2 and one line on stderr) or, for
  the API, a ``TypeError`` naming the argument; ``message`` is a fragment of that line;
* ``accepted`` -- exit status 0 (CLI) or a return value (API); ``message`` says what the answer
  is, and every verdict it prints is checked against its own fields
  (:func:`verdict_problems`) and, where a case names one, against an independent route.

``pending`` marks a case the code does not yet meet (run as a strict expected failure, so the
mark must go when the code is fixed).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Case", "CASES", "PROPERTIES", "verdict_problems", "table_rows", "inputs"]


def inputs() -> Any:
    """The sibling module ``inputs`` (loaded by path: the tests are not a package)."""
    import importlib.util
    import sys

    name = "unlearnstab_fuzz_inputs"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("inputs.py"))
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return sys.modules[name]


@dataclass(frozen=True)
class Case:
    """One input and what it must get."""

    id: str
    group: str
    expect: str  # "refused" | "accepted"
    message: str
    argv: tuple[str, ...] | None = None
    api: Callable[[Path], Any] | None = None
    pending: str | None = None
    slow: bool = False

    @property
    def target(self) -> str:
        """``unlearnstab <command>`` or ``API``."""
        return f"unlearnstab {self.argv[0]}" if self.argv else "Python API"

    def shown(self) -> str:
        """The input as the documentation prints it."""
        if self.argv:
            files = inputs().FILES
            text = "unlearnstab " + " ".join(self.argv)
            text = re.sub(r"\{file:(\w+)\}", lambda m: files[m.group(1)][0], text)
            return text.replace("{tmp}", "DIR")
        return self.message if self.expect == "accepted" else self.id


def cli(cid: str, group: str, expect: str, message: str, *argv: str, pending: str | None = None,
        slow: bool = False) -> Case:
    """A command-line case."""
    return Case(cid, group, expect, message, argv=tuple(argv), pending=pending, slow=slow)


# ------------------------------------------------------------------------------ API callables
def _op(alpha: Any = 0.1, br: Any = 2, bf: Any = 1, sampling: Any = "wor", forget: bool = True):
    from numerics.core.inputs import UnlearningConfig
    from numerics.core.operator import SecondMomentOperator

    hessians = inputs().hessians
    f = hessians(3, 4, 1, 1, 0.2) if forget else None
    return SecondMomentOperator(hessians(8, 4, 2, 0), f,
                                UnlearningConfig(alpha, br, bf, sampling))


def _api_op(**kw: Any) -> Callable[[Path], Any]:
    return lambda _tmp: _op(**kw)


def _api_rho(eta: Any) -> Callable[[Path], Any]:
    return lambda _tmp: _op().rho(eta)


def _api_config_dict(_tmp: Path) -> Any:
    from numerics.core.operator import SecondMomentOperator

    return SecondMomentOperator(inputs().hessians(8, 4, 2, 0), None, {"alpha": 0.0})


def _api_pool(data: Any, **kw: Any) -> Callable[[Path], Any]:
    def call(_tmp: Path) -> Any:
        from numerics.core.inputs import as_pool

        return as_pool(data() if callable(data) else data, "retain", **kw)
    return call


def _complex_hessians() -> Any:
    return inputs().hessians(4, 3, 1, 0) + 1e-3j


def _api_curvature(**kw: Any) -> Callable[[Path], Any]:
    def call(_tmp: Path) -> Any:
        import numpy as np

        from numerics.apps.diagnose import DiagnoseOptions, diagnose_curvature

        rng = np.random.default_rng(0)
        opts = DiagnoseOptions.from_flat({"prescribe": False, **kw})
        return diagnose_curvature(rng.standard_normal((6, 3, 1)),
                                  0.3 * rng.standard_normal((3, 3, 1)), opts)
    return call


def _api_signed_neutral(**kw: Any) -> Callable[[Path], Any]:
    """Retain Hessians e1e1^T, +e2e2^T, -e2e2^T (signed), full batch: neutral along e2."""
    def call(_tmp: Path) -> Any:
        import numpy as np

        from numerics.apps.diagnose import DiagnoseOptions, diagnose_curvature

        fr = np.zeros((3, 2, 1))
        fr[0, 0, 0] = fr[1, 1, 0] = fr[2, 1, 0] = 1.0
        ff = np.zeros((2, 2, 1))
        ff[:, 0, 0] = 0.3
        opts = DiagnoseOptions.from_flat({"batch_retain": 3, "batch_forget": 2, **kw})
        return diagnose_curvature(fr, ff, opts, retain_signs=np.array([[1.0], [1.0], [-1.0]]))
    return call


def _api_diagnose(**kw: Any) -> Callable[[Path], Any]:
    def call(tmp: Path) -> Any:
        import importlib.util

        from numerics.apps.diagnose import DiagnoseOptions, diagnose

        spec = importlib.util.spec_from_file_location("fuzz_entry", inputs().build("entry", tmp))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        e = mod.good()
        flat = {"progress": False, "prescribe": False, "deletion": False, "unlearn_steps": 0,
                **kw}
        return diagnose(e["model"], e["loss"], e["retain"], e["forget"],
                        DiagnoseOptions.from_flat(flat))
    return call


# ------------------------------------------------------------------------------------ cases
G = "{file:good}"
DIAG = ("diagnose", "--entry", "{file:entry}:good", "--no-progress", "--no-deletion",
        "--no-prescribe", "--unlearn-steps", "0")
FRONT = ("frontier", "--n", "4", "--sigma", "1,2", "--batch", "1,2", "--eta", "0.2", "--quiet")
TRAJ = (*FRONT, "--notion", "trajectory")
GOLD = ("golden", "--quiet", "--name", "moments.wor")
CNN = ("cnn", "--snr", "1", "--quiet", "--json")
OPS = ("radius", "threshold")

PENDING = "not yet refused"

CASES: tuple[Case, ...] = (
    # ---- good inputs: correct answers checked against an independent route
    cli("radius-good", "answer", "accepted", "rho(T) at eta, checked by batch enumeration",
        "radius", "--hessians", G, "--eta", "0.3", "--alpha", "0.1", "--batch-retain", "3",
        "--batch-forget", "2", "--json"),
    cli("threshold-good", "answer", "accepted", "eta*_ms, checked: rho(T(eta*)) = 1 by enumeration",
        "threshold", "--hessians", G, "--alpha", "0.1", "--batch-retain", "3",
        "--batch-forget", "2", "--json"),
    cli("radius-escapes-every", "answer", "accepted", "escapes at every step size",
        "radius", "--hessians", "{file:strong_forget}", "--eta", "0.1", "--alpha", "0.5",
        "--json"),
    cli("radius-neutral", "verdict", "accepted", "neutral direction: rho = 1, verdict agrees",
        "radius", "--hessians", "{file:neutral}", "--eta", "0.1", "--alpha", "0", "--json"),
    cli("threshold-neutral", "verdict", "accepted", "neutral direction: no stable step size",
        "threshold", "--hessians", "{file:neutral}", "--alpha", "0", "--json"),
    *(Case(f"api-curvature-{v}-prescribe", "crash", "accepted",
           f"diagnose_curvature at eta = {eta}, prescriptions ({v})",
           api=_api_curvature(eta=eta, alpha=0.1, prescribe=True))
      for v, eta in (("resists", 0.3), ("escapes", 3.0))),
    Case("api-curvature-neutral-prescribe", "crash", "accepted",
         "diagnose_curvature on a neutral direction at eta = 0.1, with prescriptions",
         api=_api_signed_neutral(eta=0.1, alpha=0.0)),
    *(cli(f"diagnose-linear-{v}", "crash", "accepted", f"diagnose, prescriptions ({v})",
          "diagnose", "--entry", "{file:entry}:linear", "--no-progress", "--no-deletion",
          "--unlearn-steps", "20", "--eta-rel", eta, "--alpha", "0.05", "--json")
      for v, eta in (("resists", "0.2"), ("escapes", "1.5"))),
    cli("diagnose-good", "silent", "accepted",
        "an untrained model: the report notes that w* is not a stationary point",
        *DIAG, "--eta-rel", "0.5", "--json"),
    # ---- silent wrong answers
    *(cli(f"{c}-misspelled-key", "silent", "refused", "unknown array 'Forget'",
          c, "--hessians", "{file:misspelled}", "--alpha", "0.5", "--eta", "0.1")
      for c in OPS),
    cli("radius-unknown-key", "silent", "refused", "unknown array 'notes'",
        "radius", "--hessians", "{file:extra_key}", "--alpha", "0.1", "--eta", "0.1"),
    cli("radius-alpha-no-forget", "silent", "refused", "alpha = 0.5 > 0 but there is no forget set",
        "radius", "--hessians", "{file:retain_only}", "--alpha", "0.5", "--eta", "0.1"),
    *(cli(f"{c}-forget-without-alpha", "silent", "refused", "has a forget set: give --alpha",
          c, "--hessians", G, "--eta", "0.1") for c in OPS),
    Case("api-alpha-no-forget", "silent", "refused", "no forget set",
         api=_api_op(alpha=0.5, forget=False)),
    Case("api-batch-2.9", "silent", "refused", "batch size must be an integer",
         api=_api_curvature(batch_retain=2.9)),
    Case("api-steps-1.5", "silent", "refused", "unlearn_steps must be an integer",
         api=_api_diagnose(unlearn_steps=1.5, eta_rel=0.5)),
    cli("radius-complex", "silent", "refused", "complex", "radius", "--hessians",
        "{file:complex}", "--eta", "0.1"),
    Case("api-pool-complex", "silent", "refused", "complex", api=_api_pool(_complex_hessians)),
    *(cli(f"frontier-{flag[2:]}-{v}", "silent", "refused", f"{flag[2:]} must be an integer",
          *TRAJ, flag, v)
      for flag, v in (("--horizon", "0"), ("--repetitions", "0"))),
    *(cli(f"frontier-c-{v}", "silent", "refused", "c (curvature scale) must be finite and > 0",
          *FRONT, "--c", v) for v in ("0", "-1", "nan")),
    cli("frontier-seed-negative", "traceback", "refused", "seed must be an integer >= 0",
        *TRAJ, "--seed", "-1"),
    cli("golden-name-typo", "silent", "refused", "no expression or threshold named",
        *GOLD[:2], "--name", "momnets.wor"),
    cli("golden-dir-missing", "silent", "refused", "does not exist",
        *GOLD, "--dir", "{tmp}/missing"),
    *(cli(f"diagnose-{flag[2:]}-{v}", "silent", "refused", f"{flag[2:].replace('-', '_')}",
          *DIAG[:-2], flag, v)
      for flag, v in (("--unlearn-steps", "-5"), ("--init-noise", "nan"),
                      ("--init-noise", "-1"), ("--grid", "0"))),
    # ---- tracebacks where a one-line error belongs
    *(cli(f"radius-npz-{name}", "npz", "refused", "cannot read",
          "radius", "--hessians", f"{{file:{name}}}", "--eta", "0.1")
      for name in ("zero_bytes", "truncated", "non_array_member", "plain_npy")),
    cli("radius-npz-object", "npz", "refused", "cannot read", "radius", "--hessians",
        "{file:object_array}", "--eta", "0.1"),
    cli("radius-dense-r300", "resource", "refused", "the dense method at active dimension 300",
        "radius", "--hessians", "{file:wide}", "--factors", "--alpha", "0", "--eta", "0.01",
        "--method", "dense"),
    cli("diagnose-grid-1000000", "resource", "refused", "at most 1000", *DIAG[:-2],
        "--eta-rel", "0.5", "--grid", "1000000"),
    cli("cnn-steps-1e8", "resource", "refused", "GiB", *CNN, "--steps", "100000000"),
    cli("diagnose-unlearn-steps-1e8", "resource", "accepted",
        "10^8 unlearning steps at a diverging step size: weights streamed, the run stops at once",
        "diagnose", "--entry", "{file:entry}:linear", "--no-progress", "--no-deletion",
        "--no-prescribe", "--unlearn-steps", "100000000", "--eta-rel", "1e90", "--json"),
    cli("radius-npz-huge-header", "resource", "refused", "GiB", "radius", "--hessians",
        "{file:huge_header}", "--eta", "0.1"),
    *(cli(f"radius-eta-{v}", "traceback", "refused", "eta", "radius", "--hessians", G, "--alpha",
          "0.1", "--eta", v) for v in ("1e154", "1e300")),
    cli("radius-eta-nan", "option", "refused", "eta must be finite", "radius", "--hessians", G,
        "--alpha", "0.1", "--eta", "nan"),
    cli("radius-eta-text", "option", "refused", "invalid float value", "radius", "--hessians", G,
        "--alpha", "0.1", "--eta", "fast"),
    cli("diagnose-seed-negative", "traceback", "refused", "seed", *DIAG, "--seed", "-1"),
    cli("diagnose-entry-string-seed", "traceback", "refused", "seed",
        "diagnose", "--entry", "{file:entry}:string_seed", "--no-progress", "--eta-rel", "0.5",
        "--unlearn-steps", "0", "--no-prescribe"),
    cli("diagnose-dataset-raises", "traceback", "refused", "forget",
        "diagnose", "--entry", "{file:entry}:raising_dataset", "--no-progress"),
    cli("diagnose-entry-missing", "option", "refused", "", "diagnose", "--entry",
        "{tmp}/nope.py:good"),
    cli("frontier-plot-missing-dir", "traceback", "refused", "--plot",
        *FRONT, "--plot", "{tmp}/no/such/dir/map.png"),
    cli("frontier-plot-extension", "traceback", "refused", "--plot",
        *FRONT, "--plot", "{tmp}/map.xyz"),
    cli("cnn-scheduler-notaurl", "traceback", "refused", "scheduler", *CNN,
        "--scheduler", "notaurl"),
    cli("golden-update-dir-file", "traceback", "refused", "not a directory",
        *GOLD, "--update", "--dir", "{file:text_file}", "--thresholds-dir", "{tmp}/thr"),
    # ---- the Python API on bad values (InputError, or TypeError naming the argument)
    Case("api-alpha-none", "api", "refused", "alpha", api=_api_op(alpha=None)),
    Case("api-alpha-list", "api", "refused", "alpha", api=_api_op(alpha=[0.1])),
    Case("api-alpha-1.5", "api", "refused", "alpha must lie in [0, 1]", api=_api_op(alpha=1.5)),
    Case("api-batch-nan", "api", "refused", "batch", api=_api_op(br=float("nan"))),
    Case("api-batch-inf", "api", "refused", "batch", api=_api_op(br=float("inf"))),
    Case("api-batch-none", "api", "refused", "batch", api=_api_op(br=None)),
    Case("api-sampling-none", "api", "refused", "sampling", api=_api_op(sampling=None)),
    Case("api-config-dict", "api", "refused", "config", api=_api_config_dict),
    Case("api-rho-none", "api", "refused", "eta", api=_api_rho(None)),
    Case("api-rho-array", "api", "refused", "eta", api=_api_rho([0.1, 0.2])),
    Case("api-rho-1e300", "api", "refused", "eta", api=_api_rho(1e300)),
    Case("api-rho-string", "api", "refused", "eta", api=_api_rho("0.1")),
    Case("api-pool-text", "api", "refused", "not a numeric array", api=_api_pool("abc")),
    Case("api-pool-4d", "api", "refused", "must have shape", api=_api_pool([[[[1.0]]]])),
)


#: The hypothesis properties of ``test_cases.py``: name -> (what is drawn, examples in the quick
#: profile of the default suite, examples in ``pytest -m fuzz``).
PROPERTIES: dict[str, tuple[str, int, int]] = {
    "option values": ("radius --eta/--alpha/--batch-retain/--batch-forget drawn from floats "
                      "(NaN, inf, 0, -0, 1e-300, 1e154, 1e308), integers and text; accepted "
                      "answers checked against batch enumeration", 6, 150),
    "npz arrays": ("threshold on an npz of random arrays (PSD, factors, wrong ranks, zero sizes, "
                   "NaN/inf/1e200 entries) under right and misspelled names", 6, 150),
    "entry returns": ("diagnose on an entry whose dict lacks keys or holds None, 0, text, 1.5, "
                      "[], {} or -1 under a key", 6, 60),
}


# --------------------------------------------------------------------------- verdict checker
_NUM = r"([-+]?(?:\d+\.?\d*(?:e[-+]?\d+)?|inf|nan))"


def verdict_problems(rec: dict[str, Any]) -> list[str]:
    r"""Contradictions between a report's verdict sentence and its fields (empty: consistent).

    The rules (SPEC §2.3): ``escapes_at_every_eta`` <=> "escapes at every step size";
    otherwise a positive :math:`\eta^\star_{ms}` printed as in the sentence, "resists" at
    :math:`\eta` <=> :math:`\rho<1` <=> :math:`\eta<\eta^\star` (up to the last digits), and no
    threshold (0 or ``None``) only with a "neutral"/"no step size" sentence.
    """
    out: list[str] = []
    verdict = str(rec.get("verdict", ""))
    every = rec.get("escapes_at_every_eta")
    es, rho, eta = rec.get("eta_star_ms"), rec.get("rho"), rec.get("eta")
    if every:
        if not verdict.startswith("escapes at every step size"):
            out.append(f"escapes_at_every_eta but the verdict is {verdict!r}")
        return out
    if verdict.startswith("escapes at every"):
        out.append("verdict escapes at every step size but escapes_at_every_eta is false")
    if es is None or es == 0:
        if "neutral" not in verdict:
            out.append(f"no mean-square threshold (eta_star_ms = {es}) but the verdict is "
                       f"{verdict!r}")
        if rho is not None and rho < 1.0 - 1e-12:
            out.append(f"no stable step size but rho = {rho} < 1")
        return out
    if not (isinstance(es, float | int) and math.isfinite(es) and es > 0):
        out.append(f"eta_star_ms = {es!r} is not a positive number")
        return out
    shown = re.findall(r"eta\*? = " + _NUM, verdict)
    if not any(abs(float(v) - es) <= 1e-5 * es for v in shown):
        out.append(f"the verdict does not print eta_star_ms = {es:.6g}: {verdict!r}")
    if eta is not None:
        out += _at_eta_problems(rec, verdict, eta, es)
    return out


def _at_eta_problems(rec: dict[str, Any], verdict: str, eta: float, es: float) -> list[str]:
    """The verdict at a step size against eta* and rho."""
    out: list[str] = []
    rho = rec.get("rho")
    says_resists = "resists at" in verdict or "it resists" in verdict
    says_escapes = "escapes at eta" in verdict or "it escapes" in verdict
    if says_resists == says_escapes:
        out.append(f"the verdict at eta = {eta} neither resists nor escapes: {verdict!r}")
    near = abs(eta - es) <= 1e-6 * es
    if not near and says_resists != (eta < es):
        out.append(f"eta = {eta} vs eta* = {es} contradicts {verdict!r}")
    if rho is not None and not near and rec.get("rho_converged", True) is not False:
        if (rho < 1.0) != (eta < es):
            out.append(f"rho = {rho} contradicts eta = {eta} vs eta* = {es}")
    return out


# ------------------------------------------------------------------------------- doc table
def table_rows() -> list[dict[str, str]]:
    """One row per case for the documentation: input, outcome, message."""
    rows = []
    for c in CASES:
        outcome = c.expect if c.pending is None else f"{c.expect} (pending: {c.pending})"
        rows.append({"id": c.id, "group": c.group, "target": c.target, "input": c.shown(),
                     "outcome": outcome, "message": c.message})
    return rows
