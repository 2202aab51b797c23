"""``--memory-budget-gb`` budgets the phases after the curvature: operator, prescriptions, run, forecast."""


import numpy as np
import pytest

from numerics.apps.diagnose import DiagnoseOptions, diagnose
from numerics.apps.diagnose import memory as mem
from numerics.apps.diagnose.criterion import MAX_CACHED_OPERATORS, Criterion
from numerics.apps.examples.synthetic import make_entry
from numerics.core.inputs import InputError
from numerics.core.pools import make_pool

#: A linear model with P = 1500 and 1600 samples on the Gauss-Newton route: the rank-one factors
#: take 19 MB, but the active dimension is r = 1500, where one matrix-free solve of the
#: second-moment operator holds about 30 r^2 floats (0.5 GiB) and the criterion used to cache up
#: to 65 operators of 5 r^2 floats (5.6 GiB).
SIZES = (1500, 1400, 200)


def test_operator_phase_over_budget_is_refused_before_spending(diagnose_peak):
    budget_gb = 0.9
    rc, err, peak = diagnose_peak(SIZES, ["--quiet", "--no-deletion", "--threads", "1",
                                          "--memory-budget-gb", str(budget_gb)], 600)
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert "second-moment operator at active dimension 1500" in lines[0], lines[0]
    assert f"{budget_gb:.3g} GiB budget" in lines[0] and "GiB, more than" in lines[0]
    # the estimate that refused it is what the phase would have added to the resident set
    need = mem.solve_bytes(1500, 1600, 1) + 8.0 * mem.OPERATOR_MATRICES * 1500**2
    assert peak < budget_gb * 2**30 < peak + need, (peak / 2**30, need / 2**30)


def _needs(r=40, n=300, k=1, steps=200):
    return mem.LaterNeeds(active_dim=r, samples=n, rank=k, steps=steps, n_params=500,
                          data_bytes=8.0 * n * 501)


def test_plan_shrinks_the_operator_cache_to_what_fits():
    need = _needs()
    per_op = 8.0 * mem.OPERATOR_MATRICES * need.active_dim**2
    solve = mem.solve_bytes(need.active_dim, need.samples, need.rank) + per_op
    big = max(solve + per_op * (MAX_CACHED_OPERATORS + 1), mem.run_bytes(need),
              mem.forecast_bytes(need))
    full = mem.plan_later_phases(1.0, need, left=big)
    assert full.operator_cache == MAX_CACHED_OPERATORS and full.forecast and not full.notes
    tight = solve + 2.5 * per_op
    small = mem.plan_later_phases(1.0, _needs(steps=0), left=tight)
    assert small.operator_cache == 2
    assert "at most 3 operator(s)" in small.notes[0] and "same numbers" in small.notes[0]
    with pytest.raises(InputError, match="second-moment operator at active dimension 40"):
        mem.plan_later_phases(1.0, _needs(steps=0), left=0.5 * solve)
    with pytest.raises(InputError, match="unlearning run of 200 steps"):
        mem.plan_later_phases(1.0, need, left=0.5 * mem.run_bytes(need))
    long = _needs(steps=10**7)
    room = max(solve + per_op * (MAX_CACHED_OPERATORS + 1), mem.run_bytes(long))
    assert mem.forecast_bytes(long) > room
    skipped = mem.plan_later_phases(1.0, long, left=room)
    assert skipped.operator_cache == MAX_CACHED_OPERATORS
    assert not skipped.forecast and "forecast of 10000000 steps" in skipped.notes[-1]


def test_a_smaller_operator_cache_gives_the_same_numbers():
    rng = np.random.default_rng(3)
    fr, ff = rng.normal(size=(60, 30, 1)), rng.normal(size=(12, 30, 1))
    alphas = [0.0, 0.01, 0.02, 0.03, 0.01, 0.0]

    def run(limit):
        crit = Criterion(make_pool(fr, None, "retain"), make_pool(ff, None, "forget"), "wor")
        crit.cache_limit = limit
        out = [(crit.eta_star(a, 8, 4), crit.rho(0.01, a, 8, 4)) for a in alphas]
        return out, len(crit._ops)  # noqa: SLF001 -- the cache's size is what is tested

    full, held_full = run(MAX_CACHED_OPERATORS)
    lean, held_lean = run(0)
    assert held_full == 4 and held_lean == 1
    assert all(np.isfinite(v) for pair in full for v in pair)
    assert lean == full  # bit for bit: an operator left out is rebuilt identically


def test_budget_leaves_the_numbers_alone_and_can_skip_the_forecast(monkeypatch):
    e = make_entry("aligned_high_alpha")  # escapes: the forecast gives a step count

    def run(**flat):
        opts = DiagnoseOptions.from_flat(dict(e["options"], progress=False, deletion=False,
                                              **flat))
        return diagnose(e["model"], e["loss"], e["retain"], e["forget"], opts).as_dict()

    free = run()
    monkeypatch.setattr(mem, "working_budget", lambda _b: 2.0**40)  # room for every phase
    monkeypatch.setattr(mem, "forecast_bytes", lambda _need: 2.0**41)
    capped = run(memory_budget_gb=1e4)
    assert free["steps_to_escape_predicted"] is not None
    assert capped["steps_to_escape_predicted"] is None
    assert any("forced-recursion forecast" in n and "skipped" in n for n in capped["notes"])
    assert capped["curvature"]["memory_plan"]["forecast"] is False
    # the map of predicted steps to the run's event is the forecast's, and goes with it: the
    # figure falls back to the mean-square map
    assert "event_map" in free["region"] and "steps_map" not in free["region"]
    assert "event_map" not in capped["region"] and "steps_map" in capped["region"]
    free["region"].pop("event_map")
    capped["region"].pop("steps_map")
    for key in ("verdict", "rho", "eta_star_ms", "lambda_min_A", "alpha_c", "region",
                "steps_to_escape_observed"):
        assert capped[key] == free[key], key
    # the within-K prescriptions come from the forecast, and go with it
    kept = [p for p in free["prescriptions"] if p["goal"] in ("resist", "escape")]
    assert len(kept) < len(free["prescriptions"]) and capped["prescriptions"] == kept
