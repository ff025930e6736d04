"""The Docker runtime: a task runs as the command of a fresh container of its worker image (no detached
container + `docker exec`), with the mounts of `~/.tao_mounts.json`, as the invoking user, its output streamed
live, its exit code returned; Ctrl-C (or SIGTERM) stops and removes the container."""

import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from ..errors import LauncherError
from ..gpus import DISTRIBUTED_ENV, docker_device_requests, split_gpu_flags, worker_gpu_args
from ..images import image_for
from ..mounts import load_mounts
from ..paths import PathTranslator, translate_args, translate_spec_text

LABEL = "tao-toolkit-oss.task"  # on every task container: `tao list` / `tao stop` find them by it
DEFAULT_SHM_SIZE = "8g"  # DataLoader workers pass batches through /dev/shm (Docker's default is 64 MB)
STOP_TIMEOUT_S = 10


def connect(timeout=5):
    """(client, None) when a Docker engine answers, else (None, one-line reason)."""
    try:
        import docker

        client = docker.from_env(timeout=timeout)
        client.ping()
        return client, None
    except Exception as exc:  # DockerException, connection errors, a missing socket ...
        host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        detail = str(exc).split("(")[-1].rstrip(")") if "(" in str(exc) else str(exc)
        return None, f"no Docker engine reachable at {host} ({detail.strip() or type(exc).__name__})"


def image_present(client, image):
    import docker

    try:
        client.images.get(image)
        return True
    except docker.errors.ImageNotFound:
        return False


def nvidia_available(client):
    """Whether the engine can hand GPUs to containers (NVIDIA runtime or container toolkit present)."""
    runtimes = (client.info() or {}).get("Runtimes", {})
    return "nvidia" in runtimes or any(shutil.which(tool) for tool in ("nvidia-container-runtime-hook",
                                                                          "nvidia-container-cli", "nvidia-ctk"))


def missing_image_message(image, worker):
    return (f"Docker image {image} (the '{worker}' worker) is not on this machine. Build it from the source tree "
            f"with `docker compose build {worker}`, `docker pull` it, or run on this machine with --runtime local")


def task_containers(client, all_states=False):
    return client.containers.list(all=all_states, filters={"label": LABEL})


class _StopRequested(Exception):
    pass


class DockerRuntime:
    name = "docker"

    def __init__(self, client):
        self.client = client

    def run(self, task, subcommand, args, worker="cv"):
        import docker

        try:
            return self.run_worker(worker, [task, subcommand], args, label=f"{task} {subcommand}")
        except docker.errors.APIError as exc:
            raise LauncherError(f"the Docker engine refused to run the task: {exc.explanation or exc}") from None

    def run_worker(self, worker, head, args, label):
        """Run `head + args` in the worker's image; return its exit code."""
        from docker.types import Mount, Ulimit

        config = load_mounts()
        args, gpus = split_gpu_flags(args)
        args += worker_gpu_args(gpus, head[1] if len(head) > 1 else "")
        translator = PathTranslator(config.mounts, mounts_path=config.path)
        args, specs = translate_args(args, translator)
        image = image_for(worker)
        if not image_present(self.client, image):
            raise LauncherError(missing_image_message(image, worker))
        mounts = [Mount(str(m.destination), str(m.source), type="bind") for m in config.mounts]
        spec_dir = Path(tempfile.mkdtemp(prefix="tao-specs-"))
        try:
            for index, (host, container_path) in enumerate(specs):
                if not host.is_file():
                    raise LauncherError(f"-e {host}: spec file not found")
                copy = spec_dir / f"{index}-{host.name}"
                copy.write_text(translate_spec_text(host, translator))
                copy.chmod(0o644)
                mounts.append(Mount(container_path, str(copy), type="bind", read_only=True))
            options = config.docker_options
            tty = options.get("tty", sys.stdout.isatty())
            container = self.client.containers.create(
                image, command=[*head, *args], labels={LABEL: label},
                user=options.get("user") or f"{os.getuid()}:{os.getgid()}",
                environment={**{k: os.environ[k] for k in DISTRIBUTED_ENV if k in os.environ}, **config.envs},
                working_dir=translator.working_dir(), mounts=mounts,
                shm_size=options.get("shm_size", DEFAULT_SHM_SIZE),
                ulimits=[Ulimit(name=name, soft=value, hard=value) for name, value in options.get("ulimits", {}).items()],
                ports=options.get("ports"), privileged=options.get("privileged", False),
                network_mode=options.get("network"), tty=tty, init=True, stop_signal="SIGINT",
                device_requests=docker_device_requests(gpus, nvidia_available(self.client)))
            return self._run_attached(container, tty)
        finally:
            shutil.rmtree(spec_dir, ignore_errors=True)

    def _run_attached(self, container, tty):
        def stop_requested(signum, frame):
            raise _StopRequested()

        previous = {sig: signal.signal(sig, stop_requested) for sig in (signal.SIGTERM, signal.SIGHUP)}
        try:
            container.start()
            for chunk in container.attach(stdout=True, stderr=True, stream=True, logs=True, demux=not tty):
                out, err = (chunk, None) if tty else chunk
                for data, stream in ((out, sys.stdout), (err, sys.stderr)):
                    if data:
                        stream.buffer.write(data)
                        stream.flush()
            return container.wait()["StatusCode"]
        except (KeyboardInterrupt, _StopRequested):
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not skip the clean-up
            print(f"\nstopping container {container.short_id} ...", file=sys.stderr)
            container.stop(timeout=STOP_TIMEOUT_S)  # SIGINT first (the worker records FAILURE), SIGKILL after
            return 130
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            try:
                container.remove(force=True)
            finally:
                signal.signal(signal.SIGINT, signal.default_int_handler)
