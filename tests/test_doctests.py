"""The Examples in the docstrings of ``theory`` and ``numerics`` run, and give what they show.

Every module of the two packages is searched; a module with examples is one test.  A search that
finds no example at all fails (a doctest run that examined nothing proves nothing).
"""

import doctest
import importlib
import pkgutil

import pytest

import numerics
import theory


def _modules() -> list[str]:
    names = []
    for pkg in (theory, numerics):
        names.append(pkg.__name__)
        for info in pkgutil.walk_packages(pkg.__path__, prefix=pkg.__name__ + "."):
            if not info.name.endswith("__main__"):
                names.append(info.name)
    return sorted(names)


def _tests(name: str) -> list[doctest.DocTest]:
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    return [t for t in finder.find(module) if t.examples]


WITH_EXAMPLES = [name for name in _modules() if _tests(name)]


def test_examples_exist():
    count = sum(len(t.examples) for name in WITH_EXAMPLES for t in _tests(name))
    assert len(WITH_EXAMPLES) >= 5 and count >= 10, (WITH_EXAMPLES, count)


@pytest.mark.parametrize("name", WITH_EXAMPLES)
def test_docstring_examples(name):
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in _tests(name):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted > 0
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"
