"""`~/.tao_mounts.json` (TAO's format): the host folders a task container sees, its extra environment
variables and Docker options. `LAUNCHER_MOUNTS` points at another file.

    {"Mounts": [{"source": "/home/me/tao", "destination": "/workspace/tao"}],
     "Envs": [{"variable": "CUDA_CACHE_DISABLE", "value": "1"}],
     "DockerOptions": {"user": "1000:1000", "shm_size": "16G", "ulimits": {"memlock": -1},
                       "ports": {"8888": 8888}, "privileged": false, "network": "host", "tty": true}}
"""

import difflib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from .errors import LauncherError

MOUNTS_ENV = "LAUNCHER_MOUNTS"
TOP_KEYS = ("Mounts", "Envs", "DockerOptions")
DOCKER_OPTIONS = {"user": str, "ports": dict, "shm_size": (str, int), "ulimits": dict, "privileged": bool,
                  "network": str, "tty": bool}


@dataclass(frozen=True)
class Mount:
    source: Path  # host folder (or file), absolute and resolved
    destination: PurePosixPath  # absolute path inside the container


@dataclass
class MountsConfig:
    path: Path
    exists: bool = False
    mounts: list = field(default_factory=list)
    envs: dict = field(default_factory=dict)
    docker_options: dict = field(default_factory=dict)


def mounts_file() -> Path:
    """The mounts file: LAUNCHER_MOUNTS, else ~/.tao_mounts.json. A LAUNCHER_MOUNTS naming no file is a mistake,
    not "no mounts"."""
    path = Path(os.environ.get(MOUNTS_ENV) or "~/.tao_mounts.json").expanduser()
    if os.environ.get(MOUNTS_ENV) and not path.exists():
        raise LauncherError(f"{MOUNTS_ENV}={os.environ[MOUNTS_ENV]}: no such file; point it at your mounts file "
                            "or unset it to use ~/.tao_mounts.json")
    return path


def _unknown(where, key, valid):
    near = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
    hint = f"did you mean '{near[0]}'? " if near else ""
    return f"unknown key '{key}' {where} — {hint}valid keys: {', '.join(valid)}"


def _entries(data, key, fields, path):
    value = data.get(key, [])
    if not isinstance(value, list):
        raise LauncherError(f"{path}: \"{key}\" must be a list of {{{', '.join(fields)}}} objects")
    for index, entry in enumerate(value):
        where = f"{path}: {key}[{index}]"
        if not isinstance(entry, dict):
            raise LauncherError(f"{where} must be an object with keys {', '.join(fields)}, got {entry!r}")
        for name in entry:
            if name not in fields:
                raise LauncherError(f"{where}: " + _unknown("in this entry", name, fields))
        for name in fields:
            if not isinstance(entry.get(name), (str, int, float)) or entry.get(name) == "":
                raise LauncherError(f"{where}: \"{name}\" is missing or empty")
    return value


def load_mounts(path: Path | None = None) -> MountsConfig:
    """Read and check the mounts file; a missing file means no mounts (tasks then may not name host paths)."""
    path = Path(path) if path else mounts_file()
    config = MountsConfig(path=path)
    if not path.exists():
        return config
    config.exists = True
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise LauncherError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg})") from None
    except UnicodeDecodeError as exc:
        raise LauncherError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8 JSON") from None
    except OSError as exc:
        raise LauncherError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not isinstance(data, dict):
        raise LauncherError(f"{path}: the top level must be an object with keys {', '.join(TOP_KEYS)}")
    for key in data:
        if key not in TOP_KEYS:
            raise LauncherError(f"{path}: " + _unknown("at the top level", key, TOP_KEYS))

    for index, entry in enumerate(_entries(data, "Mounts", ("source", "destination"), path)):
        source = Path(os.path.expandvars(str(entry["source"]))).expanduser()
        destination = str(entry["destination"])
        if not source.is_absolute():
            raise LauncherError(f"{path}: Mounts[{index}].source '{source}' must be an absolute host path")
        if not source.exists():
            raise LauncherError(f"{path}: Mounts[{index}].source '{source}' does not exist — create it "
                                f"(mkdir -p {source}) or fix the path")
        if not destination.startswith("/"):
            raise LauncherError(f"{path}: Mounts[{index}].destination '{destination}' must be an absolute container "
                                f"path, e.g. /workspace/{destination.strip('./') or 'data'}")
        config.mounts.append(Mount(source.resolve(), PurePosixPath(destination)))

    for entry in _entries(data, "Envs", ("variable", "value"), path):
        config.envs[str(entry["variable"])] = str(entry["value"])

    options = data.get("DockerOptions", {})
    if not isinstance(options, dict):
        raise LauncherError(f"{path}: \"DockerOptions\" must be an object")
    for key, value in options.items():
        if key not in DOCKER_OPTIONS:
            raise LauncherError(f"{path}: " + _unknown("in DockerOptions", key, tuple(DOCKER_OPTIONS)))
        if not isinstance(value, DOCKER_OPTIONS[key]):
            expected = DOCKER_OPTIONS[key]
            names = " or ".join(t.__name__ for t in (expected if isinstance(expected, tuple) else (expected,)))
            raise LauncherError(f"{path}: DockerOptions.{key} must be {names}, got {value!r}")
    config.docker_options = options
    return config
