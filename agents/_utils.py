"""Helpers the search agents share: argument checks, seeding, the EMA baseline, torch set-up."""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable, Iterator
from numbers import Integral, Real
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import gymnasium as gym

#: spawn key that separates an agent's random stream from the env's (both start from ``seed``).
_AGENT_STREAM = 0x5EA2C4


def agent_rng(seed: int) -> np.random.Generator:
    """The agent's own generator for a run seeded with ``seed``.

    The env's ``reset(seed=seed)`` builds ``Generator(PCG64(SeedSequence(seed)))``; seeding the
    agent with the same plain seed would replay the very numbers the env uses for its seed noise,
    so the agent's choices and the noise of its queries would be correlated. A spawn key gives an
    independent stream that is still a pure function of ``seed``.

    :param seed: the run's seed (a non-negative integer).
    """
    if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(int(seed), spawn_key=(_AGENT_STREAM,))))


def check_int(name: str, value: object, minimum: int, maximum: int | None = None, hint: str = "") -> int:
    """Return ``value`` as an int, or raise a ``ValueError`` naming ``name`` and the accepted range.

    :param name: argument name, quoted in the message.
    :param value: the value given.
    :param minimum: smallest accepted value.
    :param maximum: largest accepted value (``None``: unbounded).
    :param hint: extra words on where ``maximum`` comes from.
    """
    ok = not isinstance(value, bool) and isinstance(value, Integral)
    if ok:
        ok = value >= minimum and (maximum is None or value <= maximum)
    if not ok:
        accepted = f"an integer >= {minimum}" if maximum is None else f"an integer in {minimum}..{maximum}"
        raise ValueError(f"{name} must be {accepted}{hint}, got {value!r}")
    return int(value)  # type: ignore[arg-type]


def check_bool(name: str, value: object) -> bool:
    """Return ``value`` as a bool, or raise a ``ValueError`` naming ``name`` unless it is True or False.

    :param name: argument name, quoted in the message.
    :param value: the value given.
    """
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_float(
    name: str,
    value: object,
    low: float = -math.inf,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a finite float within the interval, or raise a ``ValueError`` naming it.

    :param name: argument name, quoted in the message.
    :param value: the value given.
    :param low: lower end of the accepted interval.
    :param high: upper end of the accepted interval.
    :param low_open: exclude ``low`` itself.
    :param high_open: exclude ``high`` itself.
    """
    ok = not isinstance(value, bool) and isinstance(value, Real) and math.isfinite(float(value))
    if ok:
        x = float(value)  # type: ignore[arg-type]
        ok = (x > low if low_open else x >= low) and (x < high if high_open else x <= high)
    if not ok:
        left = "(" if low_open else "["
        right = ")" if high_open else "]"
        if math.isinf(high):
            accepted = f"a finite number {'>' if low_open else '>='} {low:g}"
        else:
            accepted = f"a number in {left}{low:g}, {high:g}{right}"
        raise ValueError(f"{name} must be {accepted}, got {value!r}")
    return float(value)  # type: ignore[arg-type]


class EMABaseline:
    """Exponential moving average of the rewards, bias-corrected, as NATS-Bench's REINFORCE uses it.

    ``update(r)`` does ``num <- m num + (1 - m) r`` and ``den <- m den + (1 - m)``; ``value`` is
    ``num / den``, i.e. the plain EMA ``b <- m b + (1 - m) r`` without the pull towards its zero
    start (the first value is the first reward).

    :param momentum: ``m`` in [0, 1).
    """

    def __init__(self, momentum: float) -> None:
        self.momentum = check_float("momentum", momentum, 0.0, 1.0, high_open=True)
        self._numerator = 0.0
        self._denominator = 0.0

    def update(self, reward: float) -> None:
        m = self.momentum
        self._numerator = m * self._numerator + (1.0 - m) * float(reward)
        self._denominator = m * self._denominator + (1.0 - m)

    @property
    def value(self) -> float:
        """The current average (0 before any update)."""
        return self._numerator / self._denominator if self._denominator > 0 else 0.0


def torch_seed(rng: np.random.Generator) -> int:
    """A torch seed drawn from the agent's generator."""
    return int(rng.integers(0, 2**62))


@contextlib.contextmanager
def torch_threads(n_threads: int | None) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(n_threads)``, restoring the previous setting.

    The agents' networks are small (default: one thread); ``None`` leaves torch's setting alone.
    """
    import torch

    if n_threads is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def sample_categorical(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One draw per row of ``probs`` (rows sum to 1; zero-probability columns are never drawn).

    :param rng: the agent's generator.
    :param probs: array of shape (rows, choices).
    """
    cumulative = np.cumsum(probs, axis=1)
    targets = rng.random(probs.shape[0]) * cumulative[:, -1]
    draws = (cumulative <= targets[:, None]).sum(axis=1)
    # guard against float round-off at the top end: take the last column with positive probability
    last = probs.shape[1] - 1 - np.argmax(probs[:, ::-1] > 0, axis=1)
    return np.minimum(draws, last).astype(np.int64)


def parse_keyword_argument(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` -> (key, value): the value is read as JSON when it parses (numbers, lists,
    true/false/null), else kept as a string (paths, names).

    :raises ValueError: ``text`` is not ``KEY=VALUE`` with ``KEY`` an argument name.
    """
    key, sep, raw = text.strip().partition("=")
    if not sep or not key.isidentifier():
        raise ValueError(f"expected KEY=VALUE with KEY an argument name, got {text!r}")
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw


def policy_details(env: gym.Env, logits: np.ndarray) -> dict[str, Any]:
    """The most likely architecture of a factorised policy (the argmax of each decision's logits):
    ``policy_arch``, ``policy_index`` and, on a constrained env, ``policy_feasible`` and
    ``policy_resource``: the architecture the TabNAS paper's tables report for an RL search. In a
    space where some choice vectors name no architecture (NAS-Bench-101's invalid cells) and the
    argmax is one of them, ``policy_arch`` and ``policy_index`` are ``None`` and ``policy_error``
    says why.

    :param env: the searched env (wrappers allowed).
    :param logits: the final logits, decisions x choices (``-inf`` where a decision has fewer choices).
    """
    unwrapped = env.unwrapped
    try:
        index = unwrapped.arch_index(np.argmax(logits, axis=1))
    except ValueError as exc:
        return {"policy_arch": None, "policy_index": None, "policy_error": str(exc)}
    details: dict[str, Any] = {"policy_arch": unwrapped.search_space.arch_string(index), "policy_index": index}
    if unwrapped.constraint is not None:
        details["policy_feasible"] = unwrapped.is_feasible(index)
        details["policy_resource"] = unwrapped.resources(index)
    return details


def reject_infeasible_reason(env: gym.Env) -> str | None:
    """Why an agent with ``reject_infeasible=True`` cannot search ``env`` (``None``: it can): the
    option needs an env made with a ``constraint``."""
    if getattr(env.unwrapped, "constraint", None) is None:
        return "reject_infeasible=True needs an env made with constraint={...} (this one has none)"
    return None


def sample_feasible(env: gym.Env, draw: Callable[[], np.ndarray]) -> np.ndarray:
    """Draw choice vectors with ``draw()`` until the env's constraint accepts one, without querying
    any (:meth:`nasgym.envs.base.NASEnv.is_feasible`); the constraint guarantees that a feasible
    architecture exists, so a draw that can reach every architecture ends.

    :param env: a constrained env.
    :param draw: returns one choice vector per call, from the agent's own generator.
    """
    is_feasible = env.unwrapped.is_feasible
    while True:
        choices = draw()
        if is_feasible(choices):
            return choices
