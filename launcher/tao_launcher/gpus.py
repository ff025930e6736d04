"""TAO's GPU flags, `--gpus N|all` and `--gpu_index 0,2`: taken out of a task's arguments by the launcher and
turned into what the runtime needs (Docker device requests, or CUDA_VISIBLE_DEVICES on this machine). A `train`
still gets `--gpus COUNT`: the worker starts one process per GPU (torchrun) on the GPUs it was given."""

from dataclasses import dataclass

from .errors import LauncherError

MULTI_PROCESS_SUBCOMMANDS = ("train",)  # subcommands that start one process per GPU
# The multi-node environment (TAO 6 reads it): passed into the task's container as it is set here.
DISTRIBUTED_ENV = ("NUM_NODES", "WORLD_SIZE", "NODE_RANK", "MASTER_ADDR", "MASTER_PORT")


@dataclass(frozen=True)
class GpuRequest:
    count: str | None = None  # "all" or a number as given; None: no --gpus flag
    indices: tuple = ()  # from --gpu_index

    @property
    def given(self):
        return self.count is not None or bool(self.indices)


def split_gpu_flags(args):
    """Return (args without --gpus/--gpu_index, GpuRequest)."""
    rest, count, indices, index = [], None, (), 0
    while index < len(args):
        flag, eq, inline = args[index].partition("=")
        if flag in ("--gpus", "--gpu_index"):
            if not eq:
                if index + 1 >= len(args):
                    raise LauncherError(f"{flag} needs a value (--gpus 2 | --gpus all | --gpu_index 0,2)")
                index += 1
                inline = args[index]
            if flag == "--gpus":
                if inline != "all" and not (inline.isdigit() and int(inline) > 0):
                    raise LauncherError(f"--gpus {inline}: expected a positive number or 'all'")
                count = inline
            else:
                indices = tuple(part.strip() for part in inline.split(",") if part.strip())
                if not indices or not all(part.isdigit() for part in indices):
                    raise LauncherError(f"--gpu_index {inline}: expected GPU numbers separated by commas, e.g. 0,2")
        else:
            rest.append(args[index])
        index += 1
    request = GpuRequest(count, indices)
    if count not in (None, "all") and indices and int(count) != len(indices):
        raise LauncherError(f"--gpus {count} and --gpu_index {','.join(indices)} disagree: give one, or as many "
                            "indices as GPUs")
    return rest, request


def worker_gpu_args(request: GpuRequest, subcommand: str):
    """The GPU count a multi-process subcommand passes on to the worker (which sees only the GPUs it was given,
    renumbered from 0), e.g. `--gpu_index 2,3` -> `--gpus 2`."""
    if subcommand not in MULTI_PROCESS_SUBCOMMANDS or not request.given:
        return []
    return ["--gpus", str(len(request.indices)) if request.indices else request.count]


def docker_device_requests(request: GpuRequest, nvidia_available: bool):
    """Docker device requests for the NVIDIA runtime. No flag: every GPU when the engine can give GPUs, none
    (CPU-only) otherwise. An explicit flag on an engine without GPU support is an error."""
    from docker.types import DeviceRequest

    if not nvidia_available:
        if request.given:
            raise LauncherError("GPUs were requested (--gpus/--gpu_index) but this Docker engine has no NVIDIA "
                                "runtime (install nvidia-container-toolkit), or leave the flag out to run on CPU")
        return []
    if request.indices:
        return [DeviceRequest(driver="nvidia", device_ids=list(request.indices), capabilities=[["gpu"]])]
    count = -1 if request.count in (None, "all") else int(request.count)
    return [DeviceRequest(driver="nvidia", count=count, capabilities=[["gpu"]])]
