"""`tao pipeline -e pipeline.yaml [-r RESULTS_DIR] [--from STEP] [key=value ...]`: the TAO workflow as named steps,
each one the `tao model|deploy <task> <subcommand>` a user would type, run through the same runtimes.

    train -> evaluate -> prune -> retrain -> evaluate_retrained -> export -> export_int8 -> evaluate_deployed
          -> gen_trt_engine (where TensorRT is) -> benchmark -> report

Each step writes under RESULTS_DIR/<step>/. RESULTS_DIR/pipeline.json records, per step, a digest of what it
depends on — its commands, the spec file's content and the files its inputs are — and whether it finished. A re-run
skips a finished step whose digest is unchanged and whose outputs exist; a step that stopped half-way runs again
(a training resumes from its checkpoints/latest.pth); a step whose settings or inputs changed starts over, as do the
steps after it. `--from STEP` forces that. A failing step stops the pipeline with its exit code; what finished stays.
"""

import argparse
import hashlib
import importlib.util
import json
import os
import shutil
import sys
import time
from pathlib import Path

import yaml

from .errors import LauncherError
from .tasks import DEPLOY_TASKS, MODEL_TASKS

STEPS = ("train", "evaluate", "prune", "retrain", "evaluate_retrained", "export", "export_int8", "evaluate_deployed",
         "gen_trt_engine", "benchmark", "report")
DEFAULTS = {"steps": list(STEPS), "train": {"overrides": []},
            "prune": {"pth": None, "target_macs_ratio": 0.5, "criterion": "l2", "flags": []},
            "retrain": {"epochs": None, "overrides": []}, "int8": {"mode": "ptq", "target": "onnxruntime"},
            "benchmark": {"batch_size": 8}}
KEYS = {"task", "spec", "spec_overrides", "results_dir", *DEFAULTS}


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="tao pipeline", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-e", "--experiment_spec", required=True, help="pipeline YAML (see specs/pipeline/)")
    parser.add_argument("-r", "--results_dir", help="where every step writes (default: the YAML's results_dir)")
    parser.add_argument("--from", dest="start", choices=STEPS, help="run this step and every later one again")
    parser.add_argument("overrides", nargs="*", help="pipeline keys: prune.target_macs_ratio=0.4, int8.mode=qat, ...")
    return parser.parse_args(argv)


def _merge(defaults, given, where):
    merged = dict(defaults)
    for key, value in given.items():
        if key not in defaults:
            raise LauncherError(f"{where}: unknown key '{key}' (known: {', '.join(defaults)})")
        merged[key] = value
    return merged


def load_pipeline(path, overrides):
    """The pipeline YAML with its defaults and `key=value` overrides, checked: errors name the file and key."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise LauncherError(f"-e {path}: no such pipeline file") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise LauncherError(f"{path}{line}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(raw, dict):
        raise LauncherError(f"{path}: a pipeline is a mapping of keys ({', '.join(sorted(KEYS))})")
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise LauncherError(f"override '{item}': write KEY=VALUE, e.g. prune.target_macs_ratio=0.4")
        node = raw
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise LauncherError(f"override '{item}': '{part}' is not a section")
        node[leaf] = yaml.safe_load(value)
    unknown = set(raw) - KEYS
    if unknown:
        raise LauncherError(f"{path}: unknown key '{sorted(unknown)[0]}' (known: {', '.join(sorted(KEYS))})")
    for key in ("task", "spec"):
        if key not in raw:
            raise LauncherError(f"{path}: '{key}' is required (task: the network, e.g. classification; spec: its "
                                "training spec YAML)")
    config = {"task": raw["task"], "spec": raw["spec"], "results_dir": raw.get("results_dir"),
              "spec_overrides": raw.get("spec_overrides") or []}
    if not isinstance(config["spec_overrides"], list) or not all("=" in str(o) for o in config["spec_overrides"]):
        raise LauncherError(f"{path}: 'spec_overrides' is a list of the task spec's key=value (every step gets them), "
                            "e.g. [dataset.root=data]")
    for section, defaults in DEFAULTS.items():
        given = raw.get(section, defaults)
        if section == "steps":
            if not isinstance(given, list) or any(step not in STEPS for step in given):
                raise LauncherError(f"{path}: 'steps' is a list of: {', '.join(STEPS)}")
            config["steps"] = given
        else:
            if not isinstance(given, dict):
                raise LauncherError(f"{path}: '{section}' is a mapping (keys: {', '.join(defaults)})")
            config[section] = _merge(defaults, given, f"{path}: '{section}'")
    if config["task"] not in MODEL_TASKS or "train" not in MODEL_TASKS[config["task"]].subcommands:
        trainable = [name for name, task in MODEL_TASKS.items() if "train" in task.subcommands]
        raise LauncherError(f"{path}: 'task: {config['task']}' is not a network; one of {', '.join(trainable)}")
    if config["int8"]["mode"] not in ("ptq", "qat"):
        raise LauncherError(f"{path}: 'int8.mode' is ptq (calibrated export) or qat (train.enable_qat on the retrain)")
    if config["int8"]["target"] not in ("onnxruntime", "tensorrt"):
        raise LauncherError(f"{path}: 'int8.target' is onnxruntime (uint8 activations, fast on CPUs) or tensorrt "
                            "(symmetric int8, what TensorRT builds INT8 engines from)")
    spec = Path(config["spec"])
    config["spec"] = spec if spec.is_absolute() else (path.parent / spec).resolve()
    if not config["spec"].is_file():
        raise LauncherError(f"{path}: 'spec: {raw['spec']}' — no such file ({config['spec']})")
    return config


class Step:
    """One named step: the task commands it runs (group, subcommand, args), the files it needs and leaves."""

    def __init__(self, name, commands, inputs=(), outputs=(), skip_reason=None, always=False):
        self.name, self.commands, self.skip_reason, self.always = name, commands, skip_reason, always
        self.inputs, self.outputs = [Path(p) for p in inputs], [Path(p) for p in outputs]

    def digest(self, config):
        """What the step depends on: its commands, the spec's text, its input files' contents, its settings."""
        h = hashlib.sha256(json.dumps([self.commands, config.get(self.name)], default=str).encode())
        for path in [config["spec"], *self.inputs]:
            h.update(str(path).encode())
            if path.is_file():
                with path.open("rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        h.update(chunk)
        return h.hexdigest()


def tensorrt_available():
    """The deploy steps need TensorRT where they run: in the deploy image, or installed on this machine."""
    return importlib.util.find_spec("tensorrt") is not None


def build_steps(config, results, runtime_name):
    task, spec = config["task"], str(config["spec"])
    r = Path(results)
    best, retrained = r / "train" / "weights" / "best.pth", r / "retrain" / "weights" / "best.pth"
    pruned = r / "prune" / "model.pth"
    qat = config["int8"]["mode"] == "qat"
    prune = config["prune"]
    threshold = (["-pth", str(prune["pth"])] if prune["pth"] is not None
                 else ["--target_macs_ratio", str(prune["target_macs_ratio"])])
    needs_spec = ["-e", spec] if prune["criterion"] == "taylor" else []
    retrain = [f"model.pruned_model={pruned}", "model.pretrained=null", *config["retrain"]["overrides"]]
    if config["retrain"]["epochs"]:
        retrain.append(f"train.num_epochs={config['retrain']['epochs']}")
    target = f"export.int8_target={config['int8']['target']}"
    if qat:
        retrain += ["train.enable_qat=true", target]
    onnx = {"unpruned": r / "export" / "unpruned.onnx"}
    if not qat:
        onnx["pruned"] = r / "export" / "pruned.onnx"
    int8_name = f"pruned_{'qat' if qat else 'int8'}"
    if "export_int8" in config["steps"]:  # left out for the networks without an INT8 export (Faster/Mask R-CNN)
        onnx[int8_name] = r / "export_int8" / f"{int8_name}.onnx"
    exports = [("model", "export", ["-m", best, "-o", onnx["unpruned"]])]
    if not qat:
        exports.append(("model", "export", ["-m", retrained, "-o", onnx["pruned"]]))
    trt_int8 = config["int8"]["target"] == "tensorrt"
    engines = {name: r / "gen_trt_engine" / f"{name}.engine" for name in onnx if name != int8_name or trt_int8}
    trt_reason = None if runtime_name == "docker" or tensorrt_available() else \
        "TensorRT is not installed here (the deploy image has it; `pip install tensorrt pycuda` on an NVIDIA GPU)"
    steps = [
        Step("train", [("model", "train", ["-e", spec, "-r", r / "train", *config["train"]["overrides"]])],
             outputs=[best]),
        Step("evaluate", [("model", "evaluate", ["-e", spec, "-m", best, "-r", r / "evaluate"])], inputs=[best],
             outputs=[r / "evaluate" / "evaluation.json"]),
        Step("prune", [("model", "prune", ["-m", best, "-o", pruned, *threshold, "--criterion", prune["criterion"],
                                           *needs_spec, *map(str, prune["flags"])])],
             inputs=[best], outputs=[pruned, r / "prune" / "prune_report.json"]),
        Step("retrain", [("model", "train", ["-e", spec, "-r", r / "retrain", *retrain])], inputs=[pruned],
             outputs=[retrained]),
        Step("evaluate_retrained", [("model", "evaluate", ["-e", spec, "-m", retrained, "-r",
                                                           r / "evaluate_retrained"])],
             inputs=[retrained], outputs=[r / "evaluate_retrained" / "evaluation.json"]),
        Step("export", exports, inputs=[best, retrained], outputs=[onnx["unpruned"], *([onnx["pruned"]] if not qat else [])]),
        Step("export_int8", [("model", "export", ["-m", retrained, "-o", r / "export_int8" / f"{int8_name}.onnx",
                                                  "--data_type", "int8", "-e", spec, target])],
             inputs=[retrained], outputs=[r / "export_int8" / f"{int8_name}.onnx"]),
        Step("evaluate_deployed", [("model", "evaluate", ["-e", spec, "-m", path, "-r",
                                                          r / "evaluate_deployed" / name]) for name, path in onnx.items()],
             inputs=list(onnx.values()),
             outputs=[r / "evaluate_deployed" / name / "evaluation.json" for name in onnx]),
        # FP16 engines of the FP32 models; an INT8 engine from the Q/DQ model when its activations are TensorRT's
        Step("gen_trt_engine", [cmd for name in engines for cmd in (
            ("deploy", "gen_trt_engine", ["-m", onnx[name], "--data_type", "int8" if name == int8_name else "fp16",
                                          "--engine_file", engines[name], "-r", r / "gen_trt_engine"]),
            ("deploy", "evaluate", ["-e", spec, "-m", engines[name], "-r", r / "gen_trt_engine" / f"evaluate_{name}"]))],
             inputs=list(onnx.values()), outputs=list(engines.values()), skip_reason=trt_reason),
        Step("benchmark", [("model", "benchmark", ["-e", spec, *[a for p in onnx.values() for a in ("-m", p)],
                                                   "-r", r / "benchmark", "--batch_size",
                                                   str(config["benchmark"]["batch_size"])])],
             inputs=list(onnx.values()), outputs=[r / "benchmark" / "benchmark.csv"]),
        Step("report", [("model", "report", ["-r", r])], outputs=[r / "report.html", r / "report.md"],
             always=True),  # cheap, and it shows every step's latest state
    ]
    chosen = [step for step in steps if step.name in config["steps"]]
    for step in chosen:  # file paths as strings (they go on command lines); the spec's overrides where -e is
        step.commands = [(group, sub, [*map(str, args), *(map(str, config["spec_overrides"]) if "-e" in args else [])])
                         for group, sub, args in step.commands]
    return chosen


def _read_state(path):
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def _write_state(path, state):
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(state, indent=1) + "\n")
    os.replace(tmp, path)


def run(argv, runtime_name="auto"):
    from .runtimes import choose_runtime

    args = parse_args(argv)
    config = load_pipeline(args.experiment_spec, args.overrides)
    results = Path(args.results_dir or config["results_dir"] or "results/pipeline").resolve()
    results.mkdir(parents=True, exist_ok=True)
    state_path = results / "pipeline.json"
    state = _read_state(state_path)
    runtime, reason, fell_back = choose_runtime(runtime_name, "cv")
    if fell_back:
        print(f"tao: runtime {reason}", file=sys.stderr)
    steps = build_steps(config, results, runtime.name)
    tasks = {"model": MODEL_TASKS, "deploy": DEPLOY_TASKS}
    print(f"pipeline {config['task']}: {' -> '.join(s.name for s in steps)}  (results: {results})", flush=True)
    forced = False  # --from STEP: that step and the ones after it run again, from scratch
    for step in steps:
        forced = forced or args.start == step.name
        digest = step.digest(config)  # the inputs' contents: an upstream step that ran again changes them
        record = state.get(step.name, {})
        done = record.get("status") == "SUCCESS" and all(p.exists() for p in step.outputs)
        if step.skip_reason:
            print(f"[{step.name}] skipped: {step.skip_reason}", flush=True)
            state[step.name] = {"status": "SKIPPED", "reason": step.skip_reason}
            _write_state(state_path, state)
            continue
        if done and record.get("digest") == digest and not forced and not step.always:
            print(f"[{step.name}] up to date (its inputs and settings are unchanged)", flush=True)
            continue
        if forced or record.get("digest") not in (None, digest):
            # other settings or inputs: start over, rather than resume a training of something else
            shutil.rmtree(results / step.name, ignore_errors=True)
        start = time.time()
        state[step.name] = {"status": "RUNNING", "digest": digest, "started": start}
        _write_state(state_path, state)
        for group, subcommand, cmd_args in step.commands:
            print(f"[{step.name}] tao {group} {config['task']} {subcommand} {' '.join(cmd_args)}", flush=True)
            task_runtime = runtime
            if group == "deploy":
                task_runtime, _, _ = choose_runtime(runtime_name, DEPLOY_TASKS[config["task"]].worker)
            code = task_runtime.run(config["task"], subcommand, cmd_args,
                                    worker=tasks[group][config["task"]].worker)
            if code != 0:
                state[step.name].update(status="FAILURE", exit_code=code, seconds=round(time.time() - start, 1))
                _write_state(state_path, state)
                print(f"[{step.name}] failed (exit code {code}); the steps before it are kept in {results}. Fix the "
                      f"cause and run the same command again: finished steps are skipped", file=sys.stderr)
                return code
        state[step.name].update(status="SUCCESS", digest=step.digest(config), seconds=round(time.time() - start, 1))
        _write_state(state_path, state)
    report = results / "report.html"
    print(f"pipeline done: {results}" + (f"\nreport: {report} (and report.md)" if report.exists() else ""))
    return 0
