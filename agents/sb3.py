"""Stable-Baselines3 and sb3-contrib algorithms as search agents, named ``sb3:<Algorithm>``.

One adapter, :class:`SB3Agent`, runs every algorithm of :data:`SB3_ALGORITHMS` against a nasgym env::

    agent = make_agent("sb3:PPO", learning_rate=3e-4)  # keyword arguments go to PPO(...)
    result = agent.run(gym.make("NAS-Bench-201-Global-v0", budget=500), seed=0)

It builds the algorithm on the env, trains it with ``learn`` and ends the training on the step that
makes the budget's last query, where the env truncates its episode: SB3 would reset the env and
query on (an on-policy algorithm to the end of its rollout). As for every agent, the result is the
best-validation architecture among the queries made; ``agent.model`` is the trained SB3 model.

Algorithms and the env flavours each searches; another flavour raises a ``ValueError`` naming the
agent and these. DQN and QRDQN take discrete actions only, SAC, TD3 and DDPG continuous ones only;
RecurrentPPO, an LSTM policy like the controller of Zoph & Le, is kept to Sequential, where an
architecture is built one decision per step. MaskablePPO takes only the actions the env's
``action_masks()`` allows at each step, so it searches the Sequential envs that refuse some actions
(NAS-Bench-Graph's), which the other algorithms are refused:

| algorithm | package | flavours |
|---|---|---|
| PPO, A2C | stable_baselines3 | Continuous, Sequential, Global |
| SAC, TD3, DDPG | stable_baselines3 | Continuous |
| DQN | stable_baselines3 | Sequential |
| QRDQN, RecurrentPPO | sb3_contrib | Sequential |
| MaskablePPO | sb3_contrib | Sequential (envs with ``action_masks()``) |

Defaults. SB3's own values suit runs of 10^5 to 10^6 steps; a NAS budget is 500 to 1,000 queries.
One query takes ``q`` env steps (1 on Continuous and Global; on Sequential the space's decisions,
6 on NAS-Bench-201) and the budget allows ``T = budget * q`` steps, which ``learn`` gets as
``total_timesteps`` so that schedules relative to it (DQN's exploration) span the budget. Keyword
arguments of the same name override every default (``policy_kwargs`` given are merged into the
default ones). What every algorithm reaches with these defaults on NAS-Bench-201 is in the committed
grid (``benchmarks/results/nb201``), beside random search and the other agents.

- All: ``device="cpu"``, ``verbose=0``, ``policy="MlpPolicy"`` (RecurrentPPO: ``"MlpLstmPolicy"``).
  The networks are small MLPs; ``device="auto"`` takes a GPU where there is one.
- PPO, RecurrentPPO, MaskablePPO: ``n_steps = batch_size = 16 q`` and ``learning_rate=1e-3``. PPO's rollout
  of 2,048 steps would update at most once in 500 queries (RecurrentPPO's 128 steps: every 21
  queries on Sequential); 16 queries per rollout give 31 full-batch updates, each a larger step.
- PPO, A2C, RecurrentPPO: ``gamma = 0.5 ** (1 / q)``, 0.5 per query (0.89 per step on Sequential,
  where each reward comes on the 6th step). A query's reward does not depend on the queries before
  it, so the return needs no long horizon, and SB3's 0.99 makes the critic chase the sum of a
  hundred future rewards. The replay algorithms keep SB3's 0.99.
- SAC, TD3, DDPG, DQN, QRDQN: ``buffer_size = T``: the whole run fits, and SB3's 10^6 rows are
  not allocated for nothing.
- SAC, TD3, DDPG: ``learning_starts=20``: SB3's 100 random steps are a fifth of a 500-query budget.
- TD3, DDPG: ``action_noise=0.2``, Gaussian noise of std 0.2 on every action entry (a number given
  as ``action_noise`` is read so for any algorithm that takes one): SB3's default, none, acts
  deterministically after the warm-up. The actor's tanh outputs can still saturate at -1 and 1,
  so that it queries a few architectures over and over (the committed grid shows where TD3 and
  DDPG stand against random search); :class:`~nasgym.agents.L2NAS` is the deterministic
  actor-critic built for this env.
- DQN, QRDQN: ``learning_starts = 20 q``, ``target_update_interval = 10 q``: SB3's target network
  updates every 10^4 steps, never within the 3,000 to 6,000 steps of a run.
- DQN, QRDQN: ``learning_rate=1e-3``, ``exploration_fraction=0.25``,
  ``exploration_final_eps=0.05``. A run makes only about 750 gradient steps (SB3's
  ``train_freq=4`` kept), hence 10 times SB3's learning rate of 1e-4 (QRDQN: 20 times 5e-5);
  epsilon decays over the first quarter of the budget instead of SB3's first tenth (QRDQN: 0.5
  percent, 15 queries).
- QRDQN: ``policy_kwargs={"n_quantiles": 50}``: the quantile loss has a term for every pair of
  predicted and target quantiles, so SB3's 200 would give each sample 16 times the terms of 50.

Seeding. The env's first reset takes the run's ``seed``, as with every agent; the algorithm is
seeded (its ``seed`` argument: torch, numpy, Python and its action space) from the agent's own
stream (:func:`~nasgym.agents._utils.agent_rng`), so its random actions are not the draws behind the
env's seed noise. Same seed, same queries on the same machine (torch's CPU kernels may round
differently on another CPU, and change the query sequence). SB3 seeds the global generators of Python,
numpy and torch: they are restored after the run (torch's CPU generator; a GPU's is left alone).
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import inspect
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from numbers import Real
from typing import Any

import gymnasium as gym
import numpy as np

from nasgym.agents._utils import agent_rng, check_float, check_int, torch_threads
from nasgym.agents.base import FLAVOUR_ACTION_SPACES, SearchAgent, env_flavour, invalid_actions_possible

#: prefix of the adapter's agent names: ``sb3:PPO``.
SB3_PREFIX = "sb3:"
#: constructor arguments the run sets itself.
SET_BY_RUN = ("env", "seed")


@dataclass(frozen=True)
class RunShape:
    """What the defaults of one run depend on.

    :param steps_per_query: env steps per query, ``q`` (1; on Sequential the space's decisions).
    :param total_timesteps: env steps of the whole budget, ``T = budget * q``.
    :param action_dim: entries of one action (Continuous: decisions x choices).
    """

    steps_per_query: int
    total_timesteps: int
    action_dim: int


def run_shape(env: gym.Env) -> RunShape:
    """The :class:`RunShape` of a nasgym env (its ``budget`` and, on Sequential, its space's decisions).

    On a Sequential env whose queries take a variable number of steps (ConvNet), ``q`` is the
    space's decisions, an estimate: the run still ends exactly at the budget.
    """
    unwrapped = env.unwrapped
    budget = getattr(unwrapped, "budget", None)
    if budget is None:
        raise ValueError(f"SB3 agents search nasgym envs, which have a query budget; {unwrapped!r} has none")
    steps = unwrapped.search_space.n_decisions if env_flavour(env) == "Sequential" else 1
    return RunShape(int(steps), int(budget) * int(steps), int(np.prod(env.action_space.shape, dtype=np.int64)))


def _discount_per_query(shape: RunShape) -> dict[str, Any]:
    return {"gamma": 0.5 ** (1.0 / shape.steps_per_query)}


def _ppo_defaults(shape: RunShape) -> dict[str, Any]:
    rollout = 16 * shape.steps_per_query
    return {"n_steps": rollout, "batch_size": rollout, "learning_rate": 1e-3, **_discount_per_query(shape)}


def _actor_critic_defaults(shape: RunShape) -> dict[str, Any]:
    return {"buffer_size": shape.total_timesteps, "learning_starts": 20}


def _deterministic_actor_defaults(shape: RunShape) -> dict[str, Any]:
    return {**_actor_critic_defaults(shape), "action_noise": 0.2}


def _dqn_defaults(shape: RunShape) -> dict[str, Any]:
    q = shape.steps_per_query
    return {
        "buffer_size": shape.total_timesteps,
        "learning_starts": 20 * q,
        "target_update_interval": 10 * q,
        "learning_rate": 1e-3,
        "exploration_fraction": 0.25,
        "exploration_final_eps": 0.05,
    }


def _qrdqn_defaults(shape: RunShape) -> dict[str, Any]:
    return {**_dqn_defaults(shape), "policy_kwargs": {"n_quantiles": 50}}


@dataclass(frozen=True)
class SB3Algorithm:
    """One algorithm the adapter runs.

    :param package: ``"stable_baselines3"`` or ``"sb3_contrib"``.
    :param flavours: env flavours it searches.
    :param defaults: the adapter's defaults for a run of a given shape (see the module table).
    :param policy: default policy.
    :param masked: it takes the env's ``action_masks()`` (and needs them).
    """

    package: str
    flavours: tuple[str, ...]
    defaults: Callable[[RunShape], dict[str, Any]]
    policy: str = "MlpPolicy"
    masked: bool = False


_ALL_FLAVOURS = tuple(FLAVOUR_ACTION_SPACES)

#: algorithm name -> what the adapter knows of it; ``sb3:<name>`` runs it.
SB3_ALGORITHMS: dict[str, SB3Algorithm] = {
    "PPO": SB3Algorithm("stable_baselines3", _ALL_FLAVOURS, _ppo_defaults),
    "A2C": SB3Algorithm("stable_baselines3", _ALL_FLAVOURS, _discount_per_query),
    "SAC": SB3Algorithm("stable_baselines3", ("Continuous",), _actor_critic_defaults),
    "TD3": SB3Algorithm("stable_baselines3", ("Continuous",), _deterministic_actor_defaults),
    "DDPG": SB3Algorithm("stable_baselines3", ("Continuous",), _deterministic_actor_defaults),
    "DQN": SB3Algorithm("stable_baselines3", ("Sequential",), _dqn_defaults),
    "QRDQN": SB3Algorithm("sb3_contrib", ("Sequential",), _qrdqn_defaults),
    "RecurrentPPO": SB3Algorithm("sb3_contrib", ("Sequential",), _ppo_defaults, policy="MlpLstmPolicy"),
    "MaskablePPO": SB3Algorithm("sb3_contrib", ("Sequential",), _ppo_defaults, masked=True),
}

#: the adapter's agent names, as :func:`~nasgym.agents.make_agent` takes them.
SB3_AGENT_NAMES: tuple[str, ...] = tuple(SB3_PREFIX + name for name in SB3_ALGORITHMS)


def check_argument(name: str, value: Any) -> None:
    """Raise a ``ValueError`` naming ``name`` and its accepted values for a bad value of an argument
    the adapter sets a default for (SB3 checks few of them itself, some with asserts, only once the
    model is built); values of other arguments are left to the algorithm.

    :param name: constructor argument.
    :param value: its value.
    """
    if name in ("gamma", "exploration_fraction", "exploration_initial_eps", "exploration_final_eps"):
        check_float(name, value, 0.0, 1.0)
    elif name in ("n_steps", "batch_size", "buffer_size", "target_update_interval"):
        check_int(name, value, 1)
    elif name == "learning_starts":
        check_int(name, value, 0)
    elif name == "learning_rate" and not callable(value):  # a callable is a schedule
        check_float(name, value, 0.0, low_open=True)
    elif name == "action_noise" and isinstance(value, Real):  # else an ActionNoise or None
        check_float(name, value, 0.0)


@contextlib.contextmanager
def _global_rngs_restored() -> Iterator[None]:
    """Run the block, then restore the global generators of Python, numpy and torch's CPU (SB3 seeds them)."""
    import torch

    python_state, numpy_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):  # forking a GPU's generator would initialise CUDA
        try:
            yield
        finally:
            random.setstate(python_state)
            np.random.set_state(numpy_state)


class SB3Agent(SearchAgent):
    """A Stable-Baselines3 or sb3-contrib algorithm as a search agent (see the module docstring).

    :param algorithm: a key of :data:`SB3_ALGORITHMS`, e.g. ``"PPO"``; the agent is named
        ``"sb3:" + algorithm`` and searches the flavours listed there.
    :param torch_threads: torch CPU threads during the run (default 1; restored afterwards);
        ``None`` leaves torch's setting alone.
    :param algorithm_kwargs: arguments of the algorithm's constructor, over the adapter's defaults
        (``env`` and ``seed`` are set by the run). ``action_noise`` may be a number: the std of
        Gaussian noise on every action entry.

    SB3's vector env resets the env on the step that ends its episode, so after a run
    ``env.unwrapped.history`` is that of a new, empty episode; the result holds every query.
    """

    def __init__(self, algorithm: str, torch_threads: int | None = 1, **algorithm_kwargs: Any) -> None:
        if not isinstance(algorithm, str) or algorithm not in SB3_ALGORITHMS:
            raise ValueError(
                f"agent {SB3_PREFIX + str(algorithm)!r} is unknown; accepted SB3 algorithms: {list(SB3_ALGORITHMS)} "
                f"(agent names {list(SB3_AGENT_NAMES)})"
            )
        self.algorithm = algorithm
        self.name = SB3_PREFIX + algorithm
        self.sb3_algorithm = SB3_ALGORITHMS[algorithm]
        self.flavours = self.sb3_algorithm.flavours
        self.torch_threads = None if torch_threads is None else check_int("torch_threads", torch_threads, 1)
        self.algorithm_class = self._load()
        self._check_kwargs(algorithm_kwargs)
        self.algorithm_kwargs = algorithm_kwargs
        #: the trained SB3 model of the last run (``None`` before one).
        self.model: Any = None

    def _load(self) -> type:
        try:
            module = importlib.import_module(self.sb3_algorithm.package)
        except ImportError as exc:
            raise ImportError(
                f"agent {self.name!r} needs the {self.sb3_algorithm.package} package: pip install 'nasgym[sb3]' ({exc})"
            ) from exc
        return getattr(module, self.algorithm)

    def _check_kwargs(self, kwargs: dict[str, Any]) -> None:
        parameters = inspect.signature(self.algorithm_class.__init__).parameters
        accepted = sorted(p for p in parameters if p not in ("self", *SET_BY_RUN) and not p.startswith("_"))
        for key, value in kwargs.items():
            if key in SET_BY_RUN:
                raise ValueError(f"agent {self.name!r}: {key!r} is set by run() and is not an argument of the agent")
            if key not in accepted:
                raise ValueError(
                    f"agent {self.name!r}: {self.algorithm} takes no argument {key!r}; accepted: {accepted}"
                )
            check_argument(key, value)

    def algorithm_arguments(self, shape: RunShape) -> dict[str, Any]:
        """The constructor arguments of a run of the given shape: defaults, then the agent's arguments.

        :param shape: the run's :class:`RunShape` (:func:`run_shape` of its env).
        """
        defaults = {
            "policy": self.sb3_algorithm.policy,
            "device": "cpu",
            "verbose": 0,
            **self.sb3_algorithm.defaults(shape),
        }
        given = copy.deepcopy(self.algorithm_kwargs)  # SB3 adds entries to the policy_kwargs it gets
        if "policy_kwargs" in defaults and given.get("policy_kwargs") is not None:
            given["policy_kwargs"] = {**defaults["policy_kwargs"], **given["policy_kwargs"]}
        arguments = {**defaults, **given}
        noise = arguments.get("action_noise")
        if isinstance(noise, Real):
            from stable_baselines3.common.noise import NormalActionNoise

            dim = shape.action_dim
            arguments["action_noise"] = NormalActionNoise(np.zeros(dim), np.full(dim, float(noise)))
        return arguments

    def unsupported_reason(self, env: gym.Env) -> str | None:
        if self.sb3_algorithm.masked:
            if not callable(getattr(env.unwrapped, "action_masks", None)):
                return f"{self.algorithm} follows an env's action_masks(), and this env has none"
            return None
        if invalid_actions_possible(env):
            return (
                f"it refuses some actions of its {env.action_space} at some steps (see its action_masks()), "
                f"and {self.algorithm} samples every action (it takes no action masks); use sb3:MaskablePPO, "
                "or search this space's Global or Continuous env"
            )
        return None

    def search(self, env: gym.Env, seed: int) -> None:
        self.check_env(env)
        from stable_baselines3.common.callbacks import StopTrainingOnMaxEpisodes

        shape = run_shape(env)
        arguments = self.algorithm_arguments(shape)
        model_seed = int(agent_rng(seed).integers(0, 2**31 - 1))
        with _global_rngs_restored(), torch_threads(self.torch_threads):
            try:
                self.model = model = self.algorithm_class(env=env, seed=model_seed, **arguments)
            except AssertionError as exc:  # SB3 checks some arguments with asserts (PPO: batch_size > 1)
                raise ValueError(f"agent {self.name!r}: {exc}") from exc
            model.get_env().seed(seed)  # the first reset takes the run's seed
            # the env's only episode ends at the budget: stop there, not at SB3's next rollout end
            episode_end = StopTrainingOnMaxEpisodes(max_episodes=1)
            model.learn(shape.total_timesteps, callback=episode_end)
            while episode_end.n_episodes < 1:  # queries took more steps than estimated (ConvNet)
                model.learn(shape.total_timesteps, callback=episode_end, reset_num_timesteps=False)


__all__ = [
    "SB3_AGENT_NAMES",
    "SB3_ALGORITHMS",
    "SB3_PREFIX",
    "RunShape",
    "SB3Agent",
    "SB3Algorithm",
    "check_argument",
    "run_shape",
]
