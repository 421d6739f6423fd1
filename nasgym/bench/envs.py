"""The envs of a grid, made from the registry row alone: ``gym.make(id, dataset=..., **env_args)``.

A run searches an env made with its query budget (and the protocol's fidelity, where one is
given); the architecture it selects is reported by the evaluator of the same env id made with
``noise="mean"`` at the env's default fidelity, on the run's dataset.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import gymnasium as gym

from nasgym.evaluators import Evaluator

#: ``gym.make`` arguments that the grid sets itself, and the flag that sets each
GRID_ARGUMENTS = {"dataset": "--datasets", "budget": "--budgets"}


def env_args_text(env_args: Mapping[str, Any]) -> str:
    """The canonical JSON of extra ``gym.make`` arguments (``""`` for none), as ``runs.csv`` holds it.

    :raises ValueError: a value JSON cannot hold (the row could not record it).
    """
    if not env_args:
        return ""
    try:
        return json.dumps(dict(env_args), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError):
        raise ValueError(
            f"env_args: values must be numbers, strings, booleans, null or lists of them (runs.csv records "
            f"them), got {dict(env_args)!r}"
        ) from None


def make_env(
    env_id: str, dataset: str | None, env_args: Mapping[str, Any], cache_dir: Path | None, **grid: Any
) -> gym.Env:
    """``gym.make(env_id, dataset=dataset, **env_args, **grid)`` (``dataset=None``: the env's
    default; ``cache_dir`` only where given).

    :raises ValueError: the env refuses an argument (its message, naming the env and the dataset).
    """
    kwargs = {**env_args, **grid}
    if dataset is not None:
        kwargs["dataset"] = dataset
    if cache_dir is not None:
        kwargs["cache_dir"] = cache_dir
    try:
        return gym.make(env_id, **kwargs)
    except (ValueError, TypeError) as exc:  # TypeError: an argument the env does not take
        where = f"{env_id} on {dataset}" if dataset is not None else env_id
        raise ValueError(f"{where}: {exc}") from None


def env_evaluator(env: gym.Env) -> Evaluator:
    """The evaluator behind ``env`` (its public ``evaluator`` attribute)."""
    return env.unwrapped.evaluator


@functools.cache
def report_evaluator(env_id: str, dataset: str, env_args: str, cache_dir: Path | None) -> Evaluator:
    """The evaluator that reports a selected architecture: ``env_id`` on ``dataset`` with the
    run's ``env_args`` (JSON, :func:`env_args_text`), ``noise="mean"`` and the env's default fidelity.
    One per process and arguments.
    """
    args = {k: v for k, v in (json.loads(env_args) if env_args else {}).items() if k not in ("noise", "fidelity")}
    env = make_env(env_id, dataset, args, cache_dir, noise="mean")
    try:
        return env_evaluator(env)
    finally:
        env.close()


def default_dataset(env_id: str, env_args: Mapping[str, Any], cache_dir: Path | None) -> str:
    """The dataset ``env_id`` searches when given none."""
    env = make_env(env_id, None, env_args, cache_dir)
    try:
        return env_evaluator(env).dataset
    finally:
        env.close()
