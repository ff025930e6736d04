"""TAO-semantic pruning on Torch-Pruning's dependency graph."""

from .tao_pruner import layer_widths, prune_model, replay_pruning

__all__ = ["layer_widths", "prune_model", "replay_pruning"]
