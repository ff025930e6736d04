"""The embedded local runtime: runs the worker entry point as a subprocess on this machine."""

import json
import os
import shutil
import signal
import subprocess
import sys

from ..errors import LauncherError
from ..gpus import split_gpu_flags, worker_gpu_args
from ..mounts import load_mounts
from ..paths import PathTranslator, host_args
from ..tasks import WORKER_MODULES


class LocalRuntime:
    name = "local"

    def __init__(self, python: str | None = None):
        # The worker may live in another interpreter (e.g. a venv with torch); default: ours.
        self.python = python or os.environ.get("TAO_WORKER_PYTHON") or sys.executable

    def worker_command(self, worker="cv") -> list[str]:
        return [self.python, "-m", WORKER_MODULES[worker]]

    def command(self, task: str, subcommand: str, args: list[str], worker="cv") -> list[str]:
        return [*self.worker_command(worker), task, subcommand, *args]

    @staticmethod
    def map_container_paths(args, env):
        """TAO specs and commands name container paths (/workspace/...): with no container, each is read as the host
        path its ~/.tao_mounts.json mount comes from — the flags here, the spec's values in the worker (by
        TAO_CONTAINER_PATHS)."""
        try:
            config = load_mounts()
        except LauncherError as exc:
            print(f"tao: the mounts file is not used for container paths: {exc}", file=sys.stderr)
            return args
        env["TAO_CONTAINER_PATHS"] = json.dumps([[str(m.destination), str(m.source)] for m in config.mounts])
        env["TAO_MOUNTS_FILE"] = str(config.path)
        return host_args(args, PathTranslator(config.mounts, mounts_path=config.path))

    def run(self, task: str, subcommand: str, args: list[str], worker="cv") -> int:
        """Run the task, streaming its output live, and return its exit code."""
        if shutil.which(self.python) is None and not os.path.exists(self.python):
            print(f"error: worker interpreter {self.python!r} not found (set TAO_WORKER_PYTHON)", file=sys.stderr)
            return 127
        args, gpus = split_gpu_flags(args)
        env = dict(os.environ)
        args = self.map_container_paths(args, env)
        if gpus.indices:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(gpus.indices)
        elif gpus.count not in (None, "all") and "CUDA_VISIBLE_DEVICES" not in env:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(str(i) for i in range(int(gpus.count)))
        proc = subprocess.Popen(self.command(task, subcommand, [*args, *worker_gpu_args(gpus, subcommand)], worker),
                                env=env)
        # SIGTERM to the launcher (a scheduler, `kill`) is passed on: the worker records FAILURE and stops.
        previous = signal.signal(signal.SIGTERM, lambda signum, frame: proc.send_signal(signal.SIGTERM))
        try:
            return proc.wait()
        except KeyboardInterrupt:
            # From a terminal the worker got the same SIGINT and is writing its FAILURE status: give it time. A SIGINT
            # sent to the launcher alone (`kill -INT`) did not reach it: then pass it on as SIGTERM, which the worker
            # records as a FAILURE too, before killing it.
            for wait_s, then in ((2, signal.SIGTERM), (10, signal.SIGKILL)):
                try:
                    return proc.wait(timeout=wait_s)
                except subprocess.TimeoutExpired:
                    proc.send_signal(then)
            proc.wait()
            return 130
        finally:
            signal.signal(signal.SIGTERM, previous)
