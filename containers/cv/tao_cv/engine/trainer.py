"""The training engine: plain functions (torchvision-references style) shared by every task.

`fit` owns the loop around them: resume from checkpoints/latest.pth, atomic checkpoints, best/last
weights, status.json's RUNNING records, the CSV log and the curves plot. What a task adds is passed in as plain arguments:
the model, the loaders, a `loss_fn(outputs, targets) -> loss` of the model's outputs and a
`validate(model) -> {metric: value}` callable. Targets may be tensors or (lists/dicts of) tensors, e.g. boxes per
image for detection. With a `distillation` (engine/distillation.py) the loss also pulls toward a teacher's outputs.

Under torchrun (see `distributed`) the same loop runs in every process: the model is wrapped in
DistributedDataParallel, the loader's DistributedSampler is reseeded each epoch, the train loss and image counts
are summed over ranks, validation runs on rank 0 and its metrics are shared, and only rank 0 writes files.
"""

import contextlib
import math
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from tao_inference.errors import UserError
from . import distributed
from .checkpoint import read_checkpoint, save_checkpoint
from .device import pick_device
from .logs import plot_curves, write_csv
from .tensorboard import TrainingBoard

console = Console(soft_wrap=True)


def build_optimizer(params, spec):
    if spec.name == "sgd":
        return torch.optim.SGD(params, lr=spec.lr, momentum=spec.momentum, weight_decay=spec.weight_decay, nesterov=spec.momentum > 0)
    if spec.name == "adam":
        return torch.optim.Adam(params, lr=spec.lr, weight_decay=spec.weight_decay)
    return torch.optim.AdamW(params, lr=spec.lr, weight_decay=spec.weight_decay)


def lr_factor(step, total_steps, steps_per_epoch, spec):
    """Multiplier of the base learning rate at optimizer step `step` (0-based) of `total_steps`."""
    progress = step / max(1, total_steps)
    warmup = spec.warmup_epochs * steps_per_epoch
    if spec.name != "soft_anneal" and step < warmup:
        return (step + 1) / warmup
    if spec.name == "cosine":
        remaining = (step - warmup) / max(1, total_steps - warmup)
        return spec.min_lr_ratio + (1 - spec.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * remaining))
    if spec.name == "step":
        return spec.gamma ** ((step // steps_per_epoch) // spec.step_size)
    if spec.name == "multistep":  # TAO FasterRCNN's annealing points
        return spec.gamma ** sum(progress >= milestone for milestone in spec.milestones)
    if spec.name == "soft_anneal":
        # TAO's soft-start annealing: log-linear ramp from min to base lr, hold, log-linear decay back to min.
        low = math.log(max(spec.min_lr_ratio, 1e-8))
        if progress < spec.soft_start:
            return math.exp(low * (1 - progress / spec.soft_start))
        if progress < spec.annealing_start:
            return 1.0
        return math.exp(low * (progress - spec.annealing_start) / max(1e-8, 1 - spec.annealing_start))
    return 1.0


def build_scheduler(optimizer, spec, steps_per_epoch, num_epochs):
    total = steps_per_epoch * num_epochs
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_factor(step, total, steps_per_epoch, spec))


def make_train_loader(dataset, batch_size, num_workers, seed, collate_fn=None, pin_memory=False):
    """The loader `fit` expects: this rank's shuffled share of `dataset` (DistributedSampler, reseeded per epoch),
    `batch_size` images per step and process, and a generator `fit` reseeds for the workers' augmentations."""
    sampler = distributed.train_sampler(dataset, seed)
    return torch.utils.data.DataLoader(
        dataset, batch_size=batch_size, sampler=sampler, generator=torch.Generator().manual_seed(seed),
        num_workers=num_workers, collate_fn=collate_fn, pin_memory=pin_memory, persistent_workers=num_workers > 0,
        drop_last=len(sampler) > batch_size)


def to_device(value, device):
    """Tensors, and lists/tuples/dicts of them, moved to `device`."""
    if isinstance(value, torch.Tensor):
        return value.to(device, non_blocking=True)
    if isinstance(value, dict):
        return {k: to_device(v, device) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_device(v, device) for v in value)
    return value


def train_one_epoch(model, loader, loss_fn, optimizer, scheduler, device, scaler, on_step=None, distillation=None,
                    forward_takes_targets=False):
    """One pass over `loader`; returns mean loss, images seen and seconds spent. `forward_takes_targets`: the
    model is called as model(images, targets) (a network that computes its losses inside, e.g. Mask R-CNN)."""
    model.train()
    total_loss = torch.zeros((), device=device)
    images = 0
    start = time.perf_counter()
    for step, (inputs, targets) in enumerate(loader):
        inputs, targets = to_device(inputs, device), to_device(targets, device)
        with torch.autocast(device.type, enabled=scaler.is_enabled()):
            outputs = model(inputs, targets) if forward_takes_targets else model(inputs)
            loss = loss_fn(outputs, targets)
            if distillation is not None:
                loss = distillation.blend(loss, inputs, outputs)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        scheduler.step()
        total_loss += loss.detach() * inputs.shape[0]
        images += inputs.shape[0]
        if on_step is not None:
            on_step(step, loss)
    seconds = time.perf_counter() - start
    totals = distributed.sum_across_ranks(torch.stack([total_loss.float(), torch.tensor(float(images), device=device)]))
    return {"train_loss": (totals[0] / totals[1].clamp(min=1)).item(), "images": int(totals[1].item()),
            "seconds": seconds}


def _set_trainable(model, heads, only_heads):
    for name, param in model.named_parameters():
        param.requires_grad = (not only_heads) or any(name.startswith(head + ".") for head in heads)


def improves(metrics, best, monitor):
    """Whether this epoch's `metrics` beat `best`: a higher `monitor`, or the same with a lower validation loss.

    Accuracy on a small validation set moves in steps of 1/N, so several epochs often tie; the first of them (a
    strict `>`) is usually an early, less annealed one (11 sign-digit runs: 98.12 % test top-1 from the first tied
    epoch, 98.45 % from the lowest-loss one, benchmarks/README.md).
    """
    if best is None or metrics[monitor] > best["value"]:
        return True
    loss, best_loss = metrics.get("loss"), best.get("loss")
    return metrics[monitor] == best["value"] and loss is not None and (best_loss is None or loss < best_loss)


def fit(model, *, train_loader, validate, loss_fn, spec, results_dir, info, monitor, status, heads=(),
        distillation=None, forward_takes_targets=False, preview=None):
    """Train `model` per `spec` (a TrainSpec) into `results_dir`; returns the run summary. `info`: the ModelInfo its
    checkpoints carry; `status`: the run's StatusLogger (RUNNING records); `heads`: names of the modules that
    `train.freeze_backbone_epochs` keeps training while the rest is frozen; `distillation`: a teacher to learn
    from as well; `forward_takes_targets`: see train_one_epoch; `preview(model) -> [(name, PIL image)]`: annotated
    validation images for TensorBoard (train.tensorboard)."""
    results_dir = Path(results_dir)
    ckpt_dir, weights_dir = results_dir / "checkpoints", results_dir / "weights"
    device = pick_device(spec.device)
    rank, world = distributed.rank(), distributed.world_size()
    main = rank == 0  # the only process that writes files
    torch.manual_seed(spec.seed + rank)  # each rank draws its own augmentations
    model.to(device)
    if distillation is not None:
        distillation.to(device)
    # Parameters frozen for some epochs get no gradient then: DDP must be told to expect that.
    net = distributed.wrap(model, device, find_unused_parameters=bool(spec.freeze_backbone_epochs))
    optimizer = build_optimizer(model.parameters(), spec.optimizer)
    scheduler = build_scheduler(optimizer, spec.lr_scheduler, len(train_loader), spec.num_epochs)
    scaler = torch.amp.GradScaler("cuda", enabled=spec.amp and device.type == "cuda")
    history, best, start_epoch = [], None, 0

    latest = ckpt_dir / "latest.pth"
    if spec.resume and latest.is_file():
        try:
            state = read_checkpoint(latest)
        except UserError as exc:
            raise UserError(f"cannot resume: {exc}. Start over with train.resume=false, or copy an intact "
                            f"{ckpt_dir}/epoch_NNN.pth over {latest}") from None
        try:
            model.load_state_dict(state["state_dict"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            scaler.load_state_dict(state["scaler"])
        except (KeyError, ValueError, RuntimeError) as exc:
            raise UserError(
                f"cannot resume from {latest}: it does not match this spec ({str(exc).splitlines()[0]}); "
                "use a new results dir or set train.resume=false"
            ) from None
        history, best, start_epoch = state["history"], state["best"], state["epoch"] + 1
        if main:
            torch.set_rng_state(state["rng"])
            write_csv(results_dir / "training_log.csv", history)  # a run stopped after its log, before latest.pth
        console.print(f"resuming from {latest} (epoch {state['epoch'] + 1} done)")

    steps_per_epoch = len(train_loader)
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("loss {task.fields[loss]:.3f}  lr {task.fields[lr]:.2e}"), TimeElapsedColumn(), TextColumn("eta"),
               TimeRemainingColumn()]
    board = TrainingBoard(results_dir, spec.tensorboard and main, steps_done=start_epoch * steps_per_epoch)
    with contextlib.closing(board):
        run_start = time.perf_counter()
        for epoch in range(start_epoch, spec.num_epochs):
            # Same shuffles and augmentations on resume: both are seeded from (seed, epoch, rank).
            if hasattr(train_loader.sampler, "set_epoch"):
                train_loader.sampler.set_epoch(epoch)
            if getattr(train_loader, "generator", None) is not None:
                train_loader.generator.manual_seed((spec.seed + epoch) * world + rank)
            if spec.freeze_backbone_epochs:
                _set_trainable(model, heads, only_heads=epoch < spec.freeze_backbone_epochs)
            with Progress(*columns, console=console, transient=True) as progress:
                bar = progress.add_task(f"Epoch {epoch + 1}/{spec.num_epochs}", total=len(train_loader), loss=0.0,
                                        lr=optimizer.param_groups[0]["lr"])

                def on_step(step, loss):
                    # .item() waits for the device: refresh the shown loss every 10 steps only.
                    shown = {"loss": loss.item(), "lr": optimizer.param_groups[0]["lr"]} if step % 10 == 0 else {}
                    progress.update(bar, advance=1, **shown)
                    board.step(epoch * steps_per_epoch + step + 1, loss, optimizer.param_groups[0]["lr"])

                stats = train_one_epoch(net, train_loader, loss_fn, optimizer, scheduler, device, scaler, on_step,
                                        distillation, forward_takes_targets)
            if not math.isfinite(stats["train_loss"]):
                raise UserError(f"training diverged: the loss is {stats['train_loss']} in epoch {epoch + 1}; lower "
                                f"train.optimizer.lr (now {spec.optimizer.lr:g}), or check the labels and "
                                "dataset.mean/std (no checkpoint of this epoch was written)")
            metrics = distributed.from_rank0(validate(model) if main else None)
            row = {"epoch": epoch + 1, "train_loss": round(stats["train_loss"], 5),
                   **{f"val_{k}": round(v, 5) for k, v in metrics.items()}, "lr": optimizer.param_groups[0]["lr"],
                   "images_per_s": round(stats["images"] / stats["seconds"], 2), "seconds": round(stats["seconds"], 2)}
            history.append(row)
            improved = improves(metrics, best, monitor)
            if improved:
                best = {"value": metrics[monitor], "loss": metrics.get("loss"), "epoch": epoch + 1}
            if main:  # the event file before the checkpoint: a resume redoing this epoch purges its events
                board.epoch((epoch + 1) * steps_per_epoch, row, preview(model) if preview and board.writer else ())
                _write_epoch(model, info, results_dir, spec, epoch, metrics, improved,
                             dict(epoch=epoch, optimizer=optimizer.state_dict(), scheduler=scheduler.state_dict(),
                                  scaler=scaler.state_dict(), rng=torch.get_rng_state(), history=history, best=best))
            per_epoch = (time.perf_counter() - run_start) / (epoch + 1 - start_epoch)
            eta = per_epoch * (spec.num_epochs - epoch - 1)
            status.write("RUNNING", "Training loop in progress", epoch=epoch + 1, max_epoch=spec.num_epochs,
                         time_per_epoch=_hms(per_epoch), eta=_hms(eta),
                         kpi={"train_loss": row["train_loss"], **{f"val_{k}": v for k, v in metrics.items()}})
            shown = "  ".join(f"val {k} {v:.4f}" for k, v in metrics.items())
            console.print(f"Epoch {epoch + 1}/{spec.num_epochs}  loss {row['train_loss']:.4f}  {shown}  "
                          f"(best {monitor} {best['value']:.4f} @ {best['epoch']})  {row['images_per_s']:.1f} img/s")
    summary = {"best_" + monitor: best["value"] if best else None, "best_epoch": best["epoch"] if best else None,
               "best_weights": str(weights_dir / "best.pth"), "epochs": spec.num_epochs}
    status.kpi = summary
    return summary


def _write_epoch(model, info, results_dir, spec, epoch, metrics, improved, train_state):
    """Everything one epoch leaves on disk: best/last weights, log and plot, the resumable checkpoint(s).
    `latest.pth` comes last: resume trusts it, so a run stopped anywhere in here never has a log that lags it
    (a log ahead of it is rewritten from the checkpoint's history on resume)."""
    ckpt_dir, weights_dir = results_dir / "checkpoints", results_dir / "weights"
    if improved:
        save_checkpoint(weights_dir / "best.pth", model, info, epoch=epoch, metrics=metrics)
    save_checkpoint(weights_dir / "last.pth", model, info, epoch=epoch, metrics=metrics)
    write_csv(results_dir / "training_log.csv", train_state["history"])
    plot_curves(results_dir / "curves.png", train_state["history"])
    if (epoch + 1) % spec.checkpoint_interval == 0:
        save_checkpoint(ckpt_dir / f"epoch_{epoch + 1:03d}.pth", model, info, **train_state)
    save_checkpoint(ckpt_dir / "latest.pth", model, info, **train_state)


def _hms(seconds):
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
