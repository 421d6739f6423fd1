"""Live training: the configuration (importable without torch), datasets and the trainer.

``nasgym.training.data`` and ``nasgym.training.trainer`` import torch; import them only where a
network is trained.
"""

from nasgym.training.config import LIVE_DATASETS, PIPELINE_VERSION, TrainConfig, check_live_dataset

__all__ = ["LIVE_DATASETS", "PIPELINE_VERSION", "TrainConfig", "check_live_dataset"]
