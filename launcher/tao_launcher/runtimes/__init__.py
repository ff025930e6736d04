"""Runtimes run one `<task> <subcommand> args` of a worker and return its exit code.

Every runtime offers `run(task, subcommand, args) -> int`; the local runtime runs the worker on this
machine, a container runtime runs it in the task's worker image.
"""

import os

from .local import LocalRuntime

RUNTIME_NAMES = ("auto", "local")


def choose_runtime(requested: str = "auto"):
    """Return (runtime, reason): the runtime to use and a one-line reason a user can act on."""
    if requested == "local":
        return LocalRuntime(), "local (requested with --runtime local)"
    if os.environ.get("TAO_DOCKER_DISABLE", "") not in ("", "0"):
        return LocalRuntime(), "local (TAO_DOCKER_DISABLE is set)"
    # Containers are not wired in yet: the local runtime is the only one this build has.
    return LocalRuntime(), "local (this build runs tasks on this machine; the container runtime is not included yet)"
