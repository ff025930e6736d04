"""TAO-semantic pruning on Torch-Pruning's dependency graph."""

from .tao_pruner import cut, keep_counts, layer_widths, plan, prune_model, replay_pruning, score_groups

__all__ = ["cut", "keep_counts", "layer_widths", "plan", "prune_model", "replay_pruning", "score_groups"]
