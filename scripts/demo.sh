#!/usr/bin/env bash
# The demo: the whole TAO workflow on generated SYNTHETIC sample data, local runtime, CPU — as `tao pipeline` runs
# it: train -> evaluate -> prune -> retrain -> evaluate -> export FP32 -> export INT8 -> evaluate the deployed
# models -> [TensorRT engines where TensorRT is] -> benchmark -> report, for an image classifier (ImageNet
# EfficientNet-Lite0), an object detector (DetectNet_v2) and a segmentation network (UNet). Each pipeline writes
# RESULTS_DIR/report.html; a re-run skips every step that is done.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_venv.sh
export TAO_DOCKER_DISABLE=1
OUT=${DEMO_DIR:-demo_runs}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
TAO=$PWD/.venv/bin/tao
SPECS=$PWD/specs
step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "${*:2}"; "${@:2}"; }

step "toolkit and devices" $TAO info
cd "$OUT"  # the sample specs name their data relative to here (data/...)
[ -d data/cls/train ] || step "generate synthetic classification data" $TAO classification generate_sample -o data/cls
step "classification: the whole workflow" $TAO pipeline -e "$SPECS/pipeline/classification.yaml" -r classification \
  "spec_overrides=[dataset.root=data/cls]"

[ -d data/det/train ] || step "generate synthetic detection data (KITTI labels)" $TAO detectnet_v2 generate_sample -o data/det
step "detection: check labels, box statistics, write the index" $TAO detectnet_v2 dataset_convert \
  -d "$SPECS/detectnet_v2/sample.yaml" -o det/index
step "detection (DetectNet_v2): the whole workflow" $TAO pipeline -e "$SPECS/pipeline/detectnet_v2.yaml" -r detection

[ -d data/seg/train ] || step "generate synthetic segmentation data (PNG masks)" $TAO unet generate_sample -o data/seg
step "segmentation (UNet): the whole workflow" $TAO pipeline -e "$SPECS/pipeline/unet.yaml" -r segmentation

printf '\n\033[1m== reports\033[0m\n'
for run in classification detection segmentation; do
  echo "$run: $OUT/$run/report.html  (and report.md)"
done
