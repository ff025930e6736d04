"""The task adapter: everything the shared subcommands (tasks/skeleton.py) need to know about one network, in
one place. A new network or task is one adapter module (a subclass of TaskAdapter), its spec schema and its
torch-free half (`tao_inference.tasks`, and a decoder in `tao_inference.networks` for a detector), registered in
tasks/__init__.py."""

from abc import ABC, abstractmethod
from dataclasses import dataclass

from tao_inference.errors import UserError
from ..models import build_classifier
from ..models.pretrained import load_pretrained


@dataclass
class TrainingData:
    class_names: list
    train: list  # the kind's samples: [(path, class)] for classification, index entries for detection
    val: list


class TaskAdapter(ABC):
    # The torch-free half (tao_inference.tasks.InferenceTask): name, description, spec schema and kind — the module
    # that reads evaluation data, computes metrics (validation included), writes evaluate / inference results and
    # measures INT8 agreement.
    inference = None
    monitor = ""  # the validation metric that picks best.pth
    # Spec keys this network does not use, with the value they must keep: any other value is refused, naming the key.
    unused_keys = {}
    # The network's forward takes the targets while training and returns its losses (torchvision's two-stage
    # detectors sample proposals against them): the trainer calls model(images, targets).
    forward_takes_targets = False
    # A fixed batch size of the exported graph (None: dynamic), for graphs traced with one loop pass per image.
    export_batch = None
    int8_export = True  # `export --data_type int8` (calibration, Q/DQ, agreement) is supported
    # The modules whose layers INT8 export quantizes (None: the whole graph). A graph with its postprocessing inside
    # lists its feature layers, so box decoding, NMS and RoI arithmetic stay FP32.
    int8_modules = None

    @property
    def name(self):
        return self.inference.name

    @abstractmethod
    def read_data(self, spec) -> TrainingData:
        """The classes and the train / val samples of the spec's dataset."""

    @abstractmethod
    def train_dataset(self, spec, info, samples):
        """(torch Dataset of augmented training samples, collate_fn or None)."""

    @abstractmethod
    def model_info(self, spec, class_names):
        """The ModelInfo of a new network for this spec and these classes."""

    def build(self, info, spec):
        """A new network for `info`, with the spec's pretrained weights (`model.pretrained`) where it has them: by
        default `network` cut from a registry classifier that holds them."""
        return self.network(info, self.pretrained_classifier(spec))

    def rebuild(self, info):
        """The network of a checkpoint with this info (its weights are loaded afterwards)."""
        return self.network(info, None)

    def network(self, info, classifier):
        """The network of `info` cut from `classifier`'s layers (None: a fresh registry classifier of its backbone);
        an adapter that builds its networks otherwise overrides build and rebuild instead."""
        raise NotImplementedError(f"{type(self).__name__} overrides build and rebuild")

    @abstractmethod
    def loss(self, spec, info, model):
        """`loss_fn(outputs, targets) -> scalar loss` of `model`'s outputs on a batch."""

    @abstractmethod
    def kd_loss(self, spec, info):
        """`kd_loss(student_outputs, teacher_outputs, temperature) -> scalar`: train.distillation's term."""

    @abstractmethod
    def heads(self, model):
        """The output layers, never pruned: their channels are the classes / box coordinates."""

    @abstractmethod
    def trained_heads(self, model):
        """Names of the modules `train.freeze_backbone_epochs` keeps training while the backbone is frozen."""

    @abstractmethod
    def contract_outputs(self, info):
        """(output names, the contract's output descriptions, its postprocessing text) of the exported model."""

    def test_time_info(self, info, spec):
        """`info` with the test-time settings of the network that the spec changes, for export, evaluate and
        inference of a checkpoint. Most networks have none in the model: their postprocessing is the decoder's,
        read from the spec."""
        return info

    def pretrained_classifier(self, spec):
        """A registry classifier with the spec's pretrained weights: a detector's or decoder's backbone is cut from it."""
        classifier = build_classifier(spec.model.backbone, 1, 0.0)
        self.load_pretrained(classifier, spec)
        return classifier

    def load_pretrained(self, model, spec):
        """The spec's `model.pretrained` weights into `model` (a registry classifier), where it names any."""
        m = spec.model
        if m.pretrained:
            load_pretrained(model, m.backbone, m.pretrained, m.pretrained_sha256, allow_http=m.pretrained_allow_http,
                            require_sha256=m.pretrained_require_sha256)

    def decoder_params(self, model, info):
        """What the numpy decoder needs beyond the outputs (a detector's anchors), recorded in the contract."""
        return {}

    def retrain_info(self, pruned_info, spec):
        """The info a retrain of a pruned model trains and saves under (default: the pruned model's own)."""
        return pruned_info

    # generate_sample's flags: the counts flag (name, default, help) and the default image size
    sample_counts = ("--per_class", "60,20,20", "images per class in train,val,test")
    sample_image_size = 96

    def add_generate_arguments(self, parser):
        flag, default, help_text = self.sample_counts
        parser.add_argument("-o", "--output_dir", required=True)
        parser.add_argument(flag, default=default, help=help_text)
        parser.add_argument("--image_size", type=int, default=self.sample_image_size)
        parser.add_argument("--seed", type=int, default=0)

    @abstractmethod
    def generate(self, args):
        """Write the synthetic sample dataset of this task."""

    dataset_convert = None  # detection: `dataset_convert(args)` checks the data and writes the index

    def add_extra_subcommands(self, subparsers):
        """Subcommands only this network has (YOLOv4's `kmeans`), after the shared ones."""


def parse_counts(text, flag, example):
    """TRAIN,VAL,TEST counts of a generate_sample flag."""
    try:
        counts = [int(x) for x in text.split(",")]
    except ValueError:
        counts = []
    if len(counts) != 3 or min(counts) < 1:
        raise UserError(f"{flag} '{text}': expected three positive counts TRAIN,VAL,TEST (e.g. {example})")
    return counts


def normalization(dataset_spec, backbone):
    """(mean, std) of the spec (`dataset.mean/std`), else the backbone's: three values each, std above zero."""
    mean, std = tuple(dataset_spec.mean or backbone.mean), tuple(dataset_spec.std or backbone.std)
    if len(mean) != 3 or len(std) != 3:
        raise UserError(f"dataset.mean {list(mean)} / dataset.std {list(std)}: give three values each (R, G, B)")
    if min(std) <= 0:
        raise UserError(f"dataset.std {list(std)}: every value must be above 0 (pixels are divided by it)")
    return mean, std
