"""Frozen-dataclass configs drive the CLI: each field's metadata["help"] becomes a flag's help,
and the resolved config is saved with every output (with the git revision and a format version)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import types
import typing
from pathlib import Path
from typing import Any

FORMAT_VERSION = 1


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_config_args(parser: argparse.ArgumentParser, cls: type, required: tuple[str, ...] = (),
                    repeatable: tuple[str, ...] = (), aliases: dict[str, str] | None = None) -> None:
    """Add one flag per dataclass field. Tuples of str are comma-separated; bools are switches;
    `repeatable` tuple fields may also be given several times (values are collected per flag);
    `aliases` maps a field to an extra flag spelling (`input` -> `--in`)."""
    aliases = aliases or {}
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        help_text = f.metadata.get("help", "").replace("%", "%%")  # argparse %-formats help strings
        flags = [_flag(f.name)] + ([aliases[f.name]] if f.name in aliases else [])
        if hint is bool:  # a switch; one that defaults on also gets --no-<name>
            action = argparse.BooleanOptionalAction if f.default is True else "store_true"
            parser.add_argument(*flags, action=action, default=f.default, help=help_text)
            continue
        kind = _scalar_type(hint)
        if f.name in repeatable:
            parser.add_argument(*flags, type=kind, action="append", required=True, help=help_text + " (repeatable)")
            continue
        has_default = f.default is not dataclasses.MISSING
        default = f.default if has_default else None
        shown = ",".join(default) if isinstance(default, tuple) else default
        parser.add_argument(
            *flags, dest=f.name, type=kind, default=default, required=f.name in required or not has_default,
            help=f"{help_text} (default: {shown})" if has_default else help_text,
        )


def _scalar_type(hint: Any):
    origin = typing.get_origin(hint)
    if origin is tuple:
        return lambda s: tuple(x.strip() for x in s.split(",") if x.strip())
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return _scalar_type(args[0])
    if hint is Path:
        return Path
    return hint


def config_from_args(cls: type, ns: argparse.Namespace):
    """The dataclass from parsed flags; a repeated comma-separated flag (a list of tuples) is flattened."""
    def value(v: Any) -> Any:
        return tuple(x for group in v for x in group) if isinstance(v, list) else v

    return cls(**{f.name: value(getattr(ns, f.name)) for f in dataclasses.fields(cls)})


def to_jsonable(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (tuple, list)):
        return [to_jsonable(x) for x in obj]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    return obj


def git_revision() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def run_record(config: Any, **extra: Any) -> dict:
    """What every output folder stores about how it was made."""
    return {"format_version": FORMAT_VERSION, "git_revision": git_revision(), "config": to_jsonable(config), **extra}


def write_json(path: Path, obj: Any) -> None:
    """Atomic JSON write (temp file + rename)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(to_jsonable(obj), indent=2) + "\n")
    tmp.replace(path)
