"""What a command line passes to envs and agents: ``KEY=VALUE`` arguments (``--env-arg``,
``--agent-arg``), typed as Python callers type them by one parser,
:func:`nasgym.agents._utils.parse_keyword_argument`, and each env's own defaults."""

from __future__ import annotations

import argparse
import inspect
from collections.abc import Iterable
from typing import Any

import gymnasium as gym
from gymnasium.envs.registration import load_env_creator


def keyword_argument(text: str) -> tuple[str, Any]:
    """argparse ``type=`` of a ``KEY=VALUE`` flag: ``(key, value)``, the value read as JSON when it
    parses (``12`` an int, ``0.5`` a float, ``true``/``null``, ``[1, 2]`` a list), else kept as a
    string (``cifar10``, a path).

    :param text: the flag's value as typed.
    :raises argparse.ArgumentTypeError: ``text`` is not ``KEY=VALUE`` with ``KEY`` an argument name.
    """
    from nasgym.agents._utils import parse_keyword_argument

    try:
        return parse_keyword_argument(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def keyword_arguments(pairs: Iterable[tuple[str, Any]], flag: str) -> dict[str, Any]:
    """The ``(key, value)`` pairs of a repeated flag as keyword arguments.

    :param pairs: what :func:`keyword_argument` parsed, in the order given.
    :param flag: the flag's name, for the message (``"--env-arg"``).
    :raises ValueError: a key given twice (the later value would silently win).
    """
    kwargs: dict[str, Any] = {}
    for key, value in pairs:
        if key in kwargs:
            raise ValueError(f"{flag} {key} is given twice ({kwargs[key]!r} and {value!r}); give it once")
        kwargs[key] = value
    return kwargs


def env_parameters(env_id: str) -> dict[str, inspect.Parameter]:
    """Every named keyword ``gym.make(env_id, ...)`` takes, as an :class:`inspect.Parameter` whose
    ``default`` is the value used when it is not given (the registered kwargs over the defaults of
    the env class's constructors) and whose ``annotation`` is the constructor's (a string). Keywords
    an env passes on to its evaluator (the live evaluator's ``epochs``, ...) are not named here.

    :param env_id: a registered id.
    """
    spec = gym.spec(env_id)
    parameters: dict[str, inspect.Parameter] = {}
    for cls in reversed(load_env_creator(spec.entry_point).__mro__):  # subclasses override
        if "__init__" in vars(cls) and issubclass(cls, gym.Env) and cls is not gym.Env:
            for name, parameter in inspect.signature(cls.__init__).parameters.items():
                if name != "self" and parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY):
                    parameters[name] = parameter
    for name, value in spec.kwargs.items():
        if name in parameters:
            parameters[name] = parameters[name].replace(default=value)
    return parameters
