"""Datasets of live evaluation: whole splits as uint8 tensors, with NAS-Bench-201's split rules.

* ``digits``: scikit-learn's 1,797 handwritten digits, 8x8 grayscale (pixel values 0..16), the
  offline default. The networks take them as they are: their stem has one input channel and
  the three stages run at 8x8, 4x4 and 2x2, so an evaluation is cheap on a CPU (the stem's
  parameters differ from the RGB networks' by 2 x 16 x 9). Split 60/20/20 into
  train/valid/test with a fixed permutation (seed 0).
* ``cifar10``: the CIFAR-10 python files. As NAS-Bench-201's ``cifar10-valid``: train on one half
  of the training set, validate on the other half, test on the test set.
* ``cifar100``: the CIFAR-100 python files: train on the training set, validate on one half of
  the test set and test on the other (NAS-Bench-201's ``x-valid`` / ``x-test``).
* ``ImageNet16-120``: NAS-Bench-201's 16x16 downsampled ImageNet files, classes 1..120: train on
  the training batches, validate and test on the two halves of ``val_data``.

The halves are drawn with a fixed permutation (seed 0); NAS-Bench-201's own split files are not
distributed with it, so the splits are of the same sizes but not the same images. Normalisation
uses the per-channel mean and standard deviation of the training split. Every pickle is read
with nasgym's restricted unpickler (plain containers and numpy arrays only).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from nasgym.tables.importers.safe_pickle import load_pickle
from nasgym.tables.store import default_cache_dir
from nasgym.training.config import check_live_dataset

#: seed of the fixed permutations that split the data (not the training seed).
SPLIT_SEED = 0
DIGITS_FRACTIONS = (0.6, 0.2)  # train, valid; the rest is test


@dataclass(frozen=True)
class PickleFormat:
    """A dataset stored as pickled dicts of ``data`` (N x C*H*W uint8, channel planes) and labels.

    :param name: dataset name.
    :param subdir: the folder name of the official archive, looked for inside ``data_dir`` too.
    :param train_files: files of the training pool.
    :param eval_files: files of the evaluation pool (the official test or validation set).
    :param label_key: key of the labels.
    :param shape: (C, H, W) of one image.
    :param first_label: the label of the first class (ImageNet16 counts from 1).
    :param num_classes: classes kept (labels ``first_label .. first_label + num_classes - 1``).
    :param labels_up_to: the largest label the files may hold.
    :param crop_padding: zero padding of the random-crop augmentation.
    """

    name: str
    subdir: str
    train_files: tuple[str, ...]
    eval_files: tuple[str, ...]
    label_key: str
    shape: tuple[int, int, int]
    first_label: int
    num_classes: int
    labels_up_to: int
    crop_padding: int

    def describe(self) -> str:
        """The expected files, for error messages."""
        c, h, w = self.shape
        files = ", ".join(self.train_files[:1] + (("...", self.train_files[-1]) if len(self.train_files) > 1 else ()))
        first, last = self.first_label, self.labels_up_to
        return (
            f"the {self.name} python-pickle files ({files}, {', '.join(self.eval_files)}), each a pickled dict "
            f"with 'data' (N x {c * h * w} uint8: {c} channel planes of {h}x{w}) and '{self.label_key}' "
            f"(N ints in {first}..{last}), in data_dir or its subfolder {self.subdir!r}"
        )


FORMATS: dict[str, PickleFormat] = {
    "cifar10": PickleFormat(
        "CIFAR-10", "cifar-10-batches-py", tuple(f"data_batch_{i}" for i in range(1, 6)), ("test_batch",),
        "labels", (3, 32, 32), 0, 10, 9, 4,
    ),
    "cifar100": PickleFormat(
        "CIFAR-100", "cifar-100-python", ("train",), ("test",), "fine_labels", (3, 32, 32), 0, 100, 99, 4
    ),
    "ImageNet16-120": PickleFormat(
        "ImageNet16-120", "ImageNet16", tuple(f"train_data_batch_{i}" for i in range(1, 11)), ("val_data",),
        "labels", (3, 16, 16), 1, 120, 1000, 2,
    ),
}  # fmt: skip


@dataclass(frozen=True)
class Split:
    """Images (N, C, H, W) uint8 and labels (N,) int64 of one split."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)

    def to(self, device: torch.device) -> Split:
        return Split(self.images.to(device), self.labels.to(device))


@dataclass(frozen=True)
class ImageDataset:
    """The three splits of a dataset and what training needs to know about them.

    :param name: dataset name.
    :param train: training split.
    :param valid: validation split (the reward).
    :param test: test split (reported only).
    :param num_classes: number of classes.
    :param mean: per-channel mean of the training images, (C,) float32, in pixel units.
    :param std: per-channel standard deviation of the training images, likewise.
    :param crop_padding: zero padding of the random-crop augmentation.
    """

    name: str
    train: Split
    valid: Split
    test: Split
    num_classes: int
    mean: torch.Tensor
    std: torch.Tensor
    crop_padding: int

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return tuple(self.train.images.shape[1:])

    def to(self, device: torch.device) -> ImageDataset:
        return ImageDataset(
            self.name, self.train.to(device), self.valid.to(device), self.test.to(device),
            self.num_classes, self.mean.to(device), self.std.to(device), self.crop_padding,
        )  # fmt: skip


def _halves(images: np.ndarray, labels: np.ndarray) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    """Two halves of a pool, by the fixed split permutation."""
    order = np.random.default_rng(SPLIT_SEED).permutation(len(labels))
    first, second = order[: len(order) // 2], order[len(order) // 2 :]
    return (images[first], labels[first]), (images[second], labels[second])


def _digits() -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ImportError("the digits dataset needs scikit-learn: pip install scikit-learn") from None
    digits = load_digits()
    images = digits.images.astype(np.uint8)[:, None]  # values 0..16, one channel
    labels = digits.target.astype(np.int64)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(labels))
    n_train, n_valid = (int(f * len(order)) for f in DIGITS_FRACTIONS)
    parts = np.split(order, [n_train, n_train + n_valid])
    return tuple((images[p], labels[p]) for p in parts)


def _read_file(path: Path, fmt: PickleFormat) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, C, H, W) and 0-based labels of the kept classes of one pickle file."""
    expected = fmt.describe()
    try:
        raw = load_pickle(path, arrays=True, encoding="latin1")
    except Exception as exc:  # any damage: truncated, not a pickle, foreign globals
        raise ValueError(f"{path} is not a readable {fmt.name} pickle ({exc}); expected {expected}") from exc
    if not isinstance(raw, dict):
        raise ValueError(f"{path} holds a {type(raw).__name__}, not a dict; expected {expected}")
    record = {k.decode() if isinstance(k, bytes) else k: v for k, v in raw.items()}
    if "data" not in record or fmt.label_key not in record:
        raise ValueError(f"{path} has keys {sorted(record)}; expected {expected}")
    data, labels = np.asarray(record["data"]), np.asarray(record[fmt.label_key])
    c, h, w = fmt.shape
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != c * h * w:
        raise ValueError(f"{path}: 'data' is {data.dtype} of shape {data.shape}; expected {expected}")
    if labels.shape != (len(data),) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{path}: '{fmt.label_key}' is {labels.dtype} of shape {labels.shape}; expected {expected}")
    if len(labels) and (labels.min() < fmt.first_label or labels.max() > fmt.labels_up_to):
        raise ValueError(f"{path}: labels range {labels.min()}..{labels.max()}; expected {expected}")
    keep = labels < fmt.first_label + fmt.num_classes
    return data[keep].reshape(-1, c, h, w), labels[keep].astype(np.int64) - fmt.first_label


def _read_pool(folder: Path, files: tuple[str, ...], fmt: PickleFormat) -> tuple[np.ndarray, np.ndarray]:
    parts = [_read_file(folder / name, fmt) for name in files]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _find_folder(data_dir: Path, fmt: PickleFormat) -> Path:
    """``data_dir`` or its official subfolder, whichever holds all the files."""
    for folder in (data_dir, data_dir / fmt.subdir):
        if (folder / fmt.train_files[0]).is_file():
            missing = [n for n in fmt.train_files + fmt.eval_files if not (folder / n).is_file()]
            if missing:
                raise FileNotFoundError(f"{folder / missing[0]} is missing; expected {fmt.describe()}")
            return folder
    raise FileNotFoundError(f"{data_dir / fmt.train_files[0]} is missing; expected {fmt.describe()}")


def default_data_dir(dataset: str) -> Path:
    """Where a dataset's files are looked for when no ``data_dir`` is given: ``<cache>/datasets/<name>``."""
    return default_cache_dir() / "datasets" / dataset


def _pickled(dataset: str, data_dir: Path) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    fmt = FORMATS[dataset]
    folder = _find_folder(data_dir, fmt)
    train_pool, eval_pool = _read_pool(folder, fmt.train_files, fmt), _read_pool(folder, fmt.eval_files, fmt)
    if dataset == "cifar10":
        return (*_halves(*train_pool), eval_pool)
    return (train_pool, *_halves(*eval_pool))


@functools.lru_cache(maxsize=4)
def load_dataset(dataset: str, data_dir: Path | str | None = None) -> ImageDataset:
    """The splits of ``dataset`` on the CPU, read once per process.

    :param dataset: ``"digits"``, ``"cifar10"``, ``"cifar100"`` or ``"ImageNet16-120"``.
    :param data_dir: folder of the dataset's files (not used by digits); default
        :func:`default_data_dir`.
    :raises FileNotFoundError: a file is missing (the message names it and the expected format).
    :raises ValueError: a file is damaged or not of the expected format (likewise).
    """
    check_live_dataset(dataset)
    if dataset == "digits":
        parts, num_classes, padding = _digits(), 10, 0
    else:
        folder = Path(os.path.expanduser(data_dir)) if data_dir is not None else default_data_dir(dataset)
        parts, num_classes, padding = (
            _pickled(dataset, folder),
            FORMATS[dataset].num_classes,
            FORMATS[dataset].crop_padding,
        )
    for (_, labels), split in zip(parts, ("train", "valid", "test"), strict=True):
        if len(labels) == 0:
            raise ValueError(f"dataset {dataset!r} has an empty {split} split: its files hold too few images")
    train_images = parts[0][0].astype(np.float64)
    mean = train_images.mean(axis=(0, 2, 3))
    std = np.maximum(train_images.std(axis=(0, 2, 3)), 1e-6)  # a constant channel must not divide by 0
    splits = [Split(torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y)) for x, y in parts]
    return ImageDataset(
        dataset, *splits, num_classes,
        torch.tensor(mean, dtype=torch.float32), torch.tensor(std, dtype=torch.float32), padding,
    )  # fmt: skip


@functools.lru_cache(maxsize=4)
def dataset_on(dataset: str, data_dir: Path | str | None, device: torch.device) -> ImageDataset:
    """:func:`load_dataset` moved to ``device`` once per process (training indexes it there)."""
    return load_dataset(dataset, data_dir).to(device)
