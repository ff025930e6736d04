"""Multi-process training on PyTorch's own machinery: torchrun (torch.distributed.run) starts the processes,
DistributedDataParallel syncs gradients, DistributedSampler shards the data.

Two halves:
- `launch`: the `train` command, asked for more than one process (--gpus N, --nproc_per_node N, --num_nodes N),
  hands the same command line to torchrun and turns a failed rank into one clear error.
- the rest: what each process started by torchrun needs — its rank (from torchrun's environment), the process
  group (nccl on CUDA, gloo on CPU), the DDP wrapper, reductions. In a plain single process they are no-ops,
  so the engine has one code path.
"""

import argparse
import datetime
import json
import os
import re
import signal
import sys
import time

import torch
import torch.distributed as dist
from rich.markup import escape

from tao_inference.errors import UserError

# Validation runs on rank 0 over the whole val set while the other ranks wait in a collective: allow it time.
COLLECTIVE_TIMEOUT = datetime.timedelta(minutes=60)
# Exit code of a rank whose collective failed because another process of the run went away: that one's failure
# is the one to report (`report_failures` names this rank as stopped as a result, not as a cause).
LOST_PEER_EXIT = 3
# What gloo (plain RuntimeError) and NCCL say when the other end of a collective is gone.
_LOST_PEER_TEXT = re.compile(r"by peer|Broken pipe|remote process exited|communicator was aborted", re.IGNORECASE)
NODE_ENV = {"num_nodes": ("NUM_NODES", "WORLD_SIZE"), "node_rank": ("NODE_RANK",),
            "master_addr": ("MASTER_ADDR",), "master_port": ("MASTER_PORT",)}


# ---------------------------------------------------------------- in every process

def in_worker_process():
    """True inside a process that torchrun started (it sets LOCAL_RANK and the run id)."""
    return "LOCAL_RANK" in os.environ and "TORCHELASTIC_RUN_ID" in os.environ


def world_size():
    return int(os.environ.get("WORLD_SIZE", 1)) if in_worker_process() else 1


def rank():
    return int(os.environ.get("RANK", 0)) if in_worker_process() else 0


def local_rank():
    return int(os.environ.get("LOCAL_RANK", 0)) if in_worker_process() else 0


def is_main():
    return rank() == 0


def init_process_group(device):
    """Join the run's process group once (nccl for CUDA tensors, gloo for CPU ones); no-op for one process."""
    if world_size() > 1 and not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)  # NCCL collectives (e.g. broadcast_object_list) use the current device
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=COLLECTIVE_TIMEOUT,
                                device_id=device if device.type == "cuda" else None)


def close(synchronize=False):
    """Leave the process group. After a successful run (`synchronize`) every rank first waits for the others, so
    none tears down its connections while a peer is still busy (rank 0 writing files). Not on failure: the peers
    may be gone."""
    if dist.is_initialized():
        if synchronize:
            dist.barrier()
        dist.destroy_process_group()


def exit_process(code):
    """End this process with `code`. A process of a multi-process run skips the interpreter's teardown (os._exit,
    once its output is flushed): after a gloo run, torch's C++ teardown at exit now and then aborts with
    "terminate called without an active exception" (SIGABRT, no Python frame left; ~1 run in 40 under load),
    which turned a finished run into a failed one. Every file the task writes is closed by then."""
    if world_size() > 1:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def wrap(model, device, find_unused_parameters=False):
    """The model as DistributedDataParallel when there is more than one process, else unchanged."""
    if world_size() == 1:
        return model
    init_process_group(device)
    return torch.nn.parallel.DistributedDataParallel(
        model, device_ids=[device.index] if device.type == "cuda" else None,
        find_unused_parameters=find_unused_parameters)


def unwrap(model):
    return model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model


def sum_across_ranks(tensor):
    if world_size() > 1:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def from_rank0(obj):
    """`obj` as rank 0 has it, on every rank (e.g. the validation metrics only rank 0 computes)."""
    if world_size() == 1:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def train_sampler(dataset, seed):
    """Shuffling sampler that gives each rank its own 1/world share; reseeded per epoch with `set_epoch`.
    Used for one process too, so N processes with batch b see the same global batches as one with N x b."""
    return torch.utils.data.DistributedSampler(dataset, num_replicas=world_size(), rank=rank(), shuffle=True,
                                               seed=seed)


def quiet_other_ranks():
    """Only rank 0 talks: other ranks' progress and data warnings would repeat it. Errors still reach stderr."""
    if not is_main():
        import warnings

        sys.stdout = open(os.devnull, "w")
        warnings.simplefilter("ignore")


def record_error(message):
    """Leave `message` where torchrun's failure report (and so `launch`) finds it."""
    path = os.environ.get("TORCHELASTIC_ERROR_FILE")
    if path and in_worker_process():
        with open(path, "w") as fp:
            json.dump({"message": message, "timestamp": int(time.time())}, fp)


def lost_peer(exc):
    """True when `exc` is a collective (or the rendezvous store) failing because another process of a
    multi-process run died or was killed, rather than a fault of this process."""
    if world_size() == 1:
        return False
    return isinstance(exc, (dist.DistNetworkError, dist.DistStoreError)) or bool(_LOST_PEER_TEXT.search(str(exc)))


# ---------------------------------------------------------------- the launching process

def add_arguments(parser):
    """TAO's multi-GPU/multi-node flags (the environment TAO 6 reads gives the node defaults)."""
    group = parser.add_argument_group("multi-GPU / multi-node (torchrun)")
    group.add_argument("--gpus", help="processes on this node, one per GPU: a number or 'all' (default 1)")
    group.add_argument("--gpu_index", help="GPUs to use, e.g. 0,2 (one process each)")
    group.add_argument("--nproc_per_node", type=bounded_int(1),
                       help="processes on this node whatever the device (e.g. 2 CPU processes, gloo)")
    group.add_argument("--num_nodes", type=bounded_int(1), help="machines in the run (env NUM_NODES or WORLD_SIZE; default 1)")
    group.add_argument("--node_rank", type=bounded_int(0), help="this machine's index, 0 = master (env NODE_RANK)")
    group.add_argument("--master_addr", help="address of node 0 (env MASTER_ADDR; default 127.0.0.1)")
    group.add_argument("--master_port", type=bounded_int(1, 65535), help="free TCP port on node 0 (env MASTER_PORT; default 29500)")


def bounded_int(low, high=None):
    """An argparse type: an integer in [low, high], else argparse's error naming the flag and the range."""

    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{value} is out of range; expected {low}"
                                             + (f" to {high}" if high is not None else " or more"))
        return value

    return parse


def _from_env(name, kind=str):
    for variable in NODE_ENV[name]:
        value = os.environ.get(variable)
        if value:
            try:
                return kind(value)
            except ValueError:
                raise UserError(f"environment {variable}={value!r}: expected {kind.__name__}") from None
    return None


def plan(args):
    """{nproc_per_node, num_nodes, node_rank, master_addr, master_port} for this run, or None when the run is one
    process here (or this already is a torchrun process)."""
    if in_worker_process():
        return None
    if args.gpu_index:
        indices = [part.strip() for part in args.gpu_index.split(",") if part.strip()]
        if not indices or not all(part.isdigit() for part in indices):
            raise UserError(f"--gpu_index {args.gpu_index}: expected GPU numbers separated by commas, e.g. 0,2")
        os.environ.setdefault("CUDA_VISIBLE_DEVICES", ",".join(indices))
        gpus = len(indices)
    elif args.gpus in (None, "all"):
        gpus = torch.cuda.device_count() if args.gpus == "all" else None
    elif args.gpus.isdigit() and int(args.gpus) > 0:
        gpus = int(args.gpus)
    else:
        raise UserError(f"--gpus {args.gpus}: expected a positive number or 'all'")
    if gpus is not None and gpus > 1:
        visible = torch.cuda.device_count()
        if visible == 0:
            raise UserError(f"{gpus} GPUs asked for (--gpus/--gpu_index) but no CUDA device is visible; to train "
                            f"with {gpus} CPU processes use --nproc_per_node {gpus}")
        if gpus > visible:
            raise UserError(f"{gpus} GPUs asked for but only {visible} visible; lower --gpus")
    if args.nproc_per_node is not None and args.nproc_per_node < 1:
        raise UserError(f"--nproc_per_node {args.nproc_per_node}: must be at least 1")
    nproc = args.nproc_per_node or gpus or 1
    num_nodes = args.num_nodes or _from_env("num_nodes", int) or 1
    node_rank = args.node_rank if args.node_rank is not None else (_from_env("node_rank", int) or 0)
    if not 0 <= node_rank < num_nodes:
        raise UserError(f"--node_rank {node_rank}: must be between 0 and {num_nodes - 1} (--num_nodes {num_nodes})")
    if nproc * num_nodes == 1:
        return None
    master_addr = args.master_addr or _from_env("master_addr")
    master_port = args.master_port or _from_env("master_port", int)
    if num_nodes > 1 and not master_addr:
        raise UserError(f"--num_nodes {num_nodes}: every node needs --master_addr (node 0's address) and the "
                        "same --master_port")
    return {"nproc_per_node": nproc, "num_nodes": num_nodes, "node_rank": node_rank,
            "master_addr": master_addr or "127.0.0.1", "master_port": master_port}


def torchrun_argv(run, worker_argv):
    """torchrun's own command line for `python -m tao_cv <worker_argv>` under `run` (from `plan`)."""
    argv = ["--nnodes", str(run["num_nodes"]), "--nproc_per_node", str(run["nproc_per_node"]), "--max_restarts", "0"]
    if run["num_nodes"] == 1 and run["master_port"] is None:
        argv.append("--standalone")  # one machine: torchrun picks a free port itself
    else:
        argv += ["--node_rank", str(run["node_rank"]), "--master_addr", run["master_addr"],
                 "--master_port", str(run["master_port"] or 29500)]
    return [*argv, "-m", "tao_cv", *worker_argv]


def launch(run, worker_argv):
    """Run `python -m tao_cv <worker_argv>` in nproc_per_node processes per node under torchrun. Returns the exit
    code: 0, 2 when every failed rank stopped on a user error (message printed once), 130 interrupted, else 1."""
    import logging

    from rich.console import Console
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args
    from torch.distributed.run import run as torchrun

    err = Console(stderr=True, soft_wrap=True, highlight=False)
    logging.getLogger("torch.distributed").setLevel(logging.CRITICAL)  # we report failures ourselves, once
    os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // run["nproc_per_node"])))
    processes = run["nproc_per_node"] * run["num_nodes"]
    print(f"torchrun: {run['nproc_per_node']} process(es) on this node, {run['num_nodes']} node(s), "
          f"{processes} in all" + (f"; node {run['node_rank']}, master {run['master_addr']}:{run['master_port'] or 29500}"
                                   if run["num_nodes"] > 1 else ""), flush=True)
    try:
        torchrun(parse_args(torchrun_argv(run, worker_argv)))
    except ChildFailedError as exc:
        return report_failures(exc.failures, processes, run["nproc_per_node"], err)
    except SignalException:
        err.print("interrupted")
        return 130
    return 0


def report_failures(failures, processes, nproc_per_node, err):
    """Print which rank failed and why (once per distinct reason); return the run's exit code: 2 when every
    failing rank stopped on a user error, else 1. Ranks stopped because of it are named as such, not as causes:
    those still running when torchrun saw the failure (it lists only the ranks that had ended, then stops the
    rest), those that handled its SIGTERM (exit 130) or did not get to (killed by SIGTERM), and those whose
    collective failed because the failed rank went away (LOST_PEER_EXIT). When a rank lost its peers and no rank
    here failed, the cause is elsewhere (another node, the network): that is what is reported."""
    first_here = min(global_rank - failure.local_rank for global_rank, failure in failures.items())
    stopped = [r for r in range(first_here, first_here + nproc_per_node) if r not in failures]
    causes, lost = {}, {}
    for global_rank, failure in sorted(failures.items()):
        recorded = "message" in failure.error_file_data and isinstance(failure.message, str)  # by record_error
        if failure.exitcode in (130, -signal.SIGTERM):  # torchrun stops the other ranks with SIGTERM
            stopped.append(global_rank)
        elif failure.exitcode == LOST_PEER_EXIT:
            lost[global_rank] = failure.message if recorded else "a collective failed"
        elif failure.exitcode < 0:
            causes.setdefault(f" was killed by {failure.signal_name()}", []).append(global_rank)
        elif recorded:
            causes.setdefault(": " + failure.message, []).append(global_rank)
        else:
            causes.setdefault(f" exited with code {failure.exitcode}", []).append(global_rank)
    if lost and not causes:
        first = next(iter(lost.values()))
        causes[f" lost contact with the other processes ({first}); a process on another node failed or the "
               "network dropped: see that node's output"] = sorted(lost)
    else:
        stopped = sorted(stopped + list(lost))
    for text, ranks in causes.items():
        err.print(f"[bold red]error:[/] {_ranks(ranks)} (of {processes}){escape(text)}")
    if stopped:
        err.print(f"{_ranks(stopped)} stopped " + ("as a result" if causes else "(interrupted)"))
    failed = [failures[r] for ranks in causes.values() for r in ranks]
    if failed and all(f.exitcode == 2 for f in failed):
        return 2
    err.print("train.resume (on by default) continues from checkpoints/latest.pth when the same command is run again")
    return 1


def _ranks(ranks):
    return f"rank {ranks[0]}" if len(ranks) == 1 else "ranks " + ", ".join(map(str, ranks))
