"""The `evaluate` and `inference` subcommands, written once for every task and every worker: the cv worker opens
checkpoints and ONNX models, the deploy worker ONNX models (and engines); both run the same code after that."""

from pathlib import Path

from rich.console import Console

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


def _open_checked(task, open_model, path):
    predictor = open_model(path)
    check_task(task.name, predictor.info, path)
    return predictor


def evaluate(task, args, open_model):
    spec = load_spec(task.spec_class, args.experiment_spec, args.overrides)
    results_dir = Path(args.results_dir or Path(spec.results_dir) / "evaluate")
    with run_status(results_dir, "evaluation") as status:
        path = _model_path(args, spec.evaluate.checkpoint, args.model_kinds)
        predictor = _open_checked(task, open_model, path)
        status.kpi = task.kind.evaluate(predictor, spec, results_dir, str(path), console)


def inference(task, args, open_model):
    spec = load_spec(task.spec_class, args.experiment_spec, args.overrides)
    results_dir = Path(args.results_dir or Path(spec.results_dir) / "inference")
    with run_status(results_dir, "inference") as status:
        predictor = _open_checked(task, open_model, _model_path(args, spec.inference.checkpoint, args.model_kinds))
        image_dir = args.image_dir or spec.inference.image_dir
        if not image_dir:
            raise UserError("no images given: pass -i IMAGE_DIR or set inference.image_dir")
        status.kpi = task.kind.inference(predictor, spec, image_dir, results_dir, console)


def add_subcommands(subparsers, task, open_model, model_kinds):
    """evaluate and inference of `task`, running models that `open_model(path) -> predictor` opens."""
    p = subparsers.add_parser("evaluate", help=task.kind.EVALUATE_HELP)
    add_spec_arguments(p)
    p.add_argument("-m", "--model", help=model_kinds)
    p.set_defaults(run=lambda args: evaluate(task, args, open_model), model_kinds=model_kinds)
    p = subparsers.add_parser("inference", help=task.kind.INFERENCE_HELP)
    add_spec_arguments(p)
    p.add_argument("-m", "--model", help=model_kinds)
    p.add_argument("-i", "--image_dir", help="folder of images")
    p.set_defaults(run=lambda args: inference(task, args, open_model), model_kinds=model_kinds)


def parse_task_args(parser, argv):
    """Parsed flags; `key=value` overrides may come before and after flags (argparse takes one run only)."""
    args, unknown = parser.parse_known_args(argv)
    late = [a for a in unknown if "=" in a and not a.startswith("-")]
    if late and hasattr(args, "overrides"):
        args.overrides = [*args.overrides, *late]
        unknown = [a for a in unknown if a not in late]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    return args
