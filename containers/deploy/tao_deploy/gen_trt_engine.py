"""`tao deploy <task> gen_trt_engine`: TAO's flags and TAO 5's `gen_trt_engine.tensorrt` keys, checked as TAO checks
them before TensorRT is touched, then the engine build (tensorrt_engine.py). Also the TensorRT rows of `benchmark`."""

from pathlib import Path

from tao_inference import preprocess
from tao_inference.contract import read_contract
from tao_inference.errors import UserError
from tao_inference.spec import load_spec
from tao_inference.status import run_status

from .tensorrt_engine import EngineSettings, asymmetric_activations, build_engine, is_qdq


def add_arguments(p):
    p.add_argument("-m", "--model", help="the .onnx model (default: the spec's gen_trt_engine.onnx_file)")
    p.add_argument("-e", "--experiment_spec", help="spec: its gen_trt_engine section gives the flags not given here")
    p.add_argument("-r", "--results_dir", help="status and logs (default: beside the engine)")
    p.add_argument("-k", "--key", help="accepted for TAO compatibility; models are not encrypted")
    p.add_argument("--data_type", choices=("fp32", "fp16", "int8"))
    p.add_argument("--engine_file", help="the engine to write (default: MODEL.<data_type>.engine beside the ONNX)")
    p.add_argument("--cal_image_dir", action="append", help="calibration images (int8 from an FP32 ONNX); repeatable")
    p.add_argument("--cal_cache_file", help="calibration cache: read when it exists (no images needed), else written")
    p.add_argument("--cal_json_file", help="TAO's tensor-scale JSON of QAT models: not used here (see its error)")
    p.add_argument("--batch_size", type=int, help="calibration batch size")
    p.add_argument("--batches", type=int, help="calibration batches")
    p.add_argument("--min_batch_size", type=int)
    p.add_argument("--opt_batch_size", type=int)
    p.add_argument("--max_batch_size", type=int)
    p.add_argument("--max_workspace_size", type=float, help="GB (TAO's flag; the spec's workspace_size is in MB)")
    p.add_argument("--timing_cache", help="TensorRT timing cache file, reused across builds")
    p.add_argument("-s", "--strict_type_constraints", action="store_true", help="obey the layers' precisions")
    p.add_argument("overrides", nargs="*", help="spec overrides: section.key=value")


def fixed_batch(onnx_path):
    """The batch size the model's contract fixes, or None when its batch axis is dynamic."""
    batch = read_contract(onnx_path)[1].get("input", {}).get("shape", ["batch"])[0]
    return batch if isinstance(batch, int) else None


def _first(*values):
    return next((v for v in values if v is not None), None)


def resolve(task, args):
    """(onnx path, engine path, EngineSettings, calibration batches or None) — every check TAO makes."""
    spec = load_spec(task.spec_class, args.experiment_spec, args.overrides)
    section, trt_spec = spec.gen_trt_engine, spec.gen_trt_engine.tensorrt
    onnx_path = Path(_first(args.model, section.onnx_file) or "")
    if not str(onnx_path) or str(onnx_path) == ".":
        raise UserError("no model given: pass -m MODEL.onnx (or set gen_trt_engine.onnx_file)")
    if onnx_path.suffix.lower() != ".onnx":
        raise UserError(f"-m {onnx_path}: gen_trt_engine builds from an .onnx model (`tao model {task.name} export`)")
    if not onnx_path.is_file():
        raise UserError(f"-m {onnx_path}: no such file")
    if args.cal_json_file:
        raise UserError("--cal_json_file (TAO's QAT tensor scales) is not used here: build INT8 from our Q/DQ ONNX "
                        "(its scales are in the graph) or calibrate with --cal_image_dir / --cal_cache_file")
    data_type = _first(args.data_type, trt_spec.data_type)
    workspace_mb = int(args.max_workspace_size * 1024) if args.max_workspace_size else trt_spec.workspace_size
    cache = _first(args.cal_cache_file, trt_spec.calibration.cal_cache_file)
    timing = _first(args.timing_cache, section.timing_cache_file)
    settings = EngineSettings(data_type=data_type, workspace_mb=workspace_mb,
                              min_batch=_first(args.min_batch_size, trt_spec.min_batch_size),
                              opt_batch=_first(args.opt_batch_size, trt_spec.opt_batch_size),
                              max_batch=_first(args.max_batch_size, trt_spec.max_batch_size),
                              strict=args.strict_type_constraints, cal_cache=Path(cache) if cache else None,
                              timing_cache=Path(timing) if timing else None)
    settings.check()
    fixed = fixed_batch(onnx_path)
    if fixed and {settings.min_batch, settings.opt_batch, settings.max_batch} != {fixed}:
        raise UserError(f"-m {onnx_path} is exported at a fixed batch of {fixed} (its graph runs its postprocessing "
                        f"per traced image): set --min_batch_size, --opt_batch_size and --max_batch_size to {fixed} "
                        "(gen_trt_engine.tensorrt.*_batch_size); larger batches run image by image")
    if data_type == "int8" and is_qdq(onnx_path) and asymmetric_activations(onnx_path):
        raise UserError(f"-m {onnx_path} quantizes activations as uint8 (export.int8_target: onnxruntime, ONNX Runtime's "
                        "fast CPU path); TensorRT takes symmetric int8 only: export again with "
                        "export.int8_target=tensorrt (a QAT model: retrain with it), or build from the FP32 model with "
                        "--cal_image_dir")
    engine = Path(_first(args.engine_file, section.trt_engine) or onnx_path.with_name(f"{onnx_path.stem}.{data_type}.engine"))
    batches = None
    if data_type == "int8" and not is_qdq(onnx_path) and not (settings.cal_cache and settings.cal_cache.is_file()):
        folders = args.cal_image_dir or trt_spec.calibration.cal_image_dir
        if not folders:
            raise UserError(f"INT8 from the FP32 model {onnx_path} needs calibration: --cal_image_dir DIR (at least "
                            "--batches x --batch_size images), an existing --cal_cache_file, or a Q/DQ model from "
                            f"`tao model {task.name} export --data_type int8`, which needs none")
        batch_size = _first(args.batch_size, trt_spec.calibration.cal_batch_size)
        count = _first(args.batches, trt_spec.calibration.cal_batches)
        paths = [p for folder in folders for p in task.kind.folder_images(folder, "--cal_image_dir")]
        if len(paths) < batch_size * count:
            raise UserError(f"--cal_image_dir has {len(paths)} images; {count} batches x {batch_size} need "
                            f"{batch_size * count}: add images or lower --batches / --batch_size")
        info, _ = read_contract(onnx_path)
        batches = [images for _, images, _ in preprocess.batches(paths[: batch_size * count], info, batch_size)]
    return onnx_path, engine, settings, batches


def gen_trt_engine(task, args, console):
    onnx_path, engine, settings, batches = resolve(task, args)
    results_dir = Path(args.results_dir) if args.results_dir else engine.parent
    with run_status(results_dir, "TensorRT engine build") as status:
        sidecar = build_engine(onnx_path, engine, settings, batches, log=console.print)
        status.kpi = {"data_type": sidecar["data_type"], "tensorrt_version": sidecar["tensorrt_version"]}
    console.print(f"TensorRT {sidecar['tensorrt_version']} engine ({settings.data_type}) → {engine}; contract → "
                  f"{engine}.json")


def benchmark_engines(task, console, data_types=("fp32", "fp16", "int8")):
    """`benchmark`'s TensorRT rows: engines built from the -m ONNX models (FP32 from the first FP32 one, INT8
    from a Q/DQ one), each a path to measure, or a row saying why it could not be made."""

    def more_models(args, spec, results_dir):
        try:
            import tensorrt  # noqa: F401
        except ImportError:
            return [{"model": "-", "format": f"TensorRT {d.upper()}",
                     "status": "✗ TensorRT is not installed here (the deploy image has it)"} for d in data_types]
        onnx = [Path(m) for m in args.model if str(m).endswith(".onnx") and Path(m).is_file()]
        fp32 = next((m for m in onnx if not is_qdq(m)), None)
        qdq = next((m for m in onnx if is_qdq(m)), None)
        rows = []
        for data_type in data_types:
            source = qdq if data_type == "int8" else fp32
            if source is None:
                kind = "a Q/DQ INT8" if data_type == "int8" else "an FP32"
                rows.append({"model": "-", "format": f"TensorRT {data_type.upper()}",
                             "status": f"✗ no {kind} ONNX among -m to build it from"})
                continue
            engine = Path(results_dir) / "engines" / f"{source.stem}.{data_type}.engine"
            fixed = fixed_batch(source)
            settings = EngineSettings(data_type=data_type, min_batch=fixed or 1, opt_batch=fixed or args.batch_size,
                                      max_batch=fixed or args.batch_size, timing_cache=Path(results_dir) / "engines" / "timing.cache")
            try:
                build_engine(source, engine, settings, log=console.print)
                rows.append(str(engine))
            except Exception as exc:
                rows.append({"model": str(engine), "format": f"TensorRT {data_type.upper()}",
                             "status": f"✗ build failed: {exc}"})
        return rows

    return more_models
