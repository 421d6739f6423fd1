"""Optuna samplers as search agents, named ``optuna:<Sampler>``: Bayesian optimisation (TPE, Gaussian
processes) and Optuna's other samplers on the Global env.

One adapter, :class:`OptunaAgent`, runs every sampler of :data:`OPTUNA_SAMPLERS`::

    agent = make_agent("optuna:TPE", n_startup_trials=20)  # keyword arguments go to TPESampler(...)
    result = agent.run(gym.make("NAS-Bench-201-Global-v0", budget=500), seed=0)

The space is one categorical parameter per decision, named as the decision, over the decision's
choice labels (:attr:`~nasgym.spaces.SearchSpace.decision_names`,
:attr:`~nasgym.spaces.SearchSpace.choices`). Each trial is one query: the adapter asks the study
for a trial, sends its choices to the env as one Global action, and tells the study the observed
validation accuracy (``info["valid_acc"]``, seed noise included), maximised. A sampler may propose
an architecture it has proposed before; that trial queries it again, as a repeated query costs a
real search one more training. ``agent.study`` is the study of the last run.

Samplers (the key after ``optuna:``; the class is ``optuna.samplers.<key>Sampler``):

| key | what |
|---|---|
| TPE | tree-structured Parzen estimator (Bergstra et al. 2011), Optuna's default |
| GP | Gaussian-process Bayesian optimisation (needs torch and scipy) |
| Random | uniform independent sampling |
| NSGAII, NSGAIII | genetic algorithms (single objective here) |

CmaEs and QMC are refused: they sample only numeric parameters themselves and draw categorical ones
with their independent fallback, i.e. they would run random search under another name. Grid and
PartialFixed need a grid or a base sampler, not a search space; BruteForce ends its study with
``Study.stop()`` once it has tried every combination, which Optuna allows only inside ``optimize``.

Seeding. The env's first reset takes the run's ``seed``, as with every agent; the sampler's
``seed`` argument is drawn from the agent's own stream (:func:`~nasgym.agents._utils.agent_rng`).
Same seed, same queries. Optuna's log messages below warnings are silenced during a run.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import math
import warnings
from collections.abc import Iterator
from typing import Any

import gymnasium as gym
import numpy as np

from nasgym.agents._utils import agent_rng
from nasgym.agents.base import SearchAgent

#: prefix of the adapter's agent names: ``optuna:TPE``.
OPTUNA_PREFIX = "optuna:"
#: sampler key -> what it is (the class is ``optuna.samplers.<key>Sampler``).
OPTUNA_SAMPLERS: dict[str, str] = {
    "TPE": "tree-structured Parzen estimator",
    "GP": "Gaussian-process Bayesian optimisation",
    "Random": "uniform independent sampling",
    "NSGAII": "genetic algorithm NSGA-II",
    "NSGAIII": "genetic algorithm NSGA-III",
}
#: samplers refused, and why.
REFUSED_SAMPLERS: dict[str, str] = {
    "CmaEs": "it samples numeric parameters only and draws categorical ones at random (use optuna:Random)",
    "QMC": "it samples numeric parameters only and draws categorical ones at random (use optuna:Random)",
    "Grid": "it searches a grid given to it, not a search space",
    "PartialFixed": "it fixes some parameters of a base sampler; give the base sampler's key instead",
    "BruteForce": "it stops its study once every combination is tried, which Optuna allows only inside optimize()",
}
#: the adapter's agent names, as :func:`~nasgym.agents.make_agent` takes them.
OPTUNA_AGENT_NAMES: tuple[str, ...] = tuple(OPTUNA_PREFIX + key for key in OPTUNA_SAMPLERS)


@contextlib.contextmanager
def _quiet_optuna(optuna: Any) -> Iterator[None]:
    """Run the block with Optuna's logging at warnings and above (restored afterwards)."""
    previous = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(previous)


class OptunaAgent(SearchAgent):
    """An Optuna sampler as a search agent on the Global env (see the module docstring).

    :param sampler: a key of :data:`OPTUNA_SAMPLERS`, e.g. ``"TPE"``; the agent is named
        ``"optuna:" + sampler``.
    :param sampler_kwargs: arguments of the sampler's constructor (``seed`` is set by the run).
    """

    flavours = ("Global",)

    def __init__(self, sampler: str, **sampler_kwargs: Any) -> None:
        if not isinstance(sampler, str) or sampler not in OPTUNA_SAMPLERS:
            why = f" ({REFUSED_SAMPLERS[sampler]})" if isinstance(sampler, str) and sampler in REFUSED_SAMPLERS else ""
            raise ValueError(
                f"agent {OPTUNA_PREFIX + str(sampler)!r} is not available{why}; accepted Optuna samplers: "
                f"{list(OPTUNA_SAMPLERS)} (agent names {list(OPTUNA_AGENT_NAMES)})"
            )
        self.sampler = sampler
        self.name = OPTUNA_PREFIX + sampler
        try:
            self.optuna = importlib.import_module("optuna")
        except ImportError as exc:
            raise ImportError(
                f"agent {self.name!r} needs the optuna package: pip install 'nasgym[optuna]' ({exc})"
            ) from exc
        self.sampler_class = getattr(self.optuna.samplers, f"{sampler}Sampler")
        parameters = inspect.signature(self.sampler_class.__init__).parameters
        accepted = sorted(p for p in parameters if p not in ("self", "seed") and not p.startswith("_"))
        for key in sampler_kwargs:
            if key == "seed":
                raise ValueError(f"agent {self.name!r}: 'seed' is set by run() from the run's seed")
            if key not in accepted:
                raise ValueError(
                    f"agent {self.name!r}: {sampler}Sampler takes no argument {key!r}; accepted: {accepted}"
                )
        self.sampler_kwargs = sampler_kwargs
        #: the Optuna study of the last run (``None`` before one).
        self.study: Any = None

    def unsupported_reason(self, env: gym.Env) -> str | None:
        space = env.unwrapped.search_space
        if len(set(space.decision_names)) != space.n_decisions:
            return "its decisions' names repeat, and each names one Optuna parameter"
        if any(len(set(labels)) != len(labels) for labels in space.choices):
            return "a decision's choice labels repeat, and they are the values of its Optuna parameter"
        return None

    def search(self, env: gym.Env, seed: int) -> None:
        self.check_env(env)
        optuna = self.optuna
        space = env.unwrapped.search_space
        distributions = {
            name: optuna.distributions.CategoricalDistribution(labels)
            for name, labels in zip(space.decision_names, space.choices, strict=True)
        }
        positions = [{label: k for k, label in enumerate(labels)} for labels in space.choices]
        sampler_seed = int(agent_rng(seed).integers(0, 2**31 - 1))
        env.reset(seed=seed)
        with _quiet_optuna(optuna), warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            try:
                sampler = self.sampler_class(seed=sampler_seed, **self.sampler_kwargs)
            except (TypeError, ValueError) as exc:  # a bad value of one of its arguments
                raise ValueError(f"agent {self.name!r}: {exc}") from exc
            self.study = study = optuna.create_study(direction="maximize", sampler=sampler)
            while True:
                trial = study.ask(distributions)
                choices = np.array(
                    [positions[d][trial.params[name]] for d, name in enumerate(space.decision_names)], dtype=np.int64
                )
                _, _, terminated, truncated, info = env.step(choices)
                value = float(info["valid_acc"])
                if math.isfinite(value):
                    study.tell(trial, value)
                else:  # a table without this architecture's accuracy: a failed trial, not a value
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
                if terminated or truncated:
                    return


__all__ = ["OPTUNA_AGENT_NAMES", "OPTUNA_PREFIX", "OPTUNA_SAMPLERS", "REFUSED_SAMPLERS", "OptunaAgent"]
