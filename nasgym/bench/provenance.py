"""What a run depended on: a fingerprint of the tables its evaluators answer from, the versions
of the packages behind it and the machine it ran on (one ``runs.csv`` column each)."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

import numpy as np

from nasgym.evaluators import Evaluator

#: spaces up to this size are probed at every architecture; larger ones at PROBE_SAMPLE fixed ones
PROBE_ALL_UP_TO = 100_000
PROBE_SAMPLE = 1_000
#: generators of the reward evaluator's noisy answers in the probe
PROBE_DRAWS = 3


def _probe_indices(evaluator: Evaluator) -> np.ndarray:
    space = evaluator.space
    if space.size <= PROBE_ALL_UP_TO:
        return np.arange(space.size, dtype=np.int64)
    return np.asarray(space.sample(np.random.default_rng(0), PROBE_SAMPLE), dtype=np.int64)


def _digest(hasher: hashlib._Hash, values: np.ndarray) -> None:
    values = np.asarray(values, dtype=np.float64)
    hasher.update(np.where(np.isnan(values), -1.0, values).tobytes())  # one spelling of NaN


def _is_live(evaluator: Evaluator) -> bool:
    return type(evaluator).__module__ in ("nasgym.evaluators.live", "nasgym.evaluators.rl")


def tables_fingerprint(reward: Evaluator, report: Evaluator) -> str:
    """A fingerprint of the tables (or surrogate) behind a run: 16 hex digits of a sha256 over what
    its evaluators answer for a fixed probe (every architecture of a space of up to
    :data:`PROBE_ALL_UP_TO`, else :data:`PROBE_SAMPLE` fixed ones): the reward evaluator's
    validation accuracy and cost under :data:`PROBE_DRAWS` fixed generators (its noise included)
    and the report evaluator's validation and test accuracy, and both optima. Two runs with equal
    fingerprints read the same values wherever the probe looks. Live training has no tables:
    ``"live"``.

    :param reward: the evaluator of the env the run searched.
    :param report: the evaluator that reports the selected architecture (seed-mean).
    """
    if _is_live(reward) or _is_live(report):
        return "live"
    hasher = hashlib.sha256()
    for draw in range(PROBE_DRAWS):
        answers = reward.evaluate(_probe_indices(reward), np.random.default_rng(draw))
        _digest(hasher, answers["valid_acc"])
        _digest(hasher, answers["cost"])
    answers = report.evaluate(_probe_indices(report), np.random.default_rng(0))
    _digest(hasher, answers["valid_acc"])
    _digest(hasher, answers["test_acc"])
    _digest(hasher, np.array([reward.best_valid_acc, report.best_valid_acc]))
    return hasher.hexdigest()[:16]


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "absent"


@functools.cache
def versions() -> str:
    """``nasgym=... numpy=... gymnasium=... torch=...`` of this process (torch ``absent`` where it is)."""
    import nasgym

    found = {"nasgym": nasgym.__version__, "numpy": np.__version__}
    found |= {package: _version(package) for package in ("gymnasium", "torch")}
    return " ".join(f"{package}={version}" for package, version in found.items())


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``; elsewhere what :mod:`platform` knows)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _gpus() -> str:
    if shutil.which("nvidia-smi") is None:
        return "no GPU"
    try:
        names = subprocess.run(
            ["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True, timeout=10
        ).stdout.split("\n")
    except (OSError, subprocess.SubprocessError):
        return "GPU unknown (nvidia-smi failed)"
    names = [name.strip() for name in names if name.strip()]
    return ", ".join(names) or "no GPU"


@functools.cache
def machine() -> str:
    """``<CPU model>, <N> cores, <GPUs or 'no GPU'>`` of the machine this process runs on."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{cpu_model()}, {cores} cores, {_gpus()}"


def write_results(out: Path, record: dict, report: str, indent: int = 1) -> None:
    """Write a benchmark script's record as JSON to ``out`` and its markdown ``report`` beside it
    (``out`` with suffix ``.md``), and print the report.

    :param out: the JSON file; its folder is created.
    :param record: JSON-able results (NaN refused: a results file holds numbers or null).
    :param report: the markdown the script made of ``record``.
    :param indent: JSON indentation.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=indent, allow_nan=False) + "\n")
    out.with_suffix(".md").write_text(report)
    print(report)
