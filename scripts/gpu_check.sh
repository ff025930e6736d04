#!/usr/bin/env bash
# The GPU checks of `tao deploy`, for a machine with an NVIDIA GPU (CUDA + PyTorch; TensorRT + pycuda if present):
# sample data -> tiny classification and DetectNet_v2 models -> ONNX FP32 / INT8 -> TensorRT FP32 / FP16 / INT8
# engines (where TensorRT imports) -> each evaluated against ONNX Runtime -> the benchmark tables.
# What cannot run here (no TensorRT: the likely case outside NVIDIA's images) shows as a row that says why.
#   bash scripts/gpu_check.sh [OUT_DIR]      (about 5 minutes on one GPU)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_venv.sh
export TAO_DOCKER_DISABLE=1
TAO=$PWD/.venv/bin/tao
OUT=${1:-gpu_check_runs}
mkdir -p "$OUT"
.venv/bin/python -c "import torch; print('torch', torch.__version__, 'CUDA', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"
.venv/bin/python -m tao_deploy info
[ -d "$OUT/cls" ] || $TAO classification generate_sample -o "$OUT/cls" --per_class 40,12,12 --image_size 64
cat > "$OUT/cls.yaml" <<YAML
dataset: {root: $OUT/cls, image_size: 64, num_workers: 2}
model: {backbone: resnet18}
train: {num_epochs: 3, batch_size: 32, optimizer: {name: sgd, lr: 0.05}}
evaluate: {split: test, top_k: 3}
export: {cal_batches: 4, cal_batch_size: 8}
YAML
$TAO classification train -e "$OUT/cls.yaml" -r "$OUT/cls_run"
$TAO classification export -m "$OUT/cls_run/weights/best.pth" -o "$OUT/cls_fp32.onnx" --gen_ds_config
$TAO classification export -m "$OUT/cls_run/weights/best.pth" -o "$OUT/cls_int8.onnx" --data_type int8 -e "$OUT/cls.yaml"
$TAO classification benchmark -e "$OUT/cls.yaml" -m "$OUT/cls_run/weights/best.pth" -r "$OUT/bench_pytorch" \
  -m "$OUT/cls_fp32.onnx" -m "$OUT/cls_int8.onnx"
# TensorRT rows (FP32/FP16 from the FP32 ONNX, INT8 from the Q/DQ one), each evaluated like ONNX Runtime's
$TAO deploy classification benchmark -e "$OUT/cls.yaml" -m "$OUT/cls_fp32.onnx" -m "$OUT/cls_int8.onnx" \
  -r "$OUT/bench_deploy"

[ -d "$OUT/det" ] || $TAO detectnet_v2 generate_sample -o "$OUT/det" --count 120,24,24 --image_size 128
cat > "$OUT/det.yaml" <<YAML
dataset:
  train: [{format: kitti, image_dir: $OUT/det/train/images, label_dir: $OUT/det/train/labels}]
  val: [{format: kitti, image_dir: $OUT/det/val/images, label_dir: $OUT/det/val/labels}]
  test: [{format: kitti, image_dir: $OUT/det/test/images, label_dir: $OUT/det/test/labels}]
  image_width: 128
  image_height: 128
model: {backbone: resnet18}
train: {num_epochs: 4, batch_size: 16, optimizer: {name: adamw, lr: 0.002}}
export: {cal_batches: 4, cal_batch_size: 8}
YAML
$TAO detectnet_v2 train -e "$OUT/det.yaml" -r "$OUT/det_run"
$TAO detectnet_v2 export -m "$OUT/det_run/weights/best.pth" -o "$OUT/det_fp32.onnx" --gen_ds_config
$TAO detectnet_v2 export -m "$OUT/det_run/weights/best.pth" -o "$OUT/det_int8.onnx" --data_type int8 -e "$OUT/det.yaml"
$TAO detectnet_v2 benchmark -e "$OUT/det.yaml" -m "$OUT/det_run/weights/best.pth" -m "$OUT/det_fp32.onnx" \
  -m "$OUT/det_int8.onnx" -r "$OUT/det_bench_pytorch"
$TAO deploy detectnet_v2 benchmark -e "$OUT/det.yaml" -m "$OUT/det_fp32.onnx" -m "$OUT/det_int8.onnx" \
  -r "$OUT/det_bench_deploy"
echo "tables: $OUT/bench_*/benchmark.md $OUT/det_bench_*/benchmark.md"
