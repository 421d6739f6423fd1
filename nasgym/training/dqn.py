"""Double DQN on a Gymnasium task with a discrete action space: the live evaluation of the dqn-arch space.

One call of :func:`train_dqn` trains ``seeds`` independent agents of one Q-network architecture
together: their networks are one :class:`QEnsemble` (weights stacked on a leading seed axis,
batched matrix products), their environments one Gymnasium vector env, their replay buffers one
tensor each. Each agent is SB3's DQN with van Hasselt et al.'s double-Q target ("Deep
Reinforcement Learning with Double Q-learning", AAAI 2016): the online network picks the next
action, the target network values it; Huber loss, Adam, gradient norm clipped to 10 per agent,
a hard target update, an epsilon-greedy policy whose epsilon falls linearly from 1.

The defaults of each task are the RL Baselines3 Zoo's tuned DQN hyperparameters
(``hyperparams/dqn.yml``: ``CartPole-v1``, and ``LunarLander-v2``'s for its Gymnasium 1.x successor
``LunarLander-v3``), :data:`DQN_PRESETS`; other tasks take CartPole's. The score of an architecture is the
mean return of the greedy policies (epsilon 0) over ``eval_episodes`` seeded episodes per agent.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from nasgym.spaces.dqn_arch import DQN_ACTIVATIONS, task_shape
from nasgym.training.config import KeywordConfig
from nasgym.training.trainer import resolve_device

#: bump when training changes what a configuration means, so stored results are not reused
DQN_PIPELINE_VERSION = 1
#: RL Baselines3 Zoo ``hyperparams/dqn.yml``, DQN: ``CartPole-v1`` ("almost tuned") and
#: ``LunarLander-v2`` ("tuned"); ``n_timesteps`` is the zoo's training length (our default ``steps``),
#: and LunarLander's ``gradient_steps: -1`` (as many as the steps collected) is its ``train_freq``, 4
DQN_PRESETS: dict[str, dict[str, Any]] = {
    "CartPole-v1": {
        "steps": 50_000, "learning_rate": 2.3e-3, "batch_size": 64, "buffer_size": 100_000,
        "learning_starts": 1_000, "gamma": 0.99, "target_update_interval": 10, "train_freq": 256,
        "gradient_steps": 128, "exploration_fraction": 0.16, "exploration_final_eps": 0.04,
    },
    "LunarLander-v3": {
        "steps": 100_000, "learning_rate": 6.3e-4, "batch_size": 128, "buffer_size": 50_000,
        "learning_starts": 0, "gamma": 0.99, "target_update_interval": 250, "train_freq": 4,
        "gradient_steps": 4, "exploration_fraction": 0.12, "exploration_final_eps": 0.1,
    },
}  # fmt: skip
#: the preset of a task without its own
DEFAULT_PRESET = "CartPole-v1"
#: seeds of the evaluation episodes: validation episodes (the reward) and held-out test episodes,
#: the same for every architecture and agent, so that scores differ by the networks alone
VALID_EPISODE_SEED, TEST_EPISODE_SEED = 1_000_000, 2_000_000
_ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid}
#: fields of how training runs rather than what it computes (left out of the hash)
_EXECUTION_FIELDS = frozenset({"device", "num_threads", "progress"})


@dataclass(frozen=True)
class DQNConfig(KeywordConfig):
    """How a Q-network architecture is trained and scored. ``None`` fields take the task's preset
    (:data:`DQN_PRESETS`), resolved by :meth:`resolved`.

    :param steps: environment steps of each agent's training (its vector env's steps x ``n_envs``);
        ``None``: the zoo's ``n_timesteps``.
    :param seeds: independent agents trained per architecture (seeds ``seed .. seed + seeds - 1``),
        batched; the score is their mean.
    :param seed: first seed (network weights, exploration, replay sampling, training episodes).
    :param n_envs: environments per agent (the zoo: 1).
    :param learning_rate: Adam's learning rate.
    :param batch_size: transitions per gradient step.
    :param buffer_size: replay capacity per agent.
    :param learning_starts: environment steps before the first gradient step.
    :param gamma: discount.
    :param target_update_interval: environment steps between hard target updates.
    :param train_freq: environment steps between training phases.
    :param gradient_steps: gradient steps per training phase.
    :param exploration_fraction: share of ``steps`` over which epsilon falls from 1 to its final value.
    :param exploration_final_eps: final epsilon.
    :param max_grad_norm: gradient norm clip per agent (SB3: 10).
    :param eval_episodes: greedy episodes per agent for each of the validation and test scores.
    :param curve_points: windows of the training-return curve.
    :param device: ``"auto"`` (cuda when available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    :param num_threads: torch CPU threads (``None``: torch's default).
    :param progress: unused by the trainer; the evaluator's progress bar.
    """

    steps: int | None = None
    seeds: int = 2
    seed: int = 0
    n_envs: int = 1
    learning_rate: float | None = None
    batch_size: int | None = None
    buffer_size: int | None = None
    learning_starts: int | None = None
    gamma: float | None = None
    target_update_interval: int | None = None
    train_freq: int | None = None
    gradient_steps: int | None = None
    exploration_fraction: float | None = None
    exploration_final_eps: float | None = None
    max_grad_norm: float = 10.0
    eval_episodes: int = 10
    curve_points: int = 20
    device: str = "auto"
    num_threads: int | None = None
    progress: bool = False

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if value is None and "None" in field.type:
                continue
            if "int" in field.type and (isinstance(value, bool) or not isinstance(value, Integral)):
                raise TypeError(f"{field.name} must be an integer, got {value!r}")
            if "float" in field.type and (
                isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value)
            ):
                raise TypeError(f"{field.name} must be a finite number, got {value!r}")
            self._plain_field(field.name)
        minimum = {
            "steps": 1, "seeds": 1, "seed": 0, "n_envs": 1, "batch_size": 1, "buffer_size": 1, "learning_starts": 0,
            "target_update_interval": 1, "train_freq": 1, "gradient_steps": 1, "eval_episodes": 1,
            "curve_points": 1, "num_threads": 1,
        }  # fmt: skip
        for name, low in minimum.items():
            value = getattr(self, name)
            if value is not None and value < low:
                meaning = " (environment steps per training run)" if name == "steps" else ""
                raise ValueError(f"{name} must be an integer >= {low}{meaning}, got {value!r}")
        for name, low, high in (
            ("gamma", 0.0, 1.0),
            ("exploration_fraction", 0.0, 1.0),
            ("exploration_final_eps", 0.0, 1.0),
        ):
            value = getattr(self, name)
            if value is not None and not low <= value <= high:
                raise ValueError(f"{name} must be in [{low}, {high}], got {value!r}")
        for name in ("learning_rate", "max_grad_norm"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be > 0, got {value!r}")
        if not isinstance(self.progress, bool):
            raise TypeError(f"progress must be True or False, got {self.progress!r}")
        if not isinstance(self.device, str) or not (
            self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")
        ):
            raise ValueError(f"device {self.device!r} is unknown; accepted: 'auto', 'cpu', 'cuda' or 'cuda:N'")

    def resolved(self, task: str) -> DQNConfig:
        """This config with every ``None`` field set from the task's preset."""
        preset = DQN_PRESETS.get(task, DQN_PRESETS[DEFAULT_PRESET])
        return dataclasses.replace(self, **{k: v for k, v in preset.items() if getattr(self, k) is None})

    def experiment(self, task: str) -> dict[str, Any]:
        """What a result depends on: the resolved fields, the task and the pipeline version."""
        fields = dataclasses.asdict(self.resolved(task))
        for name in _EXECUTION_FIELDS:
            del fields[name]
        return fields | {"task": task, "pipeline": DQN_PIPELINE_VERSION}

    def config_hash(self, task: str) -> str:
        """Hash of :meth:`experiment`: the key of stored results, with space, arch and task."""
        return hashlib.sha256(json.dumps(self.experiment(task), sort_keys=True).encode()).hexdigest()[:16]


class QEnsemble(nn.Module):
    """``n_members`` independent Q-networks of one architecture, evaluated together.

    Layer ``l`` holds a weight of shape ``(n_members, fan_in, fan_out)`` and a bias of shape
    ``(n_members, 1, fan_out)``; member ``m`` computes what ``nn.Sequential`` of ``nn.Linear`` layers
    with those weights computes (:meth:`member`). Initialised as ``nn.Linear`` is: weights and biases
    uniform in ``+-1/sqrt(fan_in)``.

    :param n_members: number of networks.
    :param n_inputs: observation size.
    :param widths: hidden widths, input side first.
    :param activations: hidden activations (:data:`~nasgym.spaces.dqn_arch.DQN_ACTIVATIONS`).
    :param n_actions: outputs (Q-values).
    :param generator: the generator of the initial weights.
    """

    def __init__(
        self,
        n_members: int,
        n_inputs: int,
        widths: list[int],
        activations: list[str],
        n_actions: int,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        if len(widths) != len(activations) or any(a not in _ACTIVATIONS for a in activations):
            raise ValueError(
                f"activations must be one of {list(DQN_ACTIVATIONS)} per hidden width, got {activations!r}"
            )
        sizes = [n_inputs, *widths, n_actions]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
            bound = 1.0 / math.sqrt(fan_in)
            weight = torch.empty(n_members, fan_in, fan_out).uniform_(-bound, bound, generator=generator)
            bias = torch.empty(n_members, 1, fan_out).uniform_(-bound, bound, generator=generator)
            self.weights.append(nn.Parameter(weight))
            self.biases.append(nn.Parameter(bias))
        self.activations = nn.ModuleList(_ACTIVATIONS[a]() for a in activations)

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        """Q-values ``(n_members, batch, n_actions)`` of observations ``(n_members, batch, n_inputs)``."""
        x = observations
        for layer, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            x = torch.baddbmm(bias, x, weight)
            if layer < len(self.activations):
                x = self.activations[layer](x)
        return x

    def member(self, index: int) -> nn.Sequential:
        """Member ``index`` as a standalone ``nn.Sequential`` of ``nn.Linear`` layers (a copy)."""
        layers: list[nn.Module] = []
        for layer, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            linear = nn.Linear(weight.shape[1], weight.shape[2])
            with torch.no_grad():
                linear.weight.copy_(weight[index].T)
                linear.bias.copy_(bias[index, 0])
            layers.append(linear)
            if layer < len(self.activations):
                layers.append(type(self.activations[layer])())
        return nn.Sequential(*layers)


def _clip_per_member(parameters: list[nn.Parameter], max_norm: float) -> None:
    """Clip each member's gradient to ``max_norm`` (as ``clip_grad_norm_`` does for one network)."""
    parameters = [p for p in parameters if p.grad is not None]  # unused by the forward pass: no gradient
    squares = sum(p.grad.flatten(1).pow(2).sum(1) for p in parameters)
    scale = (max_norm / (squares.sqrt() + 1e-6)).clamp(max=1.0)
    for p in parameters:
        p.grad.mul_(scale.view(-1, *([1] * (p.grad.dim() - 1))))


def greedy_returns(network: QEnsemble, task: str, episodes: int, seed: int, device: torch.device) -> np.ndarray:
    """Undiscounted returns ``(members, episodes)`` of each member's greedy policy on ``episodes``
    episodes seeded ``seed ..`` (the same episodes for every member)."""
    n_members = network.weights[0].shape[0]
    envs = gym.make_vec(task, num_envs=n_members * episodes, vectorization_mode="sync")  # seeds per sub-env
    try:
        observations, _ = envs.reset(seed=[seed + k for _ in range(n_members) for k in range(episodes)])
        returns = np.zeros(n_members * episodes)
        running = np.ones(n_members * episodes, dtype=bool)
        while running.any():  # each sub-env's first episode; later ones (autoreset) are ignored
            with torch.no_grad():
                obs = torch.as_tensor(observations, dtype=torch.float32, device=device)
                actions = network(obs.view(n_members, episodes, -1)).argmax(-1).reshape(-1).cpu().numpy()
            observations, rewards, terminated, truncated, _ = envs.step(actions)
            returns += np.where(running, rewards, 0.0)
            running &= ~(terminated | truncated)
    finally:
        envs.close()
    return returns.reshape(n_members, episodes)


def _curve(ends: list[tuple[int, int, float]], steps: int, points: int) -> list[float | None]:
    """Mean return of the training episodes ending in each of ``points`` equal windows of the
    ``steps`` (``None`` where none ended), over all agents."""
    sums, counts = np.zeros(points), np.zeros(points)
    for step, _, episode_return in ends:
        window = min((step - 1) * points // steps, points - 1)
        sums[window] += episode_return
        counts[window] += 1
    return [float(s / c) if c else None for s, c in zip(sums, counts, strict=True)]


class DoubleDQN:
    """``config.seeds`` Double DQN agents learning ``task`` with one online network, trained in calls
    of :meth:`train` that continue one another: the environments, replay buffers, optimizer, step
    count and epsilon schedule carry over, so training ``a`` then ``b`` steps is training ``a + b``.

    The online network maps observations ``(seeds, batch, n_inputs)`` to Q-values ``(seeds, batch,
    n_actions)`` (:class:`QEnsemble`, or the shared network of every architecture,
    :class:`~nasgym.models.dqn_supernet.SharedQNetwork`); a parameter without a gradient after a
    backward pass (one the forward pass did not use) is neither clipped nor moved by Adam.

    :param make_network: builds a network from a generator of its initial weights (``None`` for the
        target network, which the online network's weights overwrite).
    :param task: a Gymnasium id with a discrete action space.
    :param config: the training configuration (``None`` fields from the task's preset); its ``steps``
        sets the epsilon schedule: epsilon falls over the first ``exploration_fraction * steps``
        environment steps, counted over every call.
    """

    def __init__(
        self, make_network: Callable[[torch.Generator | None], nn.Module], task: str, config: DQNConfig
    ) -> None:
        self.n_inputs, self.n_actions = task_shape(task)
        self.task = task
        self.config = config = config.resolved(task)
        self.device = resolve_device(config.device)
        if config.num_threads is not None:
            torch.set_num_threads(config.num_threads)
        n_agents = config.seeds
        seed_sequence = np.random.SeedSequence([config.seed, n_agents])
        env_seed, torch_seed = (int(s) for s in seed_sequence.generate_state(2))
        self._rng = np.random.default_rng(seed_sequence)
        self._generator = torch.Generator(device="cpu").manual_seed(torch_seed)
        self.online = make_network(self._generator).to(self.device)
        self.target = make_network(None).to(self.device)
        self.target.load_state_dict(self.online.state_dict())
        self._optimizer = torch.optim.Adam(self.online.parameters(), lr=config.learning_rate)
        self._parameters = list(self.online.parameters())

        capacity, device = config.buffer_size, self.device
        self._buffer_obs = torch.zeros(n_agents, capacity, self.n_inputs, device=device)
        self._buffer_next = torch.zeros(n_agents, capacity, self.n_inputs, device=device)
        self._buffer_action = torch.zeros(n_agents, capacity, dtype=torch.long, device=device)
        self._buffer_reward = torch.zeros(n_agents, capacity, device=device)
        self._buffer_done = torch.zeros(n_agents, capacity, device=device)
        self._stored = np.zeros(n_agents, dtype=np.int64)  # transitions written per agent (mod capacity: position)
        self._members = torch.arange(n_agents, device=device)[:, None]
        #: vector-env steps taken so far, over every call of :meth:`train`
        self.vector_steps = 0
        #: ``(agent's env step, agent, return)`` of every training episode that ended
        self.episode_ends: list[tuple[int, int, float]] = []
        self._episode_returns = np.zeros((n_agents, config.n_envs))
        #: Huber loss of each gradient step of the last training phase
        self.last_losses: list[float] = []
        self._envs = gym.make_vec(task, num_envs=n_agents * config.n_envs)
        self._observations, _ = self._envs.reset(seed=env_seed)
        # Gymnasium's default next-step autoreset: the step after an episode's end only resets its
        # sub-env (the action is ignored), so that step stores no transition
        self._resetting = np.zeros((n_agents, config.n_envs), dtype=bool)

    def __enter__(self) -> DoubleDQN:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the training environments."""
        self._envs.close()

    @property
    def env_steps(self) -> int:
        """Environment steps each agent has taken so far."""
        return self.vector_steps * self.config.n_envs

    def train(self, steps: int) -> None:
        """Continue training for ``steps`` environment steps per agent (rounded up to whole vector-env steps).

        :param steps: environment steps, >= 1.
        """
        if isinstance(steps, bool) or not isinstance(steps, Integral) or steps < 1:
            raise ValueError(f"steps must be an integer >= 1 (environment steps per agent), got {steps!r}")
        config, device, rng = self.config, self.device, self._rng
        n_agents, n_envs, n_inputs, capacity = config.seeds, config.n_envs, self.n_inputs, config.buffer_size
        target_every = max(config.target_update_interval // n_envs, 1)
        train_every = max(config.train_freq // n_envs, 1)
        exploration_steps = config.exploration_fraction * config.steps
        buffer_obs, buffer_next, buffer_action = self._buffer_obs, self._buffer_next, self._buffer_action
        buffer_reward, buffer_done = self._buffer_reward, self._buffer_done
        stored, members = self._stored, self._members
        online, target, optimizer = self.online, self.target, self._optimizer
        first = self.vector_steps
        for vector_step in range(first, first + math.ceil(steps / n_envs)):
            env_steps = vector_step * n_envs
            epsilon = 1.0 + (config.exploration_final_eps - 1.0) * min(1.0, env_steps / max(exploration_steps, 1e-9))
            obs = torch.as_tensor(self._observations, dtype=torch.float32, device=device).view(
                n_agents, n_envs, n_inputs
            )
            with torch.no_grad():
                greedy = online(obs).argmax(-1).cpu().numpy()
            explore = rng.random((n_agents, n_envs)) < epsilon
            actions = np.where(explore, rng.integers(0, self.n_actions, (n_agents, n_envs)), greedy)
            next_observations, rewards, terminated, truncated, _ = self._envs.step(actions.reshape(-1))
            rewards, terminated = rewards.reshape(n_agents, n_envs), terminated.reshape(n_agents, n_envs)
            ended = terminated | truncated.reshape(n_agents, n_envs)
            valid = ~self._resetting
            if valid.any():
                agent, env = np.nonzero(valid)
                slot = (stored[agent] + np.cumsum(valid, axis=1)[agent, env] - 1) % capacity
                stored += valid.sum(axis=1)
                agent_t, slot_t = torch.as_tensor(agent, device=device), torch.as_tensor(slot, device=device)
                nxt = torch.as_tensor(next_observations, dtype=torch.float32, device=device).view(n_agents, n_envs, -1)
                buffer_obs[agent_t, slot_t] = obs[agent_t, torch.as_tensor(env, device=device)]
                buffer_next[agent_t, slot_t] = nxt[agent_t, torch.as_tensor(env, device=device)]
                buffer_action[agent_t, slot_t] = torch.as_tensor(actions[agent, env], device=device)
                buffer_reward[agent_t, slot_t] = torch.as_tensor(
                    rewards[agent, env], dtype=torch.float32, device=device
                )
                buffer_done[agent_t, slot_t] = torch.as_tensor(
                    terminated[agent, env], dtype=torch.float32, device=device
                )
            self._episode_returns += np.where(valid, rewards, 0.0)
            for agent, env in zip(*np.nonzero(valid & ended), strict=True):
                self.episode_ends.append((env_steps + n_envs, int(agent), float(self._episode_returns[agent, env])))
                self._episode_returns[agent, env] = 0.0
            self._resetting = ended
            self._observations = next_observations

            done_steps = (vector_step + 1) * n_envs
            if done_steps > config.learning_starts and (vector_step + 1) % train_every == 0:
                self.last_losses = []
                sizes = torch.as_tensor(np.minimum(stored, capacity), device=device)
                for _ in range(config.gradient_steps):
                    index = (
                        torch.rand(n_agents, config.batch_size, generator=self._generator).to(device) * sizes[:, None]
                    ).long()
                    with torch.no_grad():
                        next_obs = buffer_next[members, index]
                        next_action = online(next_obs).argmax(-1, keepdim=True)  # double Q: online picks,
                        next_q = target(next_obs).gather(-1, next_action).squeeze(-1)  # target values
                        targets = (
                            buffer_reward[members, index] + config.gamma * (1 - buffer_done[members, index]) * next_q
                        )
                    q = (
                        online(buffer_obs[members, index])
                        .gather(-1, buffer_action[members, index][..., None])
                        .squeeze(-1)
                    )
                    loss = nn.functional.smooth_l1_loss(q, targets, reduction="none").mean(-1)  # per agent
                    optimizer.zero_grad(set_to_none=True)
                    loss.sum().backward()  # the agents' parameters are disjoint: each gets its own gradient
                    _clip_per_member(self._parameters, config.max_grad_norm)
                    optimizer.step()
                    self.last_losses.append(float(loss.detach().mean()))
            if (vector_step + 1) % target_every == 0:
                target.load_state_dict(online.state_dict())
        self.vector_steps = first + math.ceil(steps / n_envs)


def train_dqn(widths: list[int], activations: list[str], task: str, config: DQNConfig) -> dict[str, Any]:
    """Train ``config.seeds`` Double DQN agents with the given Q-network on ``task`` and score them.

    :param widths: the hidden widths, input side first.
    :param activations: the hidden activations.
    :param task: a Gymnasium id with a discrete action space (:func:`~nasgym.spaces.dqn_arch.task_shape`).
    :param config: the training configuration (``None`` fields from the task's preset).
    :returns: ``valid_return`` and ``test_return`` (mean greedy return over agents and validation /
        test episodes), ``valid_returns`` (per agent), ``train_return`` (training episodes of the
        last curve window), ``train_loss`` (mean Huber loss of the last training phase),
        ``return_curve`` (:func:`_curve`), ``train_time`` (s), ``device``.
    """
    n_inputs, n_actions = task_shape(task)
    start = time.perf_counter()
    with DoubleDQN(
        lambda generator: QEnsemble(config.seeds, n_inputs, widths, activations, n_actions, generator), task, config
    ) as agents:
        agents.train(agents.config.steps)
    train_time = time.perf_counter() - start
    config, online, device = agents.config, agents.online, agents.device
    valid = greedy_returns(online, task, config.eval_episodes, VALID_EPISODE_SEED, device)
    test = greedy_returns(online, task, config.eval_episodes, TEST_EPISODE_SEED, device)
    curve = _curve(agents.episode_ends, config.steps, config.curve_points)
    last_losses = agents.last_losses
    return {
        "valid_return": float(valid.mean()),
        "test_return": float(test.mean()),
        "valid_returns": valid.mean(axis=1).tolist(),
        "train_return": next((value for value in reversed(curve) if value is not None), math.nan),
        "train_loss": float(np.mean(last_losses)) if last_losses else math.nan,
        "return_curve": curve,
        "train_time": train_time,
        "device": str(device),
    }
