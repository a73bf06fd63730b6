"""Flags and YAML files -> the config dataclasses of training.config, and back to a command line.

Precedence: dataclass defaults < ``--config FILE.yaml`` < flags actually given. One flag per
field, generated from the dataclass (help text and choices come from the field metadata), so a
new config field is a new flag with no further code.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import inspect
import json
import logging
import shlex
import sys
import types
import typing
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence, TypeVar

import yaml

from core.atomic import atomic_write
from training.config import ConfigError

C = TypeVar("C")


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _base_type(tp: Any) -> Any:
    """int for ``int | None``; list for ``list[str]``."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        tp = next(a for a in typing.get_args(tp) if a is not type(None))
    return typing.get_origin(tp) or tp


def _nested(cls: type) -> dict[str, type]:
    """Composed config fields (name -> dataclass type)."""
    return {n: t for n, t in _hints(cls).items() if dataclasses.is_dataclass(t)}


_TYPE_WORDS = {int: "a whole number", float: "a number", bool: "true or false", str: "text",
               list: "a comma-separated list"}


def _coerce(name: str, tp: Any, value: Any) -> Any:
    base = _base_type(tp)
    if value is None:
        return None
    try:
        if base is bool:
            if isinstance(value, str):
                lowered = value.strip().lower()
                if lowered not in ("true", "false", "yes", "no", "1", "0"):
                    raise ValueError(value)
                return lowered in ("true", "yes", "1")
            return bool(value)
        if base is list:
            items = value.split(",") if isinstance(value, str) else list(value)
            return [str(v).strip() for v in items if str(v).strip()]
        if base is int and isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        return base(value)
    except (TypeError, ValueError):
        raise ConfigError(f"'{name}' must be {_TYPE_WORDS.get(base, base)}, got {value!r}.") from None


def from_dict(cls: type[C], values: dict[str, Any]) -> C:
    """Build a config from a flat (or ``train:``-nested) mapping, rejecting unknown keys.

    Args:
        cls: one of the config dataclasses.
        values: field values; composed configs' fields may be given flat.

    Returns:
        The config (not yet validated).

    Raises:
        ConfigError: an unknown key or a value of the wrong type.
    """
    hints, nested = _hints(cls), _nested(cls)
    own: dict[str, Any] = {}
    inner: dict[str, dict[str, Any]] = {n: {} for n in nested}
    for key, value in values.items():
        key = key.replace("-", "_")
        if key in nested and isinstance(value, dict):
            inner[key].update(value)
        elif key in hints and key not in nested:
            own[key] = _coerce(key, hints[key], value)
        else:
            owner = next((n for n, t in nested.items() if key in _hints(t)), None)
            if owner is None:
                known = sorted({*hints, *(k for t in nested.values() for k in _hints(t))} - set(nested))
                raise ConfigError(f"Unknown config key '{key}'. Known keys: {', '.join(known)}.")
            inner[owner][key] = value
    for name, tp in nested.items():
        own[name] = from_dict(tp, inner[name])
    return cls(**own)


def load_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML config file into a mapping; ConfigError if missing or not a mapping."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"Config file {path} does not exist.")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"Config file {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"Config file {path} must hold a mapping of key: value lines.")
    return data


def _add_arguments(parser: argparse.ArgumentParser, cls: type) -> None:
    for f in dataclasses.fields(cls):
        tp = _hints(cls)[f.name]
        if dataclasses.is_dataclass(tp):
            _add_arguments(parser, tp)
            continue
        flag = "--" + f.name.replace("_", "-")
        kwargs: dict[str, Any] = {"dest": f.name, "default": argparse.SUPPRESS, "help": f.metadata.get("help")}
        base = _base_type(tp)
        if base is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["type"] = str if base is list else base
            if f.metadata.get("choices"):
                kwargs["choices"] = f.metadata["choices"]
        parser.add_argument(flag, **kwargs)


def build_parser(cls: type, prog: str, description: str) -> argparse.ArgumentParser:
    """An argparse parser with one flag per config field plus ``--config FILE.yaml``."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--config", help="YAML file of config values; flags given here override it")
    _add_arguments(parser, cls)
    return parser


def parse_config(cls: type[C], argv: Sequence[str] | None, prog: str, description: str) -> C:
    """Config from defaults, then ``--config`` YAML, then the flags actually given.

    Args:
        cls: the script's config dataclass.
        argv: command-line arguments (without the program name); None reads sys.argv.
        prog: program name shown in --help.
        description: one line shown in --help.

    Returns:
        The validated config.
    """
    args = vars(build_parser(cls, prog, description).parse_args(argv))
    values = load_yaml(args.pop("config")) if args.get("config") else {}
    args.pop("config", None)
    values = _flatten(cls, values)
    values.update(args)  # only flags given on the command line are present (SUPPRESS)
    cfg = from_dict(cls, values)
    return cfg.validate()


def _flatten(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    flat = {}
    for key, value in values.items():
        if key in _nested(cls) and isinstance(value, dict):
            flat.update({k.replace("-", "_"): v for k, v in value.items()})
        else:
            flat[key.replace("-", "_")] = value
    return flat


def to_dict(cfg: Any) -> dict[str, Any]:
    """The config as plain JSON-serialisable data."""
    return dataclasses.asdict(cfg)


def write_text_atomic(text: str, path: str | Path) -> Path:
    """Write text through a temp file and rename, so a reader never sees half a file."""
    path = Path(path)
    with atomic_write(path, "w") as fh:
        fh.write(text)
    return path


def write_json_atomic(data: Any, path: str | Path) -> Path:
    """Write JSON atomically (see :func:`write_text_atomic`)."""
    return write_text_atomic(json.dumps(data, indent=2, default=str) + "\n", path)


def to_command(module: str, cfg: Any) -> str:
    """The command line that reproduces ``cfg`` (flags only for values that differ from the defaults)."""
    parts = ["python", "-m", module]
    flat = _flatten(type(cfg), to_dict(cfg))
    defaults = _flatten(type(cfg), to_dict(type(cfg)()))
    for key, value in flat.items():
        if value == defaults.get(key):
            continue
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            parts.append(flag if value else "--no-" + key.replace("_", "-"))
        elif isinstance(value, list):
            parts += [flag, ",".join(value)]
        elif value is not None:
            parts += [flag, str(value)]
    return shlex.join(parts)


def _user_error_types() -> tuple[type[BaseException], ...]:
    from core.data import DatasetError
    from core.models import ImageNetWeightsUnavailable
    from core.serving.cards import CardError
    from core.serving.errors import ServingError
    from training.runtime import RuntimeConfigError

    return ConfigError, DatasetError, CardError, ServingError, ImageNetWeightsUnavailable, RuntimeConfigError


@contextlib.contextmanager
def user_errors(extra: tuple[type[BaseException], ...] = ()) -> Iterator[None]:
    """Report the errors a researcher can fix (bad flag, dataset, model file) as one line, exit status 2.

    A traceback is for bugs; a missing folder or a typo in a flag deserves a sentence.

    Args:
        extra: further exception types of one script that are user mistakes too.
    """
    try:
        yield
    except (*_user_error_types(), *extra) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


#: One log format for every training script.
LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"


def run(config_cls: type[C], fn: Callable[..., Any], argv: Sequence[str] | None = None, *, module: str,
        description: str, report: Callable[[C, Any], str] | None = None,
        errors: tuple[type[BaseException], ...] = ()) -> Any:
    """The one entry point of every training script: same flags, same logging, same plain-sentence errors.

    Args:
        config_cls: the script's config dataclass (one flag per field, plus ``--config FILE.yaml``).
        fn: the work, ``fn(cfg)`` or ``fn(cfg, command=...)`` (then it receives the exact command line).
        argv: arguments without the program name; None reads ``sys.argv``.
        module: the script's module, e.g. ``"training.train_classifier"`` (for --help and the command).
        description: one line for --help.
        report: ``(cfg, result) -> text`` printed when the work is done.
        errors: further exception types this script reports as a sentence (exit status 2).

    Returns:
        What ``fn`` returned.
    """
    with user_errors(errors):
        cfg = parse_config(config_cls, argv, "python -m " + module, description)
        logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
        command = shlex.join(["python", "-m", module, *(sys.argv[1:] if argv is None else argv)])
        takes_command = "command" in inspect.signature(fn).parameters
        result = fn(cfg, command=command) if takes_command else fn(cfg)
    if report is not None:
        print(report(cfg, result))
    return result
