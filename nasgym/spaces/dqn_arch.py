"""The Q-networks of a Double DQN agent: 2 hidden dense layers, 5 widths x 2 activations each, 100 networks.

The space of the seed slides' experiment (NAS for the Q-network of a Double DQN agent on
LunarLander): a Q-network is ``Linear(observations, w1), a1, Linear(w1, w2), a2, Linear(w2,
actions)`` with each width ``w`` one of :data:`DQN_WIDTHS` and each activation ``a`` one of
:data:`DQN_ACTIVATIONS`. Its input and output sizes are those of the Gymnasium task the agent
learns (its ``dataset``): a flat ``Box`` observation and a ``Discrete`` action space
(:func:`task_shape`).

Decisions, in index order: ``width1, activation1, width2, activation2`` (the canonical index reads
them in mixed radix 5 x 2 x 5 x 2, first layer most significant). Architectures print as
``"width1=256,activation1=relu,width2=64,activation2=sigmoid"``.
"""

from __future__ import annotations

import functools

import gymnasium as gym
import numpy as np

from nasgym.spaces.tokens import ModuloTokens

#: the widths of each hidden layer, in increasing order
DQN_WIDTHS: tuple[int, ...] = (64, 128, 256, 1024, 2048)
#: the activations of each hidden layer
DQN_ACTIVATIONS: tuple[str, ...] = ("relu", "sigmoid")
DQN_LAYERS = 2
#: Gymnasium raises this for a task whose simulator is not installed (Box2D for LunarLander)
_MISSING_EXTRA = {"box2d": "pip install 'nasgym[box2d]' (or 'gymnasium[box2d]')"}


@functools.cache
def task_shape(task: str) -> tuple[int, int]:
    """``(observation size, number of actions)`` of a Gymnasium task a Q-network of the space can
    learn: a 1-D ``Box`` observation and a ``Discrete`` action space.

    :param task: a registered Gymnasium id, e.g. ``"CartPole-v1"`` or ``"LunarLander-v3"``.
    :raises ValueError: an unknown id, or a task whose spaces a Q-network cannot serve.
    :raises ImportError: the task's simulator is missing (``LunarLander-v3`` without Box2D).
    """
    if not isinstance(task, str):
        raise TypeError(f"dataset (the Gymnasium task) must be a string id such as 'CartPole-v1', got {task!r}")
    try:
        env = gym.make(task)
    except gym.error.DependencyNotInstalled as exc:
        hint = next((fix for name, fix in _MISSING_EXTRA.items() if name in str(exc).lower()), "install it")
        raise ImportError(f"task {task!r} needs a simulator that is not installed: {hint} ({exc})") from None
    except gym.error.Error as exc:
        raise ValueError(
            f"dataset {task!r} is not a registered Gymnasium task ({exc}); give an id with a discrete action "
            "space, e.g. 'CartPole-v1' or 'LunarLander-v3'"
        ) from None
    observation, action = env.observation_space, env.action_space
    env.close()
    if not isinstance(action, gym.spaces.Discrete):
        raise ValueError(
            f"task {task!r} has the action space {action}; a Q-network of the dqn-arch space needs a Discrete "
            "one (one Q-value per action), e.g. 'CartPole-v1' or 'LunarLander-v3'"
        )
    if not isinstance(observation, gym.spaces.Box) or len(observation.shape) != 1:
        raise ValueError(f"task {task!r} has the observation space {observation}; a dense Q-network needs a 1-D Box")
    return int(observation.shape[0]), int(action.n)


class DQNArchSpace(ModuloTokens):
    """The Q-networks of two hidden layers of :data:`DQN_WIDTHS` x :data:`DQN_ACTIVATIONS` (100).

    The Sequential envs take ``Discrete(5)`` at every step, an activation's token read modulo 2
    (:class:`~nasgym.spaces.tokens.ModuloTokens`)."""

    def __init__(self) -> None:
        super().__init__(
            name="dqn-arch",
            decision_names=["width1", "activation1", "width2", "activation2"],
            choices=[tuple(str(w) for w in DQN_WIDTHS), DQN_ACTIVATIONS] * DQN_LAYERS,
        )
        self._widths = np.array(DQN_WIDTHS, dtype=np.int64)

    def widths(self, choices: np.ndarray) -> np.ndarray:
        """The hidden widths (int64, shape ``(..., 2)``) of choice vectors."""
        return self._widths[self.check_choices(choices)[..., 0::2]]

    def activations(self, choices: np.ndarray) -> list[str]:
        """The hidden activations of one choice vector, input side first."""
        arr = self.check_choices(choices)
        if arr.ndim != 1:
            raise ValueError(f"choices must be one choice vector of shape ({self.n_decisions},), got {arr.shape}")
        return [DQN_ACTIVATIONS[c] for c in arr[1::2].tolist()]

    def param_count(self, choices: np.ndarray, n_inputs: int, n_actions: int) -> np.ndarray:
        """Exact parameter count (weights and biases; int64, one per choice vector) of the Q-networks
        for ``n_inputs`` observations and ``n_actions`` actions: ``(n_inputs + 1) * w1 + (w1 + 1) * w2
        + (w2 + 1) * n_actions``. Activations have no parameters. It is also the multiply-adds of one
        forward pass of one observation, bias adds included.

        :param choices: choice vectors (..., 4).
        :param n_inputs: size of the observation, >= 1.
        :param n_actions: number of actions (Q-values), >= 1.
        """
        for name, value in (("n_inputs", n_inputs), ("n_actions", n_actions)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        width1, width2 = np.moveaxis(self.widths(choices), -1, 0)
        return (n_inputs + 1) * width1 + (width1 + 1) * width2 + (width2 + 1) * n_actions

    def resources(self, choices: np.ndarray, dataset: str) -> dict[str, np.ndarray]:
        """``params`` and ``flops`` (millions; multiply-adds of one observation) on the task ``dataset``."""
        millions = self.param_count(choices, *task_shape(dataset)) / 1e6
        return {"flops": millions, "params": millions.copy()}
