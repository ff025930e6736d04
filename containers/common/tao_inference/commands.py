"""The `evaluate` and `inference` subcommands, written once for every task and every worker: the cv worker opens
checkpoints and ONNX models, the deploy worker ONNX models (and engines); both run the same code after that."""

import os
from pathlib import Path

from rich.console import Console

from .data.image_lists import read_image_list
from .errors import UserError
from .spec import load_spec
from .status import run_status

console = Console(soft_wrap=True)


def add_spec_arguments(parser, spec_required=True):
    """-e/-r/-k and `key=value` overrides: the flags of every spec-driven subcommand."""
    parser.add_argument("-e", "--experiment_spec", required=spec_required, help="spec YAML file")
    parser.add_argument("-r", "--results_dir", help="output folder (default: the spec's results_dir)")
    parser.add_argument("-k", "--key", help="accepted for TAO compatibility; models are not encrypted")
    parser.add_argument("overrides", nargs="*", help="spec overrides: section.key=value")


def _model_path(args, spec_value, kinds):
    path = args.model or spec_value
    if not path:
        raise UserError(f"no model given: pass -m MODEL ({kinds})")
    return path


def check_task(task_name, info, path):
    """A model of another task is refused before anything is built from it."""
    if info.task != task_name:
        raise UserError(f"{path} is a {info.task} model; run it with `tao {info.task} ...`, not `tao {task_name}`")


def _open_checked(task, open_model, path, spec):
    predictor = open_model(path, spec)
    check_task(task.name, predictor.info, path)
    return predictor


def results_dir_of(args, model_path, subcommand):
    """-r, else a folder beside the model named after it (`best.pth` -> `best_evaluate/`): evaluating two models
    never overwrites one's results with the other's."""
    if args.results_dir:
        return Path(args.results_dir)
    model = Path(model_path)
    return model.parent / f"{model.stem}_{subcommand}"


def evaluate(task, args, open_model):
    spec = load_spec(task.spec_class, args.experiment_spec, args.overrides)
    path = _model_path(args, spec.evaluate.checkpoint, args.model_kinds)
    results_dir = results_dir_of(args, path, "evaluate")
    with run_status(results_dir, "evaluation") as status:
        predictor = _open_checked(task, open_model, path, spec)
        status.kpi = task.kind.evaluate(predictor, spec, results_dir, str(path), console)


def inference_images(task, spec, args):
    """The images to predict: a split of the spec's dataset (--split), a list file or a folder (-i), else
    inference.image_dir."""
    source = args.image_dir or spec.inference.image_dir
    if args.split:
        if args.image_dir:
            raise UserError(f"pass -i {args.image_dir} or --split {args.split}, not both")
        return task.kind.split_images(spec, args.split)
    if not source:
        raise UserError("no images given: pass -i IMAGE_DIR (or a list file of image paths), --split test, or set "
                        "inference.image_dir")
    flag = "-i" if args.image_dir else "inference.image_dir"
    if Path(source).is_file():
        return read_image_list(source, flag)
    return task.kind.folder_images(source, flag)


def inference(task, args, open_model):
    spec = load_spec(task.spec_class, args.experiment_spec, args.overrides)
    path = _model_path(args, spec.inference.checkpoint, args.model_kinds)
    results_dir = results_dir_of(args, path, "inference")
    with run_status(results_dir, "inference") as status:
        predictor = _open_checked(task, open_model, path, spec)
        paths = inference_images(task, spec, args)
        status.kpi = task.kind.inference(predictor, spec, paths, results_dir, console)


def benchmark(task, args, open_model, more_models=None):
    """The benchmark table of the models given (`more_models(args, spec, results_dir)`: formats the worker builds
    itself, e.g. TensorRT engines; each a path to measure or a row saying why it could not be made)."""
    from .benchmark import finish, measure, write_tables

    spec = load_spec(task.spec_class, args.experiment_spec, args.overrides)
    results_dir = Path(args.results_dir) if args.results_dir else Path(args.model[0]).parent / "benchmark"
    with run_status(results_dir, "benchmark") as status:
        paths = task.kind.split_images(spec, spec.evaluate.split)
        models = list(args.model) + (more_models(args, spec, results_dir) if more_models else [])
        rows = []
        for model in models:
            if isinstance(model, dict):
                rows.append(model)
                continue
            console.print(f"benchmark: {model}")
            rows.append(measure(task, spec, model, open_model, results_dir / "evaluations", args.batch_size,
                                args.runs, args.warmup, paths))
        finish(rows, args.batch_size)
        metric = next((row["metric name"] for row in rows if row.get("metric name")), "metric")
        write_tables(rows, results_dir, args.batch_size, metric, console)
        status.kpi = {row["format"]: row["metric"] for row in rows if row.get("metric") is not None}


def add_benchmark(subparsers, task, open_model, model_kinds, more_models=None):
    p = subparsers.add_parser("benchmark", help="one table across formats: metric, size, latency at batch 1 and N")
    add_spec_arguments(p)
    p.add_argument("-m", "--model", action="append", required=True,
                   help=f"{model_kinds}; repeat -m for each format (rows in this order)")
    p.add_argument("--batch_size", type=int, default=8, help="the batch N of the second latency (default 8)")
    p.add_argument("--runs", type=int, default=20, help="timed calls per latency (median; default 20)")
    p.add_argument("--warmup", type=int, default=5, help="untimed calls first (default 5)")
    p.set_defaults(run=lambda args: benchmark(task, args, open_model, more_models), model_kinds=model_kinds)
    return p


def add_subcommands(subparsers, task, open_model, model_kinds):
    """evaluate and inference of `task`, running models that `open_model(path, spec) -> predictor` opens."""
    p = subparsers.add_parser("evaluate", help=task.kind.EVALUATE_HELP)
    add_spec_arguments(p)
    p.add_argument("-m", "--model", help=f"{model_kinds}; results go to -r, else beside it (MODEL_evaluate/)")
    p.set_defaults(run=lambda args: evaluate(task, args, open_model), model_kinds=model_kinds)
    p = subparsers.add_parser("inference", help=task.kind.INFERENCE_HELP)
    add_spec_arguments(p)
    p.add_argument("-m", "--model", help=model_kinds)
    p.add_argument("-i", "--image_dir", help="folder of images, or a text file listing image paths (one per line, "
                                             "relative to the file's folder)")
    p.add_argument("--split", choices=("train", "val", "test"), help="predict this split of the spec's dataset")
    p.set_defaults(run=lambda args: inference(task, args, open_model), model_kinds=model_kinds)


def add_report(subparsers):
    """`report -r RESULTS_DIR`: the page of a `tao pipeline` run (tao_inference/report.py)."""
    from .report import write_report

    p = subparsers.add_parser("report", help="report.html + report.md of a `tao pipeline` results dir")
    p.add_argument("-r", "--results_dir", required=True, help="the pipeline's RESULTS_DIR")
    p.set_defaults(run=lambda args: write_report(args.results_dir, console))
    return p


ALLOW_UNMAPPED_FLAG = "--allow_unmapped"  # any subcommand with -e: run a TAO spec without the keys it cannot map


def parse_task_args(parser, argv):
    """Parsed flags; `key=value` overrides may come before and after flags (argparse takes one run only)."""
    if ALLOW_UNMAPPED_FLAG in argv:  # an environment variable, so that torchrun's processes inherit it
        argv = [a for a in argv if a != ALLOW_UNMAPPED_FLAG]
        os.environ["TAO_ALLOW_UNMAPPED"] = "1"
    args, unknown = parser.parse_known_args(argv)
    late = [a for a in unknown if "=" in a and not a.startswith("-")]
    if late and hasattr(args, "overrides"):
        args.overrides = [*args.overrides, *late]
        unknown = [a for a in unknown if a not in late]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    return args
