"""Option objects: small frozen dataclasses whose fields also define the command-line flags.

An option is written once, as a field made by :func:`option` (its default, help text, flag,
type, choices and check).  From the dataclass

* its instances validate themselves when built (each field's ``check``, then the class's
  :meth:`Options.validate` for rules that tie fields together), so every entry point -- the
  library call, an entry's ``options`` dict, the command line -- goes through one validation;
* :func:`add_options` adds the flags to an ``argparse`` parser, and :func:`options_from_args`
  reads the parsed flags back into an instance (a flag left out keeps the base value);
* :meth:`Options.from_flat` / :meth:`Options.replace_flat` build one from plain keyword names,
  also through nested groups (:func:`group`), so ``{"alpha": 0.2, "seed": 3}`` sets the fields
  wherever they live.

Examples
--------
>>> import argparse
>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Walk(Options):
...     steps: int = option(10, help="number of steps", check=at_least(1))
...     fast: bool = option(False, help="run fast")
>>> parser = argparse.ArgumentParser()
>>> add_options(parser, Walk)
>>> options_from_args(parser.parse_args(["--steps", "3"]), Walk)
Walk(steps=3, fast=False)
>>> Walk.from_flat({"fast": True}).fast
True
>>> Walk(steps=0)
Traceback (most recent call last):
...
numerics.core.inputs.InputError: steps must be an integer >= 1, got 0
"""

from __future__ import annotations

import argparse
import dataclasses
import numbers
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

from numerics.core.inputs import InputError

__all__ = ["Options", "option", "group", "add_options", "given_flags", "options_from_args", "at_least",
           "positive", "one_of", "option_fields"]

T = TypeVar("T", bound="Options")
#: Field metadata key under which :func:`option` stores the flag description.
META = "option"


def option(  # noqa: PLR0913 -- a field factory: every keyword is an optional flag property
    default: Any = None, *, help: str, flag: str | None = None,  # noqa: A002
    type: Callable[[str], Any] | None = None,  # noqa: A002
    choices: tuple[Any, ...] | Callable[[], tuple[Any, ...]] | None = None,
    metavar: str | None = None, check: Callable[[Any, str], Any] | None = None,
    cli: bool = True, default_text: str | None = None, exclusive: str | None = None,
    nargs: str | None = None,
) -> Any:
    """A dataclass field that is also a command-line flag.

    Parameters
    ----------
    default:
        The default value (the library's and the command line's).
    help:
        What the option does; ``(default ...)`` is appended from ``default`` (or
        ``default_text``) unless the default is ``None`` or a boolean, or the help already
        says ``(default ...)``.
    flag:
        The flag name (default ``--`` plus the field name with ``-`` for ``_``).  A boolean whose
        default is ``True`` gets ``--no-NAME``, one whose default is ``False`` ``--NAME``.
    type, choices, metavar:
        As in ``argparse`` (``type`` defaults to the type of ``default``; ``choices`` may be a
        function returning them, read when the parser is built).
    check:
        ``check(value, name)`` returns the value normalised or raises
        :class:`~numerics.core.inputs.InputError`; it runs whenever an instance is built.
    cli:
        ``False`` keeps the field off the command line (e.g. a callable).
    default_text:
        How the help text states the default when ``default`` alone would not say it.
    exclusive:
        Flags sharing this name form a mutually exclusive group on the command line.
    nargs:
        As in ``argparse`` (e.g. ``"+"``: the flag takes several values, a grid axis, which the
        command reads itself; :func:`given_flags` returns the list).

    Returns
    -------
    dataclasses.Field
        The field, with the flag description in its metadata.
    """
    meta = {"help": help, "flag": flag, "type": type, "choices": choices, "metavar": metavar,
            "check": check, "cli": cli, "default_text": default_text, "exclusive": exclusive,
            "nargs": nargs}
    return dataclasses.field(default=default, metadata={META: meta})


def group(cls: type[Options]) -> Any:
    """A field holding a nested option group ``cls`` (default: ``cls()``).

    Parameters
    ----------
    cls:
        The :class:`Options` dataclass of the group.

    Returns
    -------
    dataclasses.Field
        The field; :func:`add_options` and :meth:`Options.from_flat` descend into it.
    """
    return dataclasses.field(default_factory=cls, metadata={META: {"group": cls}})


def option_fields(cls: type[Options] | Options) -> Iterator[tuple[dataclasses.Field, dict]]:
    """The fields of ``cls`` made by :func:`option` or :func:`group`, with their metadata.

    Parameters
    ----------
    cls:
        An :class:`Options` dataclass or instance.

    Returns
    -------
    Iterator[tuple[dataclasses.Field, dict]]
        ``(field, metadata)`` in declaration order.
    """
    for f in dataclasses.fields(cls):
        meta = f.metadata.get(META)
        if meta is not None:
            yield f, meta


def _leaves(cls: type[Options]) -> dict[str, tuple[str, ...]]:
    """Flat name -> path of field names through the nested groups."""
    out: dict[str, tuple[str, ...]] = {}
    for f, meta in option_fields(cls):
        sub = meta.get("group")
        items = ({k: (f.name, *p) for k, p in _leaves(sub).items()} if sub is not None
                 else {f.name: (f.name,)})
        for k, p in items.items():
            if k in out:
                raise TypeError(f"option name {k!r} appears twice in {cls.__name__}")
            out[k] = p
    return out


class Options:
    """Base of the option dataclasses (declare them ``@dataclass(frozen=True)``).

    Building an instance runs each field's ``check`` (which may normalise the value) and then
    :meth:`validate`.
    """

    #: How error messages name this kind of option ("diagnose option", ...).
    kind = "option"

    def __post_init__(self) -> None:
        for f, meta in option_fields(self):
            check = meta.get("check")
            value = getattr(self, f.name)
            if check is not None and value is not None:
                object.__setattr__(self, f.name, check(value, f.name))
        self.validate()

    def validate(self) -> None:
        """Rules that tie several fields together (none by default); raise ``InputError``."""

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The flat option names (leaf fields, through nested groups), in declaration order.

        Returns
        -------
        tuple[str, ...]
            The names :meth:`from_flat` accepts.
        """
        return tuple(_leaves(cls))

    @classmethod
    def of(cls: type[T], **values: Any) -> T:
        """An instance from flat option names given as keywords (see :meth:`from_flat`).

        Parameters
        ----------
        **values:
            ``name=value`` over :meth:`names`.

        Returns
        -------
        Options
            The validated instance.
        """
        return cls().replace_flat(**values)

    @classmethod
    def from_flat(cls: type[T], values: Mapping[str, Any] | None = None) -> T:
        """An instance from flat option names (an unknown name is an error).

        Parameters
        ----------
        values:
            ``{name: value}`` over :meth:`names`; the others keep their defaults.

        Returns
        -------
        Options
            The validated instance.
        """
        return cls().replace_flat(**dict(values or {}))

    def replace_flat(self: T, **values: Any) -> T:
        """A validated copy with the given flat options replaced.

        Parameters
        ----------
        **values:
            ``name=value`` over :meth:`names`.

        Returns
        -------
        Options
            The copy (``self`` when nothing changes).
        """
        leaves = _leaves(type(self))
        unknown = [k for k in values if k not in leaves]
        if unknown:
            raise InputError(f"{unknown[0]!r} is not a {self.kind}; known: "
                             f"{', '.join(leaves)}")
        if not values:
            return self
        own: dict[str, Any] = {}
        nested: dict[str, dict[str, Any]] = {}
        for k, v in values.items():
            path = leaves[k]
            if len(path) == 1:
                own[k] = v
            else:
                nested.setdefault(path[0], {})[k] = v
        for name, sub in nested.items():
            own[name] = getattr(self, name).replace_flat(**sub)
        return dataclasses.replace(self, **own)

    def flat(self) -> dict[str, Any]:
        """The options as ``{flat name: value}`` (the inverse of :meth:`from_flat`).

        Returns
        -------
        dict[str, Any]
            One entry per leaf field.
        """
        out: dict[str, Any] = {}
        for f, meta in option_fields(self):
            value = getattr(self, f.name)
            out.update(value.flat() if meta.get("group") is not None else {f.name: value})
        return out


def _flag(f: dataclasses.Field, meta: dict) -> tuple[str, str | None]:
    """The flag of a field and, for booleans, the ``store_true`` value meaning (or None)."""
    name = meta["flag"]
    if isinstance(f.default, bool):
        return name or (f"--no-{f.name}" if f.default else f"--{f.name}").replace("_", "-"), "bool"
    return name or f"--{f.name.replace('_', '-')}", None


def add_options(parser: argparse.ArgumentParser | Any, cls: type[Options], *,
                skip: tuple[str, ...] = ()) -> None:
    """Add one flag per command-line field of ``cls`` (through nested groups) to ``parser``.

    Every flag's parsed default is ``None`` (``False`` for booleans): "not given", so that
    :func:`options_from_args` keeps the base value -- the dataclass default or an entry's own.

    Parameters
    ----------
    parser:
        An ``argparse`` parser or argument group.
    cls:
        The :class:`Options` dataclass.
    skip:
        Flat names to leave off (a command that sets them itself).
    """
    exclusive: dict[str, Any] = {}
    for f, meta in option_fields(cls):
        if meta.get("group") is not None:
            add_options(parser, meta["group"], skip=skip)
            continue
        if not meta["cli"] or f.name in skip:
            continue
        target = parser
        if meta["exclusive"] is not None:
            if meta["exclusive"] not in exclusive:
                exclusive[meta["exclusive"]] = parser.add_mutually_exclusive_group()
            target = exclusive[meta["exclusive"]]
        _add_flag(target, f, meta)


def _add_flag(parser: Any, f: dataclasses.Field, meta: dict) -> None:
    """One field's flag."""
    flag, kind = _flag(f, meta)
    text = meta["help"]
    shown = meta["default_text"] or (None if f.default is None or kind else f.default)
    if shown is not None and "(default" not in text:  # a help that names its default keeps it
        text = f"{text} (default {shown})"
    if kind == "bool":
        parser.add_argument(flag, dest=f.name, action="store_true", help=text)
        return
    choices = meta["choices"]
    kw: dict[str, Any] = {"dest": f.name, "default": None, "help": text,
                          "type": meta["type"] or type(f.default)}
    if choices is not None:
        kw["choices"] = choices() if callable(choices) else choices
    for key in ("metavar", "nargs"):
        if meta.get(key) is not None:
            kw[key] = meta[key]
    parser.add_argument(flag, **kw)


def given_flags(args: argparse.Namespace, cls: type[Options]) -> dict[str, Any]:
    """The flat options whose flags were given on the command line.

    Parameters
    ----------
    args:
        The parsed arguments (flags added by :func:`add_options`).
    cls:
        The :class:`Options` dataclass.

    Returns
    -------
    dict[str, Any]
        ``{flat name: value}``; a boolean flag, when given, sets the opposite of its default.
    """
    out: dict[str, Any] = {}
    for f, meta in option_fields(cls):
        if meta.get("group") is not None:
            out.update(given_flags(args, meta["group"]))
            continue
        value = getattr(args, f.name, None) if meta["cli"] else None
        if isinstance(f.default, bool):
            if value:
                out[f.name] = not f.default
        elif value is not None:
            out[f.name] = value
    return out


def options_from_args(args: argparse.Namespace, cls: type[T], base: T | None = None) -> T:
    """The options of ``cls`` from parsed flags: ``base`` (or the defaults) with the given flags.

    Parameters
    ----------
    args:
        The parsed arguments (flags added by :func:`add_options`).
    cls:
        The :class:`Options` dataclass.
    base:
        Values for the flags not given (default ``cls()``).

    Returns
    -------
    Options
        The validated instance.
    """
    start = cls() if base is None else base
    return start.replace_flat(**given_flags(args, cls))


def at_least(low: int | float) -> Callable[[Any, str], Any]:
    """A check: a number ``>= low`` (an integer when ``low`` is one).

    Parameters
    ----------
    low:
        The smallest accepted value.

    Returns
    -------
    Callable[[Any, str], Any]
        ``check(value, name)`` for :func:`option`.
    """
    def check(value: Any, name: str) -> Any:
        integer = isinstance(low, int)
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            ok = False
        else:
            ok = value >= low and (int(value) == value if integer else value == value)
        if not ok:
            kind = "an integer " if integer else ""
            raise InputError(f"{name} must be {kind}>= {low}, got {value}")
        return int(value) if integer else float(value)
    return check


def positive(value: Any, name: str) -> float:
    """A check: a finite number ``> 0``.

    Parameters
    ----------
    value, name:
        The value and the option's name (for the message).

    Returns
    -------
    float
        ``value`` as a float.
    """
    v = float(value)
    if not (v > 0 and v != float("inf")):
        raise InputError(f"{name} must be finite and > 0, got {value}")
    return v


def one_of(choices: tuple[str, ...] | Callable[[], tuple[str, ...]]) -> Callable[[Any, str], str]:
    """A check: one of ``choices`` (a tuple, or a function returning it, e.g. a registry).

    Parameters
    ----------
    choices:
        The accepted values.

    Returns
    -------
    Callable[[Any, str], str]
        ``check(value, name)`` for :func:`option`.
    """
    def check(value: Any, name: str) -> str:
        known = choices() if callable(choices) else choices
        if value not in known:
            raise InputError(f"unknown {name} {value!r}; expected one of {', '.join(known)}")
        return value
    return check
