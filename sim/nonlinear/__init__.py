"""sim.nonlinear — nonlinear networks with a plain, DLN or compressed-DLN penultimate layer (Table 1).

Follow a run: ``TrainConfig`` (train.py) → ``load_dataset`` (data.py) → ``MLP`` / ``ViT`` with a
``Penultimate`` layer (models.py) → ``train`` → ``TrainResult``.
"""

from .data import DATASETS, DataError, ImageData, load_cifar10, load_dataset, load_fashion_mnist, load_mnist
from .models import (MLP, VARIANTS, VIT_PRESETS, Penultimate, ViT, macs_per_example, param_count, param_groups,
                     penultimate_matrix)
from .cache import config_key, train_cached
from .train import TrainConfig, TrainResult, build_model, train

__all__ = [
    "DATASETS", "DataError", "ImageData", "load_dataset", "load_fashion_mnist", "load_mnist", "load_cifar10",
    "MLP", "ViT", "Penultimate", "VARIANTS", "VIT_PRESETS", "macs_per_example", "param_count", "param_groups",
    "penultimate_matrix", "TrainConfig", "TrainResult", "build_model", "train", "train_cached", "config_key",
]
