"""Live training data (digits, CIFAR and ImageNet16 files in their published formats) and the trainer."""

from __future__ import annotations

import logging
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from nasgym.spaces import ConvNetSpace  # noqa: E402
from nasgym.training import TrainConfig  # noqa: E402
from nasgym.training.data import load_dataset  # noqa: E402
from nasgym.training.trainer import _augment, evaluate_architecture, resolve_device  # noqa: E402

QUICK = {"epochs": 1, "batch_size": 8, "num_threads": 1, "progress": False}


def write_batch(path: Path, n: int, pixels: int, label_key: str, labels, start: int = 0, bytes_keys: bool = True):
    """One pickle of the CIFAR/ImageNet16 python format; image i is filled with the value start + i."""
    data = np.repeat((start + np.arange(n, dtype=np.int64)) % 256, pixels).reshape(n, pixels).astype(np.uint8)
    record = {"data": data, label_key: list(labels), "batch_label": "tiny"}
    if bytes_keys:  # as Python 2 wrote the real files
        record = {k.encode(): v for k, v in record.items()}
    with open(path, "wb") as handle:
        pickle.dump(record, handle, protocol=2)


def tiny_cifar10(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(1, 6):
        write_batch(folder / f"data_batch_{i}", 8, 3072, "labels", np.arange(8) % 10, start=8 * (i - 1))
    write_batch(folder / "test_batch", 10, 3072, "labels", np.arange(10), start=100, bytes_keys=False)
    return folder


def test_digits_splits():
    data = load_dataset("digits")
    assert (len(data.train), len(data.valid), len(data.test)) == (1078, 359, 360)
    assert data.image_shape == (1, 8, 8) and data.num_classes == 10 and data.crop_padding == 0
    assert data.train.images.dtype == torch.uint8 and int(data.train.images.max()) == 16
    assert set(data.train.labels.tolist()) == set(range(10))


def test_cifar10_files_split_as_cifar10_valid(tmp_path):
    data = load_dataset("cifar10", tiny_cifar10(tmp_path / "c10"))
    assert (len(data.train), len(data.valid), len(data.test)) == (20, 20, 10)
    assert data.image_shape == (3, 32, 32) and data.num_classes == 10 and data.crop_padding == 4
    # the training pool's 40 images are split into two disjoint halves, the test set stays whole
    train_ids = set(data.train.images[:, 0, 0, 0].tolist())
    valid_ids = set(data.valid.images[:, 0, 0, 0].tolist())
    assert train_ids | valid_ids == set(range(40)) and not train_ids & valid_ids
    assert set(data.test.images[:, 0, 0, 0].tolist()) == set(range(100, 110))
    # the official archive's subfolder is found too
    nested = tiny_cifar10(tmp_path / "root" / "cifar-10-batches-py").parent
    assert len(load_dataset("cifar10", nested).train) == 20


def test_cifar100_and_imagenet16_files(tmp_path):
    c100 = tmp_path / "c100"
    c100.mkdir()
    write_batch(c100 / "train", 30, 3072, "fine_labels", np.arange(30) * 3)
    write_batch(c100 / "test", 20, 3072, "fine_labels", np.arange(20), start=50)
    data = load_dataset("cifar100", c100)
    assert (len(data.train), len(data.valid), len(data.test), data.num_classes) == (30, 10, 10, 100)
    # ImageNet16-120: labels 1..1000 in the files, classes 1..120 kept as 0..119
    im16 = tmp_path / "im16"
    im16.mkdir()
    for i in range(1, 11):
        write_batch(im16 / f"train_data_batch_{i}", 4, 768, "labels", [1, 120, 121, 1000], bytes_keys=False)
    write_batch(im16 / "val_data", 8, 768, "labels", [1, 2, 3, 500, 4, 5, 6, 7], bytes_keys=False)
    data = load_dataset("ImageNet16-120", im16)
    assert (len(data.train), len(data.valid) + len(data.test)) == (20, 7)
    assert sorted(set(data.train.labels.tolist())) == [0, 119]
    assert data.image_shape == (3, 16, 16) and data.num_classes == 120 and data.crop_padding == 2


def test_missing_and_bad_files_name_the_file_and_the_format(tmp_path):
    folder = tiny_cifar10(tmp_path / "c10")
    (folder / "data_batch_3").unlink()
    with pytest.raises(FileNotFoundError, match=r"data_batch_3 is missing; expected the CIFAR-10 python-pickle files"):
        load_dataset("cifar10", folder)
    with pytest.raises(FileNotFoundError, match=r"empty[/\\]data_batch_1 is missing.*'labels'"):
        load_dataset("cifar10", tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match=r"train_data_batch_1 is missing.*N x 768 uint8"):
        load_dataset("ImageNet16-120", tmp_path / "empty")
    folder = tiny_cifar10(tmp_path / "bad")
    damaged = {
        b"\x00not a pickle at all": r"is not a readable CIFAR-10 pickle",
        pickle.dumps([1, 2, 3]): r"holds a list, not a dict",
        pickle.dumps({"data": np.zeros((2, 3072), np.uint8)}): r"has keys \['data'\]; expected",
        pickle.dumps({"data": np.zeros((2, 100), np.uint8), "labels": [0, 1]}): r"'data' is uint8 of shape \(2, 100\)",
        pickle.dumps({"data": np.zeros((2, 3072), np.uint8), "labels": [0, 10]}): r"labels range 0\.\.10",
        pickle.dumps(os.system): r"refusing to load global",
    }
    for content, message in damaged.items():
        (folder / "data_batch_2").write_bytes(content)
        with pytest.raises(ValueError, match=message) as error:
            load_dataset("cifar10", folder)
        assert "data_batch_2" in str(error.value) and "expected" in str(error.value)
    with pytest.raises(ValueError, match="unknown for live evaluation"):
        load_dataset("mnist")


def test_training_is_repeatable_and_logs_every_epoch(tmp_path, caplog):
    choices = ConvNetSpace().from_string("k3c32")
    config = TrainConfig(**{**QUICK, "epochs": 2, "batch_size": 64})
    with caplog.at_level(logging.INFO, logger="nasgym.training.trainer"):
        first = evaluate_architecture("convnet", choices, "digits", config)
    epochs = [r.getMessage() for r in caplog.records if "epoch" in r.getMessage()]
    assert len(epochs) == 2 and "epoch 2/2" in epochs[1] and "lr 0," in epochs[1]  # cosine ends at 0
    second = evaluate_architecture("convnet", choices, "digits", config)
    timing = {"latency", "train_time", "images_per_s", "wall_time"}
    assert {k: v for k, v in first.items() if k not in timing} == {k: v for k, v in second.items() if k not in timing}
    other = evaluate_architecture("convnet", choices, "digits", TrainConfig(**{**QUICK, "seed": 1, "batch_size": 64}))
    assert other["train_loss"] != first["train_loss"]
    assert first["device"] == str(resolve_device("auto")) and first["params"] == pytest.approx(
        (9 * 32 + 64 + 32 * 10 + 10) / 1e6
    )
    assert 0 <= first["valid_acc"] <= 100 and first["train_time"] > 0 and first["wall_time"] > first["train_time"]


def test_caller_thread_count_and_rng_are_left_alone():
    threads, state = torch.get_num_threads(), torch.random.get_rng_state().clone()
    evaluate_architecture(
        "convnet", np.zeros(11, dtype=np.int64), "digits", TrainConfig(**{**QUICK, "batch_size": 128})
    )
    assert torch.get_num_threads() == threads
    assert torch.equal(torch.random.get_rng_state(), state)


def test_cifar_training_with_augmentation_and_the_cuda_code_paths_on_cpu(tmp_path):
    folder = tiny_cifar10(tmp_path / "c10")
    choices = ConvNetSpace().from_string("k3c32-k5c32")
    config = TrainConfig(**QUICK, amp=True, channels_last=True)  # bfloat16 autocast on the CPU
    assert config.augments("cifar10") and not config.augments("digits")
    metrics = evaluate_architecture("convnet", choices, "cifar10", config, data_dir=folder)
    assert np.isfinite(metrics["train_loss"]) and 0 <= metrics["test_acc"] <= 100
    assert metrics["flops"] == pytest.approx((32 * 32 * (27 * 32 + 25 * 32 * 32) + 32 * 10 + 10) / 1e6)


def test_augment_crops_shifted_windows_and_flips():
    images = torch.arange(2 * 1 * 4 * 4, dtype=torch.float32).reshape(2, 1, 4, 4) + 1
    generator = torch.Generator().manual_seed(0)
    out = _augment(images.repeat(50, 1, 1, 1), 1, generator)
    assert out.shape == (100, 1, 4, 4)
    padded = torch.nn.functional.pad(images, (1, 1, 1, 1))
    windows = {
        (n, flip, dy, dx): padded[n, :, dy : dy + 4, dx : dx + 4].flip(2)
        if flip
        else padded[n, :, dy : dy + 4, dx : dx + 4]
        for n in range(2)
        for flip in (0, 1)
        for dy in range(3)
        for dx in range(3)
    }
    seen = set()
    for i, image in enumerate(out):
        matches = [key for key, window in windows.items() if key[0] == i % 2 and torch.equal(window, image)]
        assert matches, i
        seen.update(matches)
    assert {flip for _, flip, _, _ in seen} == {0, 1} and len({(dy, dx) for _, _, dy, dx in seen}) > 4
    again = _augment(images.repeat(50, 1, 1, 1), 1, torch.Generator().manual_seed(0))
    assert torch.equal(out, again)


def test_device_resolution():
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            resolve_device("cuda")
    with pytest.raises(ValueError, match="device 'tpu' is unknown"):
        TrainConfig(device="tpu")
    with pytest.raises(ValueError, match="epochs must be an integer >= 1"):
        TrainConfig(epochs=0)
