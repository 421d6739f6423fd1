"""Live evaluation of the Q-networks of an RL agent (the dqn-arch space): train a Double DQN, score its return.

A query trains :class:`~nasgym.training.dqn.DQNConfig`'s ``seeds`` agents with the queried
Q-network on the Gymnasium task (the evaluator's ``dataset``) and answers their mean greedy return
over seeded episodes. Everything else is the live evaluator's: the result store (a result is kept
the moment it exists; a repeated query, a resumed build or another process reads it back),
``nasgym data build dqn-arch --task T`` and the envs' ``evaluator="live"``.

:class:`DQNSupernetEvaluator` is the weight-sharing evaluator of the space (``evaluator="supernet"``):
one Q-network of the widest widths, sliced for narrower ones, trained by one Double DQN agent
query after query.

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

import numpy as np

from nasgym.evaluators.live import LiveEvaluator, open_store
from nasgym.evaluators.store import ResultStore
from nasgym.evaluators.supernet import SharedWeightsEvaluator
from nasgym.models.dqn_supernet import SharedQNetwork
from nasgym.spaces import get_space
from nasgym.spaces.dqn_arch import DQNArchSpace, task_shape
from nasgym.training.dqn import (
    TEST_EPISODE_SEED,
    VALID_EPISODE_SEED,
    DoubleDQN,
    DQNConfig,
    greedy_returns,
    train_dqn,
)


def _dqn_arch_space(space: str, evaluator: str) -> DQNArchSpace:
    """The dqn-arch space, or a ValueError naming the evaluator and the space it was given."""
    search_space = get_space(space)
    if not isinstance(search_space, DQNArchSpace):
        raise ValueError(f"{evaluator} evaluates the 'dqn-arch' space, got {space!r}")
    return search_space


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
        self.space = _dqn_arch_space(space, "DQNEvaluator")
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


class DQNSupernetEvaluator(SharedWeightsEvaluator):
    """Scores the Q-networks of the dqn-arch space under one shared Q-network, trained query by query
    by one Double DQN agent (ENAS's weight sharing for the Q-network of an RL agent).

    One :class:`~nasgym.models.dqn_supernet.SharedQNetwork` holds every architecture: the widest
    network's weights, whose leading slices a narrower one uses. A query continues the agent's
    training (:class:`~nasgym.training.dqn.DoubleDQN`) for ``steps`` environment steps with the
    queried architecture as its Q-network (``sampling="architecture"``: ENAS) or with one drawn
    uniformly for that query (``"uniform"``: a training phase of DQN is the unit a draw trains), then
    scores the queried architecture: the mean return of its greedy policy under the shared weights
    over the validation episodes the live evaluator uses. Inside :meth:`frozen` a query only scores.

    The environment, replay buffer, Adam state, target network and step count carry over from one
    query to the next: the queries are one training run whose Q-network changes architecture. Its
    epsilon falls over the first ``exploration_fraction * steps`` environment steps (the first
    query), as in a standalone run of ``steps``; gradient steps start after ``learning_starts``
    environment steps counted over all queries. Training and scoring are seeded by ``seed``; the
    caller's rng is not used.

    Metrics: ``valid_acc`` and ``test_acc`` are 100 x the mean greedy return over the validation and
    the held-out test episodes (as :class:`DQNEvaluator`'s), ``flops`` and ``params`` (M) the
    standalone Q-network's, ``latency`` NaN, ``cost`` the seconds the query took (training and
    scoring), ``trained_steps`` the environment steps the shared network has been trained for so far.

    :param space: ``"dqn-arch"``.
    :param dataset: a Gymnasium id with a discrete action space (``"CartPole-v1"``, ...).
    :param steps: environment steps of training per query (default 256: with ``CartPole-v1``'s
        ``train_freq`` of 256, one phase of 128 gradient steps per query once learning has started).
    :param sampling: ``"architecture"`` or ``"uniform"`` (see above).
    :param dqn_kwargs: fields of :class:`~nasgym.training.dqn.DQNConfig` but ``steps`` (``seed``,
        ``learning_rate``, ``train_freq``, ``device``, ``num_threads``, ...; ``None`` ones from the
        task's preset); ``seeds`` is 1: one agent trains the shared network.
    """

    def __init__(
        self,
        space: str = "dqn-arch",
        dataset: str = "CartPole-v1",
        *,
        steps: int = 256,
        sampling: str = "architecture",
        **dqn_kwargs: Any,
    ) -> None:
        self.space = _dqn_arch_space(space, "DQNSupernetEvaluator")
        self.n_inputs, self.n_actions = task_shape(dataset)
        self.dataset = dataset
        self._start(steps, sampling)
        if dqn_kwargs.get("seeds", 1) != 1:
            raise ValueError(
                f"seeds must be 1 with the supernet (one agent trains the shared network), got {dqn_kwargs['seeds']!r}"
            )
        self.config = DQNConfig.from_kwargs(
            also_accepted=("space", "dataset", "sampling"), **{**dqn_kwargs, "steps": self.steps, "seeds": 1}
        )
        n_inputs, n_actions = self.n_inputs, self.n_actions
        with self._threads():
            self.agent = DoubleDQN(
                lambda generator: SharedQNetwork(n_inputs, n_actions, generator), dataset, self.config
            )
        self._draws = np.random.default_rng(self.config.seed)

    def __repr__(self) -> str:
        return f"DQNSupernetEvaluator({self.dataset!r}, steps={self.steps}, sampling={self.sampling!r})"

    def close(self) -> None:
        """Close the training environments."""
        self.agent.close()

    def _select(self, choices: np.ndarray) -> None:
        """Make the architecture of a choice vector the one the online and target networks compute."""
        widths, activations = self.space.widths(choices).tolist(), self.space.activations(choices)
        self.agent.online.select(widths, activations)
        self.agent.target.select(widths, activations)

    def evaluate_one(self, index: int, rng: np.random.Generator | None = None) -> dict[str, float]:
        index = int(self.space.check_index(index))
        start = time.perf_counter()
        config, agent = self.agent.config, self.agent
        with self._threads():
            if self.trains:
                uniform = self.sampling == "uniform"
                self._select(self.space.sample(self._draws) if uniform else self.space.choices_of(index))
                agent.train(self.steps)
                self.trained_steps = agent.env_steps
            self._select(self.space.choices_of(index))
            network = agent.online.extract()
            valid = greedy_returns(network, self.dataset, config.eval_episodes, VALID_EPISODE_SEED, agent.device)
            test = greedy_returns(network, self.dataset, config.eval_episodes, TEST_EPISODE_SEED, agent.device)
        millions = float(self.space.param_count(self.space.choices_of(index), self.n_inputs, self.n_actions)) / 1e6
        return {
            "valid_acc": 100.0 * float(valid.mean()), "test_acc": 100.0 * float(test.mean()), "flops": millions,
            "params": millions, "latency": math.nan, "cost": time.perf_counter() - start,
            "trained_steps": float(self.trained_steps),
        }  # fmt: skip
