#!/usr/bin/env bash
# The demo: the whole TAO workflow on generated SYNTHETIC sample data, local runtime, CPU.
# generate data -> train (ImageNet-pretrained EfficientNet-Lite0) -> evaluate -> prune -> retrain ->
# export FP32 ONNX -> INT8 Q/DQ ONNX + TensorRT cache -> evaluate the exported models -> inference -> table;
# then object detection (DetectNet_v2 on synthetic KITTI data): convert -> train -> evaluate -> INT8 -> inference;
# then semantic segmentation (UNet on synthetic masks): convert -> train -> evaluate -> INT8 -> deploy evaluate.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_venv.sh
export TAO_DOCKER_DISABLE=1
TAO=.venv/bin/tao
OUT=${DEMO_DIR:-demo_runs}
SPEC=specs/classification/efficientnet_lite0.yaml
DATA="dataset.root=$OUT/data"
step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "${*:2}"; "${@:2}"; }

step "toolkit and devices" $TAO info
[ -d "$OUT/data/train" ] || step "generate synthetic sample data" $TAO classification generate_sample -o "$OUT/data"
step "train (fine-tune ImageNet EfficientNet-Lite0)" $TAO classification train -e $SPEC -r "$OUT/unpruned" "$DATA"
step "evaluate" $TAO classification evaluate -e $SPEC -m "$OUT/unpruned/weights/best.pth" -r "$OUT/eval/unpruned_pth" "$DATA"
step "prune to half the MACs (TAO's rules, Taylor importance)" $TAO classification prune \
  -m "$OUT/unpruned/weights/best.pth" -o "$OUT/pruned/model.pth" --target_macs_ratio 0.5 --criterion taylor \
  -e $SPEC "$DATA" -n max -eq union -pg 8 -nf 16
step "retrain the pruned model (twice the training's epochs)" $TAO classification train -e $SPEC -r "$OUT/retrain" \
  "$DATA" "model.pruned_model=$OUT/pruned/model.pth" model.pretrained=null train.num_epochs=12
step "export unpruned FP32 ONNX" $TAO classification export -m "$OUT/unpruned/weights/best.pth" -o "$OUT/export/unpruned.onnx"
step "export pruned FP32 ONNX" $TAO classification export -m "$OUT/retrain/weights/best.pth" -o "$OUT/export/pruned.onnx"
step "export pruned INT8 (Q/DQ ONNX + TensorRT calibration cache)" $TAO classification export \
  -m "$OUT/retrain/weights/best.pth" -o "$OUT/export/pruned_int8.onnx" --data_type int8 -e $SPEC "$DATA" \
  --cal_cache_file "$OUT/export/cal.bin" --batches 8 --batch_size 8  # calibrated on the spec's training images
for model in unpruned pruned pruned_int8; do
  step "evaluate the deployed $model model (ONNX Runtime)" $TAO classification evaluate -e $SPEC \
    -m "$OUT/export/$model.onnx" -r "$OUT/eval/$model" "$DATA"
done
step "inference with the INT8 model" $TAO classification inference -e $SPEC -m "$OUT/export/pruned_int8.onnx" \
  -i "$OUT/data/test" -r "$OUT/inference" "$DATA"
step "summary" .venv/bin/python scripts/demo_table.py "$OUT"

# Object detection: the sample spec's paths are relative to $OUT (data/det/...), so these steps run there.
DSPEC=$PWD/specs/detectnet_v2/sample.yaml
DTAO=$PWD/.venv/bin/tao
(
  cd "$OUT"
  [ -d data/det/train ] || step "generate synthetic detection data (KITTI labels)" $DTAO detectnet_v2 generate_sample -o data/det
  step "dataset_convert: check labels, box statistics, index" $DTAO detectnet_v2 dataset_convert -d "$DSPEC" -o det/index
  step "train DetectNet_v2 (ImageNet EfficientNet-Lite0 backbone)" $DTAO detectnet_v2 train -e "$DSPEC" -r det/train \
    dataset.index=det/index/index.json train.num_epochs=${DEMO_DET_EPOCHS:-12}
  step "export DetectNet_v2 INT8 (Q/DQ ONNX)" $DTAO detectnet_v2 export -e "$DSPEC" -m det/train/weights/best.pth \
    -o det/export/detectnet_int8.onnx --data_type int8 --cal_image_dir data/det/train/images --batches 4 --batch_size 8
  for model in det/train/weights/best.pth det/export/detectnet_int8_fp32.onnx det/export/detectnet_int8.onnx; do
    step "evaluate $model" $DTAO detectnet_v2 evaluate -e "$DSPEC" -m "$model" -r "det/eval/$(basename "$model")" \
      dataset.index=det/index/index.json
  done
  step "inference: annotated images + KITTI labels" $DTAO detectnet_v2 inference -e "$DSPEC" \
    -m det/export/detectnet_int8.onnx -i data/det/test/images -r det/inference
)

# Semantic segmentation: UNet on the ImageNet EfficientNet-Lite0; paths of the sample spec are relative to $OUT.
USPEC=$PWD/specs/unet/sample.yaml
(
  cd "$OUT"
  [ -d data/seg/train ] || step "generate synthetic segmentation data (PNG masks)" $DTAO unet generate_sample -o data/seg
  step "dataset_convert: check every image/mask pair, class pixel shares" $DTAO unet dataset_convert -d "$USPEC" -o seg/convert
  step "train UNet (ImageNet EfficientNet-Lite0 encoder)" $DTAO unet train -e "$USPEC" -r seg/train \
    train.num_epochs=${DEMO_SEG_EPOCHS:-10}
  step "export UNet INT8 (Q/DQ ONNX) + DeepStream config" $DTAO unet export -e "$USPEC" -m seg/train/weights/best.pth \
    -o seg/export/unet_int8.onnx --data_type int8 --gen_ds_config
  step "evaluate the INT8 UNet in the deploy worker (no PyTorch)" $DTAO deploy unet evaluate -e "$USPEC" \
    -m seg/export/unet_int8.onnx -r seg/eval/int8
  step "inference: class masks + overlays" $DTAO deploy unet inference -e "$USPEC" -m seg/export/unet_int8.onnx \
    -i data/seg/test/images -r seg/inference
)
