"""The sampling-scheme registry: one object per scheme, unknown names fail at every entry point."""

from pathlib import Path

import numpy as np
import pytest

from numerics.cli.entry import main
from numerics.core.inputs import InputError, UnlearningConfig, check_batch, check_sampling
from numerics.core.simulate import sample_weights
from theory import families, lyapunov, moments
from theory.sampling import (
    UnknownSamplingError,
    exchangeable_names,
    get_scheme,
    sampling_help,
    scheme_names,
    skipped_schemes,
)

ALL = scheme_names()
BAD = "poisson"

# Every theory entry point that takes a scheme name, called with an unknown one.
THEORY_ENTRY_POINTS = {
    "get_scheme": lambda s: get_scheme(s),
    "moments.batch_moments": lambda s: moments.batch_moments(s),
    "moments.covariance_coefficients": lambda s: moments.covariance_coefficients(s, 5, 2),
    "moments.count_moments": lambda s: moments.count_moments(s),
    "lyapunov.count_pmf": lambda s: lyapunov.count_pmf(s, 5, 2, 1),
    "families.diagonal_law": lambda s: families.diagonal_law(s),
    "families.count_moment_values": lambda s: families.count_moment_values(s, 5, 2, 1),
    "families.sigma_family_eta_star": lambda s: families.sigma_family_eta_star(s, 2, 5, 2),
    "families.sigma_family_eta_star_grid":
        lambda s: families.sigma_family_eta_star_grid(s, [1, 2], 5, [2, 2]),
    "lyapunov.sigma_family_eta_star_as": lambda s: lyapunov.sigma_family_eta_star_as(s, 2, 5, 2),
}

NUMERICS_ENTRY_POINTS = {
    "check_sampling": lambda s: check_sampling(s),
    "check_batch": lambda s: check_batch(2, 5, "retain", s),
    "sample_weights": lambda s: sample_weights(np.random.default_rng(0), s, 5, 2, 3),
    "UnlearningConfig.validated": lambda s: UnlearningConfig(0.0, 2, 1, s).validated(5, 0),
}


def test_the_registry_lists_the_schemes_in_order():
    assert ALL[:3] == ("wor", "bernoulli", "wr")  # the order of tables and golden listings
    assert len(set(ALL)) == len(ALL)
    assert set(exchangeable_names()) | set(skipped_schemes()) == set(ALL)
    assert not set(exchangeable_names()) & set(skipped_schemes())
    for name, reason in skipped_schemes().items():
        assert reason and not get_scheme(name).exchangeable


@pytest.mark.parametrize("entry", sorted(THEORY_ENTRY_POINTS))
def test_an_unknown_name_fails_in_theory(entry):
    with pytest.raises(UnknownSamplingError, match="unknown sampling model 'poisson'") as err:
        THEORY_ENTRY_POINTS[entry](BAD)
    for name in ALL:  # the message names every known scheme
        assert name in str(err.value)


@pytest.mark.parametrize("entry", sorted(NUMERICS_ENTRY_POINTS))
def test_an_unknown_name_is_an_input_error_in_numerics(entry):
    with pytest.raises(InputError, match="unknown sampling model 'poisson'; expected one of "
                       + ", ".join(ALL)):
        NUMERICS_ENTRY_POINTS[entry](BAD)


def test_an_unknown_name_on_the_command_line_exits_2(tmp_path, capsys):
    path = tmp_path / "h.npz"
    np.savez(path, retain=np.eye(2)[None].repeat(3, axis=0))
    assert main(["threshold", "--hessians", str(path), "--sampling", BAD]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown sampling model 'poisson'" in err[0]


def test_names_are_case_insensitive():
    for name in ALL:
        assert get_scheme(name.upper()) is get_scheme(name)
        assert check_sampling(name.upper()) == name


@pytest.mark.parametrize("name", ALL)
def test_a_batch_exceeds_its_set_only_where_the_scheme_allows(name):
    """The one rule, read the same way by theory and numerics."""
    scheme = get_scheme(name)
    n = 4 * 3  # divisible by every small stratum count
    too_big = 2 * n
    assert scheme.batch_problem(n, 0) is not None
    if scheme.may_exceed_set:
        assert scheme.batch_problem(n, too_big) is None
        assert check_batch(too_big, n, "retain", name) == too_big
    else:
        assert "larger than its set" in scheme.batch_problem(n, too_big)
        with pytest.raises(InputError, match="retain batch size 24 is larger than its set of 12"):
            check_batch(too_big, n, "retain", name)
        for theory_call in (lambda: lyapunov.count_pmf(name, n, too_big, 1),
                            lambda: families.sigma_family_eta_star(name, 1, n, too_big)):
            with pytest.raises(ValueError, match="larger than its set"):
                theory_call()


def test_help_lists_every_scheme():
    text = sampling_help()
    for name in ALL:
        assert f"{name}" in text and get_scheme(name).help in text
    assert "wor (default)" in text


@pytest.mark.parametrize("name", ALL)
def test_every_scheme_has_its_own_test_module(name):
    """A scheme is one module of theory.sampling plus its test module here."""
    root = Path(__file__).resolve().parents[2]
    assert (root / "theory" / "sampling" / f"{name}.py").is_file()
    assert (Path(__file__).parent / f"test_{name}.py").is_file()


@pytest.mark.parametrize("name", ALL)
def test_admissible_sizes_are_the_nearest_admitted(name):
    scheme = get_scheme(name)
    for n_pool, batch in [(7, 3), (100, 8), (24, 4), (20, 4), (7, 2), (5, 5)]:
        n_new, b_new = scheme.admissible_sizes(n_pool, batch)
        assert scheme.batch_problem(n_new, b_new) is None
        assert n_new >= n_pool and b_new >= batch
        if scheme.batch_problem(n_pool, batch) is None:
            assert (n_new, b_new) == (n_pool, batch)
        else:  # no admitted size in between: nothing nearer was skipped
            assert all(scheme.batch_problem(n_pool, b) is not None for b in range(batch, b_new))
