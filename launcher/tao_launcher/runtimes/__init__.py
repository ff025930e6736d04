"""Runtimes run one `<task> <subcommand> args` of a worker and return its exit code.

Every runtime offers `run(task, subcommand, args) -> int`: the local runtime runs the worker on this machine,
the Docker runtime runs it in the task's worker image.
"""

import os

from ..errors import LauncherError
from ..images import image_for
from .local import LocalRuntime

RUNTIME_NAMES = ("auto", "docker", "local")


def choose_runtime(requested="auto", worker="cv"):
    """Return (runtime, reason, fell_back): the runtime to use, a one-line reason a user can act on, and whether
    `auto` settled on the local runtime because Docker could not be used (the CLI then says so)."""
    if requested == "local":
        return LocalRuntime(), "local (requested with --runtime local)", False
    if os.environ.get("TAO_DOCKER_DISABLE", "") not in ("", "0"):
        if requested == "docker":
            raise LauncherError("--runtime docker was asked for but TAO_DOCKER_DISABLE is set; unset it")
        return LocalRuntime(), "local (TAO_DOCKER_DISABLE is set)", False
    from ..mounts import mounts_file
    from .docker import DockerRuntime, connect, image_present

    client, why_not = connect()
    image = image_for(worker)
    if requested == "docker":
        if client is None:
            raise LauncherError(f"--runtime docker: {why_not}. Start the engine (e.g. `sudo dockerd` or "
                                "`systemctl start docker`) or use --runtime local")
        if not mounts_file().exists():  # a container would see no host folder: every path would be refused
            raise LauncherError(f"--runtime docker: no mounts file {mounts_file()}, so the container would see no host "
                                "folder. Create it with the folders your data and results live in, e.g. "
                                '{"Mounts": [{"source": "/home/me/tao-experiments", "destination": '
                                '"/workspace/tao-experiments"}]}')
        return DockerRuntime(client), f"docker (requested; image {image})", False
    if client is None:
        return LocalRuntime(), f"local ({why_not})", True
    if not mounts_file().exists():
        return LocalRuntime(), (f"local (Docker engine found, but no mounts file {mounts_file()}: create it to run "
                                "tasks in containers)"), True
    if not image_present(client, image):
        return LocalRuntime(), f"local (Docker engine found, but image {image} is not built: docker compose build {worker})", True
    return DockerRuntime(client), f"docker (engine reachable, image {image} found)", False
