"""Stage parameters that describe themselves: the one source every interface is built from.

A stage's ``Params`` is a frozen dataclass whose fields are declared with :func:`input_file`,
:func:`param` or :func:`runtime`. Each field carries, in its metadata (:class:`FieldInfo`), the
help text in the RELION GUI's words, its unit, the RELION program option and RELION's GUI
default, the ``job.star`` variable, the cryopick command-line flag, and its bounds. From that
one declaration come

* the command-line parser of ``cryopick <stage>`` (:mod:`cryopick.cli.stage_command`);
* the flow's parameter form (``cryopick.flows.params``: every field but the input files);
* the service's request decoding (``cryopick.services.runtime.params``);
* ``job.star`` options, the command line written to ``note.txt``, the parameter fingerprint
  that guards a job directory, and the generic checks in :func:`check_fields`.

The gRPC request messages are written by hand (``protos/``); a test walks the stage registry
and fails if a message and its ``Params`` disagree in a name, a type or a default.

Field kinds: ``input`` fields name project-relative input files; ``param`` fields change what
the job computes; ``runtime`` fields (threads, device, ``skip_failed_micrographs``) change how
it runs, not its results, so they are left out of the fingerprint.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import shlex
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

from cryopick.errors import BadInputError

KEY = "cryopick"
INPUT, PARAM, RUNTIME = "input", "param", "runtime"
MISSING = dataclasses.MISSING


@dataclass(frozen=True)
class FieldInfo:
    """What a parameter field means.

    Attributes
    ----------
    help : str
        The RELION GUI's label (or a sentence in its style), e.g. "Min. diameter for LoG filter".
    cli : str
        The cryopick command-line flag, e.g. ``--diam-min``.
    unit : str
        "Å", "px", "deg", "stddev", "" ...
    relion : str
        The RELION program option it maps to, e.g. ``--LoG_diam_min`` ("" = cryopick only).
    relion_default : object
        RELION's GUI default (None = no GUI field). cryopick's defaults are RELION's GUI
        defaults; the tutorial's values are the ``tutorial`` preset (:mod:`cryopick.stages.presets`).
    job_option : str
        The ``job.star`` variable RELION's GUI uses for it ("" = none).
    kind : str
        ``input``, ``param`` or ``runtime`` (see the module docstring).
    node : str
        Input files: the RELION node type label of what they hold.
    minimum, maximum : float or None
        Inclusive bounds (checked by :func:`check_fields`).
    even : bool
        The value must be even (box sizes).
    """

    help: str
    cli: str
    unit: str = ""
    relion: str = ""
    relion_default: Any = None
    job_option: str = ""
    kind: str = PARAM
    node: str = ""
    minimum: float | None = None
    maximum: float | None = None
    even: bool = False


def param(default: Any = MISSING, **info: Any) -> Any:
    """A parameter field (``FieldInfo`` keywords; ``default`` omitted = required)."""
    return dataclasses.field(default=default, metadata={KEY: FieldInfo(**info)})


def runtime(default: Any, **info: Any) -> Any:
    """A field that changes how a job runs, not what it computes (not fingerprinted)."""
    return dataclasses.field(default=default, metadata={KEY: FieldInfo(kind=RUNTIME, **info)})


def input_file(*, help: str, cli: str, node: str = "", job_option: str = "", required: bool = True,
               many: bool = False) -> Any:
    """A project-relative input file field ("" = not given for an optional one; ``many``: a tuple of files)."""
    info = FieldInfo(help=help, cli=cli, node=node, job_option=job_option, kind=INPUT)
    if many:
        return dataclasses.field(default=(), metadata={KEY: info})
    return dataclasses.field(default=MISSING if required else "", metadata={KEY: info})


@dataclass(frozen=True)
class ParamField:
    """One field of a ``Params`` class, resolved.

    Attributes
    ----------
    name : str
    base : type
        ``bool``, ``int``, ``float``, ``str`` or ``tuple`` (a tuple of strings).
    optional : bool
        The annotation admits None (``int | None``): None means "off" / "automatic".
    choices : tuple
        Allowed values of a ``Literal[...]`` field.
    default : object
        ``dataclasses.MISSING`` for a required field.
    info : FieldInfo
    """

    name: str
    base: type
    optional: bool
    choices: tuple
    default: Any
    info: FieldInfo

    @property
    def required(self) -> bool:
        return self.default is MISSING

    @property
    def is_input(self) -> bool:
        return self.info.kind == INPUT


def _resolve(annotation: Any) -> tuple[type, bool, tuple]:
    """(base type, optional, choices) of a field annotation."""
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        if len(rest) != 1:
            raise TypeError(f"unsupported parameter annotation {annotation!r}")
        base, _, choices = _resolve(rest[0])
        return base, True, choices
    if origin is Literal:
        return type(args[0]), False, tuple(args)
    if origin is tuple:
        return tuple, False, ()
    if annotation in (bool, int, float, str):
        return annotation, False, ()
    raise TypeError(f"unsupported parameter annotation {annotation!r}")


@functools.lru_cache(maxsize=None)
def fields_of(cls: type) -> tuple[ParamField, ...]:
    """The described fields of a ``Params`` class, in declaration order.

    Raises
    ------
    TypeError
        A field without :class:`FieldInfo` metadata or with an unsupported type.
    """
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        info = f.metadata.get(KEY)
        if info is None:
            raise TypeError(f"{cls.__module__}.{cls.__name__}.{f.name} is not declared with param()/input_file()/runtime()")
        base, optional, choices = _resolve(hints[f.name])
        out.append(ParamField(f.name, base, optional, choices, f.default, info))
    return tuple(out)


def field_named(cls: type, name: str) -> ParamField:
    for f in fields_of(cls):
        if f.name == name:
            return f
    raise KeyError(f"{cls.__name__} has no field {name!r}")


def label(f: ParamField) -> str:
    """How messages name a field: its command-line flag and GUI label, e.g. ``--box (Particle box size)``."""
    return f"{f.info.cli} ({f.info.help})"


def label_of(cls: type, name: str) -> str:
    """:func:`label` of field ``name`` of ``cls``."""
    return label(field_named(cls, name))


# ----------------------------------------------------------------------------- checks


def check_fields(params: Any) -> None:
    """The checks every stage shares: types, finite numbers, bounds, even sizes, choices.

    Raises
    ------
    BadInputError
        Naming the field (by its command-line flag and GUI label) and the value.
    """
    for f in fields_of(type(params)):
        value = getattr(params, f.name)
        where = label(f)
        if value is None:
            if f.optional:
                continue
            raise BadInputError(f"{where}: a value is required")
        if f.base is tuple:
            if not isinstance(value, tuple) or not all(isinstance(v, str) and v for v in value):
                raise BadInputError(f"{where}: expected a list of file names, got {value!r}")
            continue
        if f.base is bool:
            if not isinstance(value, bool):
                raise BadInputError(f"{where}: expected yes/no, got {value!r}")
            continue
        if f.base is str:
            if not isinstance(value, str) or (f.required and not value.strip()):
                raise BadInputError(f"{where}: expected a non-empty text value, got {value!r}")
            if f.choices and value not in f.choices:
                raise BadInputError(f"{where}: {value!r} is not one of {', '.join(map(str, f.choices))}")
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise BadInputError(f"{where}: expected a number, got {value!r}")
        if f.base is int and not float(value).is_integer():
            raise BadInputError(f"{where}: expected a whole number, got {value!r}")
        if not math.isfinite(value):
            raise BadInputError(f"{where}: {value!r} is not a finite number")
        unit = f" {f.info.unit}" if f.info.unit else ""
        if f.info.minimum is not None and value < f.info.minimum:
            raise BadInputError(f"{where} = {value:g}{unit}: must be at least {f.info.minimum:g}{unit}")
        if f.info.maximum is not None and value > f.info.maximum:
            raise BadInputError(f"{where} = {value:g}{unit}: must be at most {f.info.maximum:g}{unit}")
        if f.info.even and int(value) % 2:
            raise BadInputError(f"{where} = {value:g}{unit}: must be even")


def coerce(cls: type, name: str, value: Any) -> Any:
    """``value`` converted to the field's type (ints from whole floats, tuples from lists)."""
    f = field_named(cls, name)
    if value is None:
        return None
    if f.base is tuple:
        return tuple(value)
    if f.base is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if f.base is int and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# ----------------------------------------------------------------------------- derived views


def to_jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def fingerprint(params: Any) -> dict[str, Any]:
    """The fields that decide a job's results (inputs and params, not runtime), JSON-able."""
    return {f.name: to_jsonable(getattr(params, f.name)) for f in fields_of(type(params)) if f.info.kind != RUNTIME}


def job_options(params: Any) -> dict[str, Any]:
    """``job.star`` options named as RELION's GUI names them (fields with a ``job_option``).

    None ("off") is written as RELION's "off" values: "" for files, -1 for numbers.
    """
    out: dict[str, Any] = {}
    for f in fields_of(type(params)):
        if not f.info.job_option:
            continue
        value = getattr(params, f.name)
        if value is None:
            value = -1
        elif isinstance(value, tuple):
            value = " ".join(value)
        elif isinstance(value, float):
            value = f"{value:g}"
        out[f.info.job_option] = value
    return out


def cli_words(f: ParamField, value: Any) -> list[str]:
    """Command-line words that set field ``f`` to ``value`` ([] when it cannot be said: unset)."""
    if value is None or (f.base is str and f.is_input and value == ""):
        return []
    if f.base is bool:
        return [f.info.cli if value else "--no-" + f.info.cli[2:]]
    if f.base is tuple:
        return [f.info.cli, *value] if value else []
    if isinstance(value, float):
        return [f.info.cli, f"{value:g}"]
    return [f.info.cli, str(value)]


def command_line(command: str, params: Any, job_dir: str) -> str:
    """The ``cryopick <command> ...`` line that reproduces ``params`` (for ``note.txt``).

    Every field is spelled out, so the line does not depend on the defaults of a later version.
    """
    words = ["cryopick", command]
    fields = fields_of(type(params))
    for f in (f for f in fields if f.is_input):
        words += cli_words(f, getattr(params, f.name))
    words += ["--o", job_dir]
    for f in (f for f in fields if not f.is_input):
        words += cli_words(f, getattr(params, f.name))
    return shlex.join(words)
