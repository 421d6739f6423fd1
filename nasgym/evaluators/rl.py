"""Live evaluation of the Q-networks of an RL agent (the dqn-arch space): train a Double DQN, score its return.

A query trains :class:`~nasgym.training.dqn.DQNConfig`'s ``seeds`` agents with the queried
Q-network on the Gymnasium task (the evaluator's ``dataset``) and answers their mean greedy return
over seeded episodes. Everything else is the live evaluator's: the result store (a result is kept
the moment it exists; a repeated query, a resumed build or another process reads it back),
``nasgym data build dqn-arch --task T`` and the envs' ``evaluator="live"``.

Metrics, in the slots every evaluator fills: ``valid_acc`` is **100 x** the mean return over the
validation episodes, so that the envs' default reward (``valid_acc / 100``) is the mean return
itself, as FCNet's envs reward minus the loss; ``test_acc`` is 100 x the mean return over other,
held-out episodes; ``params`` and ``flops`` (M) are the Q-network's exact parameters and
multiply-adds per observation; ``latency`` is NaN; ``cost`` the seconds the query took.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nasgym.evaluators.live import LiveEvaluator, open_store
from nasgym.evaluators.store import ResultStore
from nasgym.spaces import get_space
from nasgym.spaces.dqn_arch import DQNArchSpace, task_shape
from nasgym.training.dqn import DQNConfig, train_dqn


class DQNEvaluator(LiveEvaluator):
    """Trains Double DQN agents with each queried Q-network on ``dataset`` (a Gymnasium task).

    :param space: ``"dqn-arch"``.
    :param dataset: a Gymnasium id with a discrete action space (``"CartPole-v1"``, ``"LunarLander-v3"``).
    :param store: the result store, or its database file; ``None``: ``live-results.sqlite`` in ``cache_dir``.
    :param cache_dir: nasgym cache directory (default ``$NASGYM_CACHE_DIR`` or the user cache).
    :param dqn_kwargs: fields of :class:`~nasgym.training.dqn.DQNConfig` (``steps``, ``seeds``,
        ``seed``, ``device``, ...; ``None`` ones from the task's preset).
    """

    def __init__(
        self,
        space: str = "dqn-arch",
        dataset: str = "CartPole-v1",
        *,
        store: ResultStore | Path | str | None = None,
        cache_dir: Path | str | None = None,
        **dqn_kwargs: Any,
    ) -> None:
        self.space = get_space(space)
        if not isinstance(self.space, DQNArchSpace):
            raise ValueError(f"DQNEvaluator evaluates the 'dqn-arch' space, got {space!r}")
        self.n_inputs, self.n_actions = task_shape(dataset)
        self.dataset = dataset
        self.config = DQNConfig.from_kwargs(also_accepted=("space", "dataset", "store", "cache_dir"), **dqn_kwargs)
        self.config_hash = self.config.config_hash(dataset)
        self.data_dir = None
        self.store = open_store(store, cache_dir)
        self._executor = None  # agents train in this process, batched over seeds
        self.n_trained = 0
        self.n_cached = 0

    def __repr__(self) -> str:
        return f"DQNEvaluator({self.dataset!r}, config_hash={self.config_hash!r})"

    def _run(self, indices: list[int]) -> Iterator[tuple[int, dict[str, Any]]]:
        """``(index, metrics)`` of each architecture as its agents finish training."""
        for index in indices:
            start = time.perf_counter()
            choices = self.space.choices_of(index)
            result = train_dqn(
                self.space.widths(choices).tolist(), self.space.activations(choices), self.dataset, self.config
            )
            millions = float(self.space.param_count(choices, self.n_inputs, self.n_actions)) / 1e6
            yield (
                index,
                {
                    "valid_acc": 100.0 * result["valid_return"],
                    "test_acc": 100.0 * result["test_return"],
                    "flops": millions,
                    "params": millions,
                    "latency": math.nan,
                    "cost": time.perf_counter() - start,
                    "train_time": result["train_time"],
                    "train_loss": result["train_loss"],
                    "train_acc": 100.0 * result["train_return"],
                    "wall_time": time.perf_counter() - start,
                    "device": result["device"],
                    "valid_return": result["valid_return"],
                    "test_return": result["test_return"],
                    "valid_returns": result["valid_returns"],
                    "return_curve": result["return_curve"],
                },
            )
