"""Which Docker image runs which worker. Defaults match docker-compose.yml; `~/.tao/config.json`
(`TAO_CONFIG` points elsewhere) overrides per worker, `TAO_DOCKER_REGISTRY` prefixes the default names.

    {"images": {"cv": "registry.example.com/team/tao-cv:dev"}}
"""

import json
import os
from pathlib import Path

from . import __version__
from .errors import LauncherError

DEFAULT_IMAGES = {"cv": f"tao-toolkit-oss/cv:{__version__}", "deploy": f"tao-toolkit-oss/deploy:{__version__}"}


def config_file() -> Path:
    return Path(os.environ.get("TAO_CONFIG") or "~/.tao/config.json").expanduser()


def image_for(worker: str) -> str:
    path = config_file()
    if path.exists():
        try:
            config = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise LauncherError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg})") from None
        images = config.get("images", {}) if isinstance(config, dict) else None
        if not isinstance(images, dict):
            raise LauncherError(f"{path}: expected {{\"images\": {{\"cv\": \"name:tag\"}}}}")
        unknown = set(images) - set(DEFAULT_IMAGES)
        if unknown:
            raise LauncherError(f"{path}: images.{sorted(unknown)[0]} is not a worker; workers: {', '.join(DEFAULT_IMAGES)}")
        if worker in images:
            return images[worker]
    registry = os.environ.get("TAO_DOCKER_REGISTRY", "").strip().rstrip("/")
    return f"{registry}/{DEFAULT_IMAGES[worker]}" if registry else DEFAULT_IMAGES[worker]
