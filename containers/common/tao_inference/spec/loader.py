"""Load a YAML spec into a dataclass schema.

Every error names the spec file, the line (when the key came from the file) and the dotted key,
and says what is expected; unknown keys get the nearest valid key as a suggestion.
"""

import dataclasses
import difflib
import json
import math
import os
import re
import sys
import types
import typing
from pathlib import Path

import yaml

from ..errors import UserError
from ..fileio import read_text, write_text


def spec_field(default, *, choices=None, min=None, max=None, help="", path=False):
    """A schema field with validation metadata (choices, inclusive bounds), a help line, and whether its value is a
    file or folder (`path`: the Docker runtime translates it to the container's path, existing yet or not).

    `default` may be a value, a list (copied per instance) or a section dataclass (built per instance).
    """
    meta = {"choices": choices, "min": min, "max": max, "help": help, "path": path}
    if isinstance(default, type) and dataclasses.is_dataclass(default):
        return dataclasses.field(default_factory=default, metadata=meta)
    if isinstance(default, list):
        return dataclasses.field(default_factory=lambda: list(default), metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


def _line_index(node, source, prefix="", index=None, raw=None):
    """Map dotted keys to 1-based line numbers, and plain (unquoted) scalar values to the text as written, from a
    composed YAML node tree."""
    index = {} if index is None else index
    raw = {} if raw is None else raw
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = f"{prefix}{key_node.value}"
            if key in index:  # YAML keeps the last silently: a spec that says two things is a mistake
                raise UserError(f"{source}:{key_node.start_mark.line + 1}: key '{key}' is given twice (first on line "
                                f"{index[key]}); keep one")
            index[key] = key_node.start_mark.line + 1
            if isinstance(value_node, yaml.ScalarNode) and value_node.style is None:
                raw[key] = value_node.value
            _line_index(value_node, source, key + ".", index, raw)
    elif isinstance(node, yaml.SequenceNode):  # entries of a list of sections: dataset.train[0].image_dir
        for number, item in enumerate(node.value):
            key = f"{prefix[:-1]}[{number}]"
            index[key] = item.start_mark.line + 1
            _line_index(item, source, key + ".", index, raw)
    return index, raw


class _Context:
    def __init__(self, source, lines, raw, tao_keys=None):
        # raw: the text of unquoted scalars, so that a text key written as digits (a sha256) keeps them as written
        self.source, self.lines, self.raw = source, lines, raw
        self.tao_keys = tao_keys or {}  # our key -> the TAO key it was mapped from (a TAO spec file)
        self.overridden = set()

    def where(self, key):
        if any(key == k or key.startswith(k + ".") for k in self.overridden):
            return "command line: "
        origin = next((self.tao_keys[k] for k in _parents(key) if k in self.tao_keys), None)
        line = next((self.lines[k] for k in _parents(key) if self.lines.get(k) is not None), None)
        if origin:
            return f"{self.source}:{line}: (TAO key '{origin}') " if line else f"{self.source}: (TAO key '{origin}') "
        return f"{self.source}:{line}: " if line is not None and key in self.lines else ""

    def fail(self, key, message):
        raise UserError(f"{self.where(key)}{message}")


def _parents(key):
    """'a.b[0].c' -> 'a.b[0].c', 'a.b[0]', 'a.b', 'a': the key and the keys that hold it."""
    while key:
        yield key
        key = re.sub(r"(\.[^.\[]*|\[\d+\])$", "", key) if re.search(r"[.\[]", key) else ""


def all_keys(schema, prefix=""):
    """Every dotted key of a schema, sections included."""
    keys = []
    for f in dataclasses.fields(schema):
        keys.append(prefix + f.name)
        sub = _dataclass_type(typing.get_type_hints(schema)[f.name])
        if sub is not None:
            keys.extend(all_keys(sub, prefix + f.name + "."))
    return keys


def _dataclass_type(tp):
    return tp if isinstance(tp, type) and dataclasses.is_dataclass(tp) else None


def _describe(tp):
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(tp) if a is not type(None)) + " or null"
    if origin is list:
        (inner,) = typing.get_args(tp) or (typing.Any,)
        return f"a list of {_describe(inner)}"
    if origin is dict:
        return "a mapping"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(tp, getattr(tp, "__name__", str(tp)))


def _coerce(value, tp, key, ctx):
    """Check `value` against the annotation `tp`; return the value in the expected type."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, arg, key, ctx)
            except UserError:
                continue
        ctx.fail(key, f"'{key}' is {value!r}; expected {_describe(tp)}")
    sub = _dataclass_type(tp)
    if sub is not None:
        if value is None:
            value = {}
        if not isinstance(value, dict):
            ctx.fail(key, f"'{key}' must be a section (a mapping of keys), got {value!r}")
        return _build(sub, value, key + ".", ctx)
    if origin is list:
        if not isinstance(value, list):
            ctx.fail(key, f"'{key}' is {value!r}; expected {_describe(tp)}")
        (inner,) = typing.get_args(tp) or (typing.Any,)
        if _dataclass_type(inner) is not None:  # each entry named by its index, so errors point at its line
            return [_coerce(v, inner, f"{key}[{i}]", ctx) for i, v in enumerate(value)]
        return [_coerce(v, inner, key, ctx) for v in value]
    if origin is dict:
        if not isinstance(value, dict):
            ctx.fail(key, f"'{key}' is {value!r}; expected a mapping")
        return dict(value)
    if tp is typing.Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        number = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):  # YAML 1.1 reads 1e-3 (no dot) as a string
            try:
                number = float(value)
            except ValueError:
                pass
        if number is not None:
            if not math.isfinite(number):
                ctx.fail(key, f"'{key}' is {value!r}; expected a finite number")
            return number
    elif tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool) and key in ctx.raw:
            return ctx.raw[key]  # YAML read the digits as a number: the text as written is what was meant
    ctx.fail(key, f"'{key}' is {value!r}; expected {_describe(tp)}")


def describe_bounds(low, high):
    """'>= 1', '<= 5' or 'between 0 and 1': the inclusive range a value must fall in."""
    return f">= {low}" if high is None else (f"<= {high}" if low is None else f"between {low} and {high}")


def _check_bounds(value, meta, key, ctx):
    choices = meta.get("choices")
    if choices and value is not None and value not in choices:
        ctx.fail(key, f"'{key}' is {value!r}; expected one of: {', '.join(map(str, choices))}")
    low, high = meta.get("min"), meta.get("max")
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            if (low is not None and item < low) or (high is not None and item > high):
                ctx.fail(key, f"'{key}' is {value!r}; expected a value {describe_bounds(low, high)}")


def _build(schema, data, prefix, ctx):
    hints = typing.get_type_hints(schema)
    fields = {f.name: f for f in dataclasses.fields(schema)}
    kwargs = {}
    for name, value in data.items():
        key = f"{prefix}{name}"
        if name not in fields:
            section = prefix.rstrip(".") or "top level"
            candidates = [prefix + n for n in fields]
            near = difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
            hint = f" — did you mean '{near[0]}'?" if near else f"; valid keys: {', '.join(sorted(fields))}"
            ctx.fail(key, f"spec key '{key}' does not exist in section '{section}'{hint}")
        value = _coerce(value, hints[name], key, ctx)
        _check_bounds(value, fields[name].metadata, key, ctx)
        if fields[name].metadata.get("path") and isinstance(value, str):
            value = _host_path(value, key, ctx)
        elif fields[name].metadata.get("path") and isinstance(value, list):
            value = [_host_path(v, key, ctx) if isinstance(v, str) else v for v in value]
        kwargs[name] = value
    return schema(**kwargs)


def host_path_of(value):
    """The local runtime reads a container path (under a mount's destination, as TAO specs write them) as the host
    path mounted there; TAO_CONTAINER_PATHS ([[destination, source], ...]) is set by the launcher. Other values
    come back unchanged."""
    mapping = os.environ.get("TAO_CONTAINER_PATHS")
    if mapping is None or not value.startswith("/"):
        return value
    for destination, source in sorted(json.loads(mapping), key=lambda pair: len(pair[0]), reverse=True):
        destination = destination.rstrip("/") or "/"
        if value == destination or value.startswith(destination + "/"):
            return source + value[len(destination):]
    return value


def _host_path(value, key, ctx):
    """host_path_of, and a clear error for an absolute path that maps nowhere and cannot be on this machine."""
    if os.environ.get("TAO_CONTAINER_PATHS") is None or not value.startswith("/"):
        return value
    mapped = host_path_of(value)
    if mapped != value:
        return mapped
    top = "/" + value.strip("/").split("/")[0]
    # a container path: under a destination's top folder, or TAO's /workspace; not a folder of this machine
    destinations = [destination for destination, _ in json.loads(os.environ["TAO_CONTAINER_PATHS"])]
    container_tops = {"/workspace"} | {"/" + d.strip("/").split("/")[0] for d in destinations}
    if top in container_tops and not os.path.exists(top):
        mounts = os.environ.get("TAO_MOUNTS_FILE", "~/.tao_mounts.json")
        ctx.fail(key, f"'{key}' is {value}: no mount of {mounts} has a destination that holds it, and {top} does not "
                      "exist on this machine; add a mount (source: the host folder, destination: the folder the spec "
                      "names) or give the path on this machine")
    return value


def _set_dotted(data, key, value, ctx):
    parts = key.split(".")
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            ctx.fail(key, f"override '{key}': '{part}' is not a section")
        node = child
    node[parts[-1]] = value


def load_spec(schema, path=None, overrides=()):
    """Build `schema` from a spec file (optional) plus `key.sub=value` overrides. The file is our YAML or one of
    TAO's own (protobuf text or TAO 5 YAML, told from its content), mapped to our keys."""
    data = {}
    lines, raw_scalars = {}, {}
    source = ""
    if path is not None:
        spec_path = Path(path)
        if not spec_path.exists():
            raise UserError(f"spec file {path} does not exist (pass an existing YAML file with -e)")
        source = str(spec_path)
        text = read_text(spec_path, "-e")
        from . import tao

        if tao.dialect(text, source) != "ours":
            return _load_tao_spec(schema, text, source, overrides)
        try:
            node = yaml.compose(text)
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"{source}:{mark.line + 1}" if mark else source
            raise UserError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise UserError(f"{source}: a spec must be a mapping of sections (dataset:, model:, train: ...)")
        lines, raw_scalars = _line_index(node, source)
        data = loaded
    return _with_overrides(schema, data, _Context(source, lines, raw_scalars), overrides)


def _split_override(override):
    if "=" not in override:
        raise UserError(f"command line: '{override}' is not an override; write key.sub=value (e.g. train.num_epochs=5)")
    key, raw = override.split("=", 1)
    return key.strip(), raw


def _parse_value(raw):
    try:
        return yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError:
        return raw


def _with_overrides(schema, data, ctx, overrides):
    for override in overrides:
        key, raw = _split_override(override)
        if key not in all_keys(schema):
            near = difflib.get_close_matches(key, all_keys(schema), n=1, cutoff=0.6)
            hint = f" — did you mean '{near[0]}'?" if near else ""
            raise UserError(f"command line: spec key '{key}' does not exist{hint}")
        ctx.overridden.add(key)
        ctx.raw[key] = raw
        _set_dotted(data, key, _parse_value(raw), ctx)
    return _build(schema, data, "", ctx)


def task_of_schema(schema):
    from ..tasks import TASKS

    return next((name for name, task in TASKS.items() if task.spec_class is schema), None)


REPORTED_TAO_SPECS = set()  # TAO spec files whose mapping summary this process has printed


def parsed_overrides(overrides):
    """`key=value` strings -> (key, value) pairs, values read as YAML (as every override is)."""
    return [(key, _parse_value(raw)) for key, raw in map(_split_override, overrides)]


def _load_tao_spec(schema, text, source, overrides):
    """A TAO spec file: an override of a key the file has (or of no key of ours) is a TAO key, set in the file
    before mapping; the other overrides (our keys) apply to the mapped spec."""
    from . import tao

    pairs = [_split_override(o) for o in overrides]
    translation = tao.translate(text, source, task_of_schema(schema), parsed_overrides(overrides),
                                our_keys=set(all_keys(schema)))
    ours = [f"{k}={v}" for k, v in pairs if k in translation.our_overrides]
    if translation.unsupported and os.environ.get("TAO_ALLOW_UNMAPPED") != "1":
        shown = translation.unsupported[:12]
        raise UserError(f"{source}: {len(translation.unsupported)} TAO key(s) of this {translation.network} spec have "
                        "no equivalent here:\n" + "\n".join(f"  {translation.where(k)}: {k} — {why}" for k, why in shown)
                        + ("\n  ..." if len(translation.unsupported) > len(shown) else "")
                        + "\nremove or change them, or pass --allow_unmapped to run without them "
                          "(`tao spec show -e SPEC` lists every key)")
    if source not in REPORTED_TAO_SPECS and int(os.environ.get("RANK", "0")) == 0:
        REPORTED_TAO_SPECS.add(source)
        print(tao.summary(translation), file=sys.stderr)
    lines = {key: translation.line_of(tao_key) for key, tao_key in translation.origin.items()}
    ctx = _Context(source, lines, {}, translation.origin)
    return _with_overrides(schema, translation.data, ctx, ours)


def to_dict(spec):
    return dataclasses.asdict(spec)


def dump_spec(spec, path):
    """Write the resolved spec (every default filled in) atomically."""
    write_text(path, yaml.safe_dump(to_dict(spec), sort_keys=False))
