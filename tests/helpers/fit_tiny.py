"""`fit` on a tiny BatchNorm-free network and random data, for the distributed tests: run it as one process or
under torchrun; it writes the final weights into RESULTS_DIR (rank 0). A third argument `distill` adds a teacher
(another such network) that the training also learns from."""

import sys

import torch

from tao_cv.engine import distributed
from tao_cv.engine.distillation import Distillation, softmax_kd
from tao_cv.engine.trainer import fit, make_train_loader
from tao_inference.contract import ModelInfo
from tao_inference.spec.schemas import TrainSpec
from tao_inference.status import run_status


def tiny_network():
    return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(8 * 6 * 6, 3))


def main(results_dir, batch_size, epochs=2, distill=False):
    torch.manual_seed(0)
    images, labels = torch.randn(48, 3, 8, 8), torch.randint(0, 3, (48,))
    dataset = torch.utils.data.TensorDataset(images, labels)
    model = tiny_network()
    distillation = Distillation(tiny_network(), 0.5, 2.0, softmax_kd) if distill else None
    spec = TrainSpec(num_epochs=epochs, batch_size=batch_size, device="cpu", resume=False)
    spec.optimizer.lr = 0.1
    loader = make_train_loader(dataset, batch_size, 0, spec.seed)

    def validate(model):
        with torch.no_grad():
            return {"acc": float((model(images).argmax(1) == labels).float().mean())}

    info = ModelInfo("test", "tiny", ("a", "b", "c"), 8, 8, (0, 0, 0), (1, 1, 1))
    with run_status(results_dir, "training") as status:
        fit(model, train_loader=loader, validate=validate, spec=spec, results_dir=results_dir, info=info,
            monitor="acc", status=status, loss_fn=torch.nn.functional.cross_entropy, distillation=distillation)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), distill="distill" in sys.argv[3:])
    distributed.close(synchronize=True)  # as `python -m tao_cv` does after a successful task
    distributed.exit_process(0)
