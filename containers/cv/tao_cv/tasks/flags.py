"""The flags of `prune` and `export`, typed and bounded by their spec keys; flags not given come from the spec."""

import argparse
import dataclasses

from tao_inference.spec import describe_bounds, load_spec
from tao_inference.spec.schemas import ExportSpec, PruneSpec

# prune flag -> its key in the spec's `prune` section
PRUNE_FLAGS = {"pruning_threshold": "threshold", "normalizer": "normalizer",
               "equalization_criterion": "equalization_criterion", "pruning_granularity": "granularity",
               "min_num_filters": "min_num_filters", "excluded_layers": "excluded_layers", "criterion": "criterion"}


def resolve_prune_flags(args, schema):
    """Fill each prune flag not given on the command line from the spec's `prune` section (-e), else its default,
    so that a spec's `prune.threshold: 0.5` is not silently ignored. Returns the loaded spec (None without -e)."""
    spec = load_spec(schema, args.experiment_spec, args.overrides) if args.experiment_spec else None
    section = spec.prune if spec else PruneSpec()
    for flag, key in PRUNE_FLAGS.items():
        if getattr(args, flag) is None:
            value = getattr(section, key)
            setattr(args, flag, ",".join(value) if key == "excluded_layers" else value)
    return spec


def _spec_field(schema, name):
    return next(f for f in dataclasses.fields(schema) if f.name == name)


def spec_value_type(schema, name):
    """An argparse `type` for a flag that sets the spec field `schema.name`: that field's type and bounds, so a
    flag is checked as the spec key is (`-pg 0` is refused, not a division by zero)."""
    field = _spec_field(schema, name)
    kind, low, high = type(field.default), field.metadata["min"], field.metadata["max"]

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None
        if (low is not None and value < low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{text} is out of range; expected a value {describe_bounds(low, high)}")
        return value

    return parse


def add_prune_parser(subparsers, run):
    """TAO's prune flags. Each one not given comes from the spec's `prune` section (-e), else its default."""
    p = subparsers.add_parser("prune", help="TAO-style threshold pruning of a trained model")
    p.add_argument("-m", "--model", required=True, help=".pth checkpoint to prune")
    p.add_argument("-o", "--output", required=True, help="pruned model file (.pth)")
    p.add_argument("-e", "--experiment_spec", help="spec whose `prune` section gives the flags not given here")
    p.add_argument("-k", "--key", help="accepted for TAO compatibility")
    defaults = PruneSpec()
    p.add_argument("-pth", "--pruning_threshold", type=spec_value_type(PruneSpec, "threshold"),
                   help=f"default {defaults.threshold}")
    p.add_argument("-n", "--normalizer", choices=_spec_field(PruneSpec, "normalizer").metadata["choices"],
                   help=f"default {defaults.normalizer}")
    p.add_argument("-eq", "--equalization_criterion",
                   choices=_spec_field(PruneSpec, "equalization_criterion").metadata["choices"],
                   help=f"default {defaults.equalization_criterion}")
    p.add_argument("-pg", "--pruning_granularity", type=spec_value_type(PruneSpec, "granularity"),
                   help=f"default {defaults.granularity}")
    p.add_argument("-nf", "--min_num_filters", type=spec_value_type(PruneSpec, "min_num_filters"),
                   help=f"default {defaults.min_num_filters}")
    p.add_argument("-el", "--excluded_layers", help="comma-separated layer names never pruned")
    p.add_argument("--criterion", choices=_spec_field(PruneSpec, "criterion").metadata["choices"],
                   help="channel importance: l2 (TAO's per-layer L2 norm, default), or Torch-Pruning's group_l2, "
                        "taylor (|weight x gradient| on training batches of -e SPEC) or bn_scale (|BN gamma|)")
    target = p.add_mutually_exclusive_group()
    target.add_argument("--target_macs_ratio", type=_fraction, metavar="R",
                        help="instead of -pth: the smallest threshold that leaves at most R of the MACs (counted)")
    target.add_argument("--target_speedup", type=_above_one, metavar="S",
                        help="instead of -pth: the smallest threshold whose model runs S times faster (ONNX Runtime on "
                             "this CPU, measured at --speed_batch_size)")
    p.add_argument("--speed_batch_size", type=int, default=16, help="batch of the --target_speedup timing (default 16)")
    p.add_argument("--sensitivity", action="store_true",
                   help="measure instead of pruning: validation accuracy (-e SPEC) with each group alone pruned to "
                        "--sensitivity_keep of its channels; writes sensitivity.{json,csv,png} beside -o")
    p.add_argument("--sensitivity_keep", type=_fraction, default=0.5, help="fraction of channels kept (default 0.5)")
    p.add_argument("--sensitivity_images", type=int, default=200, help="validation images used (default 200)")
    p.add_argument("--taylor_batches", type=int, default=8, help="training batches scored by --criterion taylor")
    p.add_argument("overrides", nargs="*", help="overrides of the -e spec: section.key=value")
    p.set_defaults(run=run)


def _bounded(low, high, open_low, what):
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not (low < value if open_low else low <= value) or value > high:
            raise argparse.ArgumentTypeError(f"{text} is out of range; expected {what}")
        return value
    return parse


_fraction = _bounded(0.0, 1.0, True, "a fraction above 0 and at most 1 (e.g. 0.5)")
_above_one = _bounded(1.0, 1000.0, True, "a speed-up above 1 (e.g. 2)")


def add_export_parser(subparsers, run):
    p = subparsers.add_parser("export", help="ONNX export; INT8 Q/DQ ONNX and TensorRT calibration cache")
    p.add_argument("-m", "--model", required=True, help=".pth checkpoint to export")
    p.add_argument("-o", "--output", required=True, help="output .onnx file")
    p.add_argument("-e", "--experiment_spec", help="spec (export section, dataset for default calibration images)")
    p.add_argument("-k", "--key", help="accepted for TAO compatibility")
    p.add_argument("--data_type", choices=("fp32", "int8"), default="fp32")
    p.add_argument("--cal_image_dir", help="calibration images (int8)")
    p.add_argument("--cal_cache_file", help="also write a TensorRT calibration cache here (int8)")
    p.add_argument("--gen_ds_config", action="store_true",
                   help="also write DeepStream's nvinfer_config.txt and labels.txt beside the model")
    p.add_argument("--gen_triton_repo", metavar="DIR", help="also write a Triton model repository (DIR/<name>/)")
    p.add_argument("--batches", type=spec_value_type(ExportSpec, "cal_batches"),
                   help="calibration batches (default: export.cal_batches)")
    p.add_argument("--batch_size", type=spec_value_type(ExportSpec, "cal_batch_size"),
                   help="calibration batch size (default: export.cal_batch_size)")
    p.add_argument("overrides", nargs="*", help="spec overrides: section.key=value")
    p.set_defaults(run=run)
