"""`tao` — the host CLI. `tao model|deploy|dataset <task> <subcommand> [args]` as TAO 5 spells it (`tao <task> ...`
is short for `tao model <task> ...`) picks a runtime (a worker container, or the worker on this machine) and runs
the task there with the group's worker, returning its exit code. `tao info`, `tao list` and `tao stop` look after
the runtimes and their containers."""

import argparse
import os
import subprocess
import sys

from . import __version__
from .errors import LauncherError
from .runtimes import RUNTIME_NAMES, choose_runtime
from .tasks import GROUPS, TASKS


def _overview():
    lines = [f"tao {__version__} — TAO-compatible transfer learning for computer vision", "",
             "usage: tao [--runtime {auto,docker,local}] [model|deploy|dataset] <task> <subcommand> [args]",
             "       (tao <task> ... is short for tao model <task> ...)",
             "       tao info | tao list | tao stop (--container_id ID ... | --all)",
             "       tao pipeline -e pipeline.yaml [-r RESULTS_DIR] [--from STEP] [key=value ...]  (train -> prune ->",
             "                    retrain -> export -> INT8 -> benchmark -> report, resumable; tao pipeline --help)",
             "       tao <group> --help | tao <task> --help | tao <task> <subcommand> --help"]
    for group in GROUPS:
        lines += ["", _group_help(group, indent="  ")]
    lines += ["", "global options:",
              "  --runtime R      auto (default): Docker when an engine runs and the task's image is built, else this",
              "                   machine; docker; local. TAO_DOCKER_DISABLE=1 forces local",
              "task flags the launcher handles: --gpus N|all, --gpu_index 0,2 (GPUs given to the task; train",
              "                   starts one process per GPU), with train: --num_nodes N --node_rank R",
              "                   --master_addr A --master_port P (multi-node), --nproc_per_node N (CPU processes)",
              "mounts: ~/.tao_mounts.json (LAUNCHER_MOUNTS=FILE); images: ~/.tao/config.json, TAO_DOCKER_REGISTRY",
              "  --version        print the version",
              "", "docs: README.md and docs/architecture.md in the source tree"]
    return "\n".join(lines)


GROUP_SUMMARIES = {"model": "train, evaluate, prune, export (the cv worker)",
                   "deploy": "run exported models (the deploy worker: no PyTorch)",
                   "dataset": "data tools: convert, augment, sample data (the cv worker)"}


def _group_help(group, indent=""):
    lines = [f"{indent}tao {group} <task> <subcommand> — {GROUP_SUMMARIES[group]}:"]
    for task in GROUPS[group].values():
        lines.append(f"{indent}  {task.name:<16} {task.summary}")
        for sub, summary in task.subcommands.items():
            lines.append(f"{indent}      {sub:<16} {summary}")
    return "\n".join(lines)


def _task_help(task, group):
    prefix = "" if group == "model" else f"{group} "
    lines = [f"usage: tao {prefix}{task.name} <subcommand> [args]", "", task.summary, "", "subcommands:"]
    lines += [f"  {sub:<16} {summary}" for sub, summary in task.subcommands.items()]
    lines += ["", f"tao {prefix}{task.name} <subcommand> --help shows its flags"]
    return "\n".join(lines)


def info(runtime_name):
    from .images import DEFAULT_IMAGES, image_for
    from .mounts import load_mounts
    from .runtimes.docker import connect, image_present

    print(f"tao {__version__}")
    client, why_not = connect()
    if client is None:
        print(f"docker engine: {why_not}")
    else:
        version = client.version()
        print(f"docker engine: {version.get('Version')} (API {version.get('ApiVersion')})")
        for worker in DEFAULT_IMAGES:
            image = image_for(worker)
            print(f"image for '{worker}': {image} — {'found' if image_present(client, image) else 'not built'}")
    try:
        config = load_mounts()
        if config.exists:
            print(f"mounts file: {config.path} — {len(config.mounts)} mount(s)")
            for mount in config.mounts:
                print(f"  {mount.source} -> {mount.destination}")
        else:
            print(f"mounts file: {config.path} — not found (containers then see no host folder)")
    except LauncherError as exc:
        print(f"mounts file: INVALID — {exc}")
    runtime, reason, _ = choose_runtime(runtime_name)
    print(f"runtime: {reason}")
    sys.stdout.flush()
    # Devices are what the worker sees: ask it, through the same runtime that would run a task.
    if runtime.name == "docker":
        print("worker (in its container):", flush=True)
        return runtime.run_worker("cv", ["info"], [], label="info")
    print(f"worker command: {' '.join(runtime.worker_command())}")
    result = subprocess.run([*runtime.worker_command(), "info"], capture_output=True, text=True)
    if result.returncode != 0:
        print("devices: unknown — the worker could not start:\n  " + (result.stderr.strip().splitlines() or ["?"])[-1])
        return 1
    print("worker:\n  " + "\n  ".join(result.stdout.strip().splitlines()))
    return 0


def list_containers():
    from .runtimes.docker import connect, task_containers

    client, why_not = connect()
    if client is None:
        raise LauncherError(f"tao list: {why_not}")
    containers = task_containers(client)
    if not containers:
        print("no task containers running")
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table("container id", "task", "image", "status", "started")
    for container in containers:
        image = container.attrs.get("Config", {}).get("Image", "?")
        table.add_row(container.short_id, container.labels.get("tao-toolkit-oss.task", "?"), image,
                      container.status, container.attrs.get("State", {}).get("StartedAt", "")[:19])
    Console().print(table)
    return 0


def stop_containers(argv):
    from .runtimes.docker import STOP_TIMEOUT_S, connect, task_containers

    parser = argparse.ArgumentParser(prog="tao stop", description="Stop task containers started by tao.")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--container_id", nargs="+", help="IDs (or unique prefixes) as `tao list` shows them")
    group.add_argument("--all", action="store_true", help="every running task container")
    args = parser.parse_args(argv)
    client, why_not = connect()
    if client is None:
        raise LauncherError(f"tao stop: {why_not}")
    running = task_containers(client)
    if args.all:
        chosen = running
    else:
        chosen = []
        for wanted in args.container_id:
            matches = [c for c in running if c.id.startswith(wanted)]
            if len(matches) != 1:
                known = ", ".join(c.short_id for c in running) or "none running"
                raise LauncherError(f"tao stop: container id '{wanted}' matches {len(matches)} task containers "
                                    f"(running: {known}; see tao list)")
            chosen += matches
    for container in chosen:
        container.stop(timeout=STOP_TIMEOUT_S)
        print(f"stopped {container.short_id} ({container.labels.get('tao-toolkit-oss.task', '?')})")
    if not chosen:
        print("no task containers running")
    return 0


def main(argv=None):
    try:
        return _main(list(sys.argv[1:] if argv is None else argv))
    except BrokenPipeError:  # `tao ... | head`: the reader left; not an error worth a traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _main(argv):
    # Global options only count before the task name; everything after it belongs to the task.
    split = next((i for i, arg in enumerate(argv) if not arg.startswith("-") and (i == 0 or argv[i - 1] != "--runtime")), len(argv))
    parser = argparse.ArgumentParser(prog="tao", add_help=False)
    parser.add_argument("--runtime", choices=RUNTIME_NAMES, default="auto")
    parser.add_argument("--version", action="store_true")
    parser.add_argument("-h", "--help", action="store_true")
    options, unknown = parser.parse_known_args(argv[:split])
    if unknown:
        print(f"error: unknown option {unknown[0]} (tao --help lists the global options)", file=sys.stderr)
        return 2
    rest = argv[split:]
    if options.version:
        print(f"tao {__version__}")
        return 0
    if not rest:
        print(_overview())
        return 0 if options.help else 2
    group = "model"
    if rest and rest[0] in GROUPS:
        group, rest = rest[0], rest[1:]
        if not rest or rest[0] in ("-h", "--help"):
            print(_group_help(group))
            return 0 if rest else 2
    try:
        return _dispatch(options, rest, group)
    except LauncherError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _dispatch(options, rest, group="model"):
    command = rest[0]
    tasks = GROUPS[group]
    if command in ("info", "list") and rest[1:]:
        if rest[1] in ("-h", "--help"):
            print(_overview())
            return 0
        raise LauncherError(f"tao {command} takes no arguments (got '{' '.join(rest[1:])}'); tao --help shows the usage")
    if command == "info":
        return info(options.runtime)
    if command == "list":
        return list_containers()
    if command == "stop":
        return stop_containers(rest[1:])
    if command == "pipeline":
        from .pipeline import run

        return run(rest[1:], options.runtime)
    if command not in tasks:
        print(f"error: unknown task '{command}' in `tao {group}`; tasks: {', '.join(tasks)} (tao {group} --help "
              "lists them)", file=sys.stderr)
        return 2
    task = tasks[command]
    if task.default_subcommand and len(rest) >= 2 and rest[1].startswith("-") and rest[1] not in ("-h", "--help"):
        rest = [rest[0], task.default_subcommand, *rest[1:]]
    if len(rest) < 2 or rest[1] in ("-h", "--help"):
        print(_task_help(task, group))
        return 0 if len(rest) >= 2 else 2
    subcommand = rest[1]
    if subcommand not in task.subcommands:
        print(f"error: `tao {group} {task.name}` has no subcommand '{subcommand}'; choose one of: "
              f"{', '.join(task.subcommands)}", file=sys.stderr)
        return 2
    runtime, reason, fell_back = choose_runtime(options.runtime, task.worker)
    if fell_back:
        print(f"tao: runtime {reason}", file=sys.stderr)
    return runtime.run(task.name, subcommand, rest[2:], worker=task.worker)


if __name__ == "__main__":
    sys.exit(main())
