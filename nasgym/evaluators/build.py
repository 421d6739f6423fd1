"""Turn a small search space into a benchmark: train every architecture, write a table.

Training goes through the live evaluator, so every result lands in the result store the moment it
exists: a build that is interrupted resumes where it stopped, and the table is written once all
architectures are known. The tabular evaluator then serves it like any benchmark table
(``gym.make(..., evaluator="tabular", dataset=D)``). Each training configuration writes its own
table source (``live-<config hash>``); when several exist, the newest build wins where they overlap.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from nasgym.evaluators.live import LiveEvaluator, make_live_evaluator
from nasgym.tables import SPACE_DATASETS, TableStore, clear_memory_cache
from nasgym.training.config import TABULAR_SPACES

logger = logging.getLogger(__name__)

#: table metric <- live evaluator key (one seed: the configuration's)
TABLE_METRICS: dict[str, str] = {
    "valid_acc": "valid_acc",
    "test_acc": "test_acc",
    "train_time": "train_time",
    "flops": "flops",
    "params": "params",
    "latency": "latency",
}


def source_name(config_hash: str) -> str:
    """Name of the table source a build with this configuration writes."""
    return f"live-{config_hash}"


def build_table(
    space: str, dataset: str, *, cache_dir: Path | str | None = None, **live_kwargs: Any
) -> tuple[Path, LiveEvaluator]:
    """Train every architecture of ``space`` on ``dataset`` (resuming from the store) and write its table.

    :param space: search space name; keep it small (the ConvNet space: 1,364 networks).
    :param dataset: live dataset name.
    :param cache_dir: nasgym cache directory (result store and tables); default the user cache.
    :param live_kwargs: arguments of :class:`LiveEvaluator` (``epochs``, ``batch_size``, ``device``,
        ``data_dir``, ``executor``, ``workers``, ...).
    :returns: the folder of the written table source, and the evaluator (its ``n_trained`` and
        ``n_cached`` tell what this build did).
    """
    if dataset in SPACE_DATASETS.get(space, ()) and space not in TABULAR_SPACES:  # FFN's shipped table is a build
        raise ValueError(
            f"space {space!r} already has the official {dataset!r} benchmark table; a build would overlay it "
            "with results of another training recipe. Build on another dataset (e.g. digits)"
        )
    evaluator = make_live_evaluator(space, dataset, cache_dir=cache_dir, **live_kwargs)
    try:
        size = evaluator.space.size
        logger.info("building the %s table of %s: %d architectures", dataset, space, size)
        metrics = evaluator.evaluate(np.arange(size, dtype=np.int64))
    finally:
        evaluator.close()
    arrays = {name: np.asarray(metrics[key], dtype=np.float64)[:, None] for name, key in TABLE_METRICS.items()}
    details = {
        "built_by": "nasgym data build",
        "experiment": evaluator.config.experiment(dataset),
        "devices": sorted(set(metrics["device"].tolist())),
    }
    source = source_name(evaluator.config_hash)
    path = TableStore(cache_dir).write(space, dataset, source, arrays, evaluator.config_hash, details)
    clear_memory_cache()
    return path, evaluator
