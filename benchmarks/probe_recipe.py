"""Recipe probe on ../shared/data/sign_language_digits: does mixup, mirroring or a weight average (EMA) lift the
unpruned resnet18's test top-1? Trains the benchmark's bare PyTorch loop (classification_sign_digits.py) once per
seed and reports test top-1 of the final weights and, with --ema_decays, of each EMA of the same training (BN
buffers averaged too). Writes benchmarks/results/<--out> and prints the per-seed and mean top-1.

  .venv/bin/python benchmarks/probe_recipe.py --seeds 1,2,3,4,5 --ema_decays 0.99,0.995,0.998 --out probe_ema.json
  .venv/bin/python benchmarks/probe_recipe.py --seeds 1,2,3,4,5 --mixup_alpha 0.2 --out probe_mixup02.json
  .venv/bin/python benchmarks/probe_recipe.py --seeds 1,2,3,4,5 --horizontal_flip 0.5 --out probe_flip05.json
The recipe is the label-smoothing one of benchmarks/README.md (AdamW 1e-3, weight decay 0.05, label smoothing
0.1, rotation 10°, crop 0.7-1, batch 32, 10 epochs, 64x64).
"""

import argparse
import json
import sys
from pathlib import Path
from statistics import fmean

from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torchvision.transforms import v2

from classification_sign_digits import DATA, ROOT, bare_pytorch_train, bare_test_top1, seed_list


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=seed_list, default=[1, 2, 3, 4, 5])
    parser.add_argument("--mixup_alpha", type=float, default=0.0, help="mixup's Beta(alpha, alpha); 0: off")
    parser.add_argument("--horizontal_flip", type=float, default=0.0, help="probability of a mirrored training image")
    parser.add_argument("--ema_decays", type=lambda text: [float(x) for x in text.split(",")], default=[])
    parser.add_argument("--out", required=True, help="results file name under benchmarks/results")
    probe = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"{DATA} not found: this probe needs ../shared/data/sign_language_digits")
    args = argparse.Namespace(backbone="resnet18", pretrained=None, image_size=64, batch_size=32, optimizer="adamw",
                              lr=1e-3, weight_decay=0.05, label_smoothing=0.1, crop_scale_min=0.7, rotation_degrees=10.0,
                              horizontal_flip=probe.horizontal_flip)
    mix_batch = v2.MixUp(alpha=probe.mixup_alpha, num_classes=10) if probe.mixup_alpha else None
    runs = {}
    for seed in probe.seeds:
        averages = {}

        def update_averages(model):
            if not averages:  # created at the first step, from the model the loop builds
                averages.update({decay: AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
                                 for decay in probe.ema_decays})
            for average in averages.values():
                average.update_parameters(model)

        model, _ = bare_pytorch_train(args, 10, seed, mix_batch=mix_batch,
                                      after_step=update_averages if probe.ema_decays else None)
        runs[seed] = {"final": bare_test_top1(args, model),
                      **{f"ema_{decay}": bare_test_top1(args, average.module) for decay, average in averages.items()}}
        print(seed, json.dumps(runs[seed]), flush=True)
    means = {key: round(fmean(run[key] for run in runs.values()), 5) for key in next(iter(runs.values()))}
    result = {"command": " ".join([Path(sys.executable).name, *sys.argv]), "recipe": vars(args),
              "mixup_alpha": probe.mixup_alpha, "runs": runs, "mean": means}
    out = ROOT / "benchmarks" / "results" / probe.out
    out.write_text(json.dumps(result, indent=2) + "\n")
    print("mean test top-1:", json.dumps(means))


if __name__ == "__main__":
    main()
