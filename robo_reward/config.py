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
    `aliases` maps a field to an extra flag spelling (`input` -> `--in`). A config with nested configs
    gets `--group.field` flags in one help group per config, and `--config FILE`."""
    if is_nested(cls):
        needed = " ".join(f"{_flag(f.name)} {f.name.upper()}" for f in dataclasses.fields(cls)
                          if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
        parser.usage = f"%(prog)s {needed} [--config FILE] [--<field> V ...] [--<config>.<field> V ...]"
        parser.add_argument("--config", type=Path, default=None, metavar="FILE",
                            help="a YAML or JSON config (e.g. a run's config.json): its values replace the defaults, "
                                 "flags given replace its values")
        _add_nested_args(parser, cls)
        return
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
    """The dataclass from parsed flags; a repeated comma-separated flag (a list of tuples) is flattened.
    A nested config: the dataclass's defaults, then a --config file's values, then the flags given."""
    if is_nested(cls):
        return _nested_from_args(cls, ns)

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


# ---- nested configs: a config whose fields are configs (RLConfig: reward, sac, demos, ...) ----------------

def is_nested(cls: type) -> bool:
    hints = typing.get_type_hints(cls)
    return any(dataclasses.is_dataclass(hints[f.name]) for f in dataclasses.fields(cls))


def _add_nested_args(parser: argparse.ArgumentParser, cls: type, prefix: str = "", group=None, defaults: Any = None) -> None:
    """One flag per leaf field, `--<group>.<field>` (and the field's `alias`, its flat spelling from before
    configs nested); one help group per nested config. Defaults are suppressed so that what the user typed
    can be told from what a --config file or the dataclass gives."""
    hints = typing.get_type_hints(cls)
    target = group or parser
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            doc = (hint.__doc__ or "").strip().splitlines()[0] if hint.__doc__ else ""
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else hint()
            _add_nested_args(parser, hint, f"{prefix}{f.name}.", parser.add_argument_group(f"--{prefix}{f.name}.*", doc), default)
            continue
        if f.metadata.get("cli") is False:
            continue
        flags = [_flag(prefix + f.name)] + ([f.metadata["alias"]] if "alias" in f.metadata else [])
        help_text = f.metadata.get("help", "").replace("%", "%%")
        has_default = f.default is not dataclasses.MISSING
        value = getattr(defaults, f.name) if defaults is not None else f.default
        shown = ",".join(value) if has_default and isinstance(value, tuple) else value
        help_text = f"{help_text} (default: {shown})" if has_default else f"{help_text} (required)"
        if hint is bool:
            target.add_argument(*flags, dest=prefix + f.name, action=argparse.BooleanOptionalAction,
                                default=argparse.SUPPRESS, help=help_text)
        else:
            target.add_argument(*flags, dest=prefix + f.name, type=_scalar_type(hint), default=argparse.SUPPRESS,
                                metavar=f.name.upper(), help=help_text)


def load_config_file(path: Path) -> dict:
    """A YAML or JSON config; a run folder's config.json (a run record) gives the config it holds."""
    import yaml

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"--config {path}: no such file")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"--config {path}: not valid YAML or JSON ({str(exc).splitlines()[0]})") from exc
    if not isinstance(data, dict):
        raise ValueError(f"--config {path}: expected a mapping of config fields, got {type(data).__name__}")
    return data["config"] if "config" in data and "format_version" in data else data


def deep_merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def unflatten(flat: dict[str, Any]) -> dict:
    """{"a.b": 1} -> {"a": {"b": 1}}."""
    out: dict = {}
    for dotted, v in flat.items():
        node = out
        *parents, leaf = dotted.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = v
    return out


def config_from_dict(cls: type, data: dict, where: str = "config"):
    """The dataclass from a nested mapping (a --config file, a run's saved config); values are converted
    to the field types (paths, tuples); an unknown key or a missing required field is named."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {unknown} of {cls.__name__} (known: {sorted(fields)})")
    kwargs = {}
    for name, f in fields.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            base = to_jsonable(f.default_factory() if f.default_factory is not dataclasses.MISSING else hint())
            kwargs[name] = config_from_dict(hint, deep_merge(base, data.get(name) or {}), f"{where}, {name}")
        elif name in data:
            try:
                kwargs[name] = _coerce(hint, data[name])
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{where}: {_flag(name)} {exc}") from exc
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ValueError(f"{where}: {_flag(name)} is required")
    return cls(**kwargs)


def _coerce(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    if origin is tuple:
        return tuple(value.split(",")) if isinstance(value, str) else tuple(value)
    if origin in (typing.Union, types.UnionType):
        return _coerce(next(a for a in typing.get_args(hint) if a is not type(None)), value)
    if hint is Path:
        return Path(value)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, bool, str) and (not isinstance(value, hint) or (hint is int and isinstance(value, bool))):
        raise TypeError(f"must be {hint.__name__}, got {value!r}")
    return value


def _nested_from_args(cls: type, ns: argparse.Namespace):
    given = {k: v for k, v in vars(ns).items() if "." in k or k in {f.name for f in dataclasses.fields(cls)}}
    base = load_config_file(ns.config) if getattr(ns, "config", None) else {}
    return config_from_dict(cls, deep_merge(base, unflatten(given)), f"--config {ns.config}" if base else "flags")


def flat_names(cls: type, prefix: str = "") -> dict[str, str]:
    """Each leaf field's flat name from before configs nested (its alias without dashes, e.g. `demo_episodes`)
    -> its dotted place (`demos.episodes`)."""
    hints = typing.get_type_hints(cls)
    out = {}
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            out.update(flat_names(hints[f.name], f"{prefix}{f.name}."))
        else:
            alias = f.metadata.get("alias")
            out[alias[2:].replace("-", "_") if alias else prefix + f.name] = prefix + f.name
    return out
