"""L2NAS (Mills et al., CIKM 2021 / 2023): a quantile-critic actor-critic on the continuous encoding."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from nasgym.agents._utils import agent_rng, check_float, check_int, torch_seed
from nasgym.agents.base import TorchSearchAgent

#: what a file of L2NAS.save() holds
_POLICY_KEYS = frozenset({"format", "obs_dim", "action_dim", "hidden_sizes", "actor", "critic"})


def check_tau(tau: object) -> float:
    """Return ``tau`` as a float if it lies in the open interval (0, 1), else raise a ``ValueError``."""
    return check_float("tau", tau, 0.0, 1.0, low_open=True, high_open=True)


def quantile_loss(residual: Any, tau: float = 0.9, reduction: str = "mean") -> Any:
    """The quantile ("check", pinball) loss ``rho_tau(x) = x * (tau - 1(x <= 0))``.

    With ``x = r - Q(s, a)``, under-estimates (``x > 0``) cost ``tau * x`` and over-estimates cost
    ``(1 - tau) * |x|``, so the minimiser of the expected loss is the ``tau``-quantile of the reward:
    at ``tau = 0.9`` the critic learns what the top decile of an action's outcomes looks like.

    :param residual: ``x``: a torch tensor (the loss keeps its graph) or anything numpy takes.
    :param tau: the quantile, in (0, 1); default 0.9.
    :param reduction: ``"mean"`` (default), ``"sum"`` or ``"none"`` (elementwise).
    :returns: a torch tensor for a tensor input, else a float (or a numpy array for ``"none"``).
    """
    tau = check_tau(tau)
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction {reduction!r} is unknown; accepted: ['mean', 'sum', 'none']")
    try:
        import torch

        is_tensor = isinstance(residual, torch.Tensor)
    except ImportError:  # pragma: no cover - torch is an extra
        is_tensor = False
    if is_tensor:
        loss = residual * (tau - (residual <= 0).to(residual.dtype))
    else:
        x = np.asarray(residual, dtype=np.float64)
        loss = x * (tau - (x <= 0))
    if reduction == "none":
        return loss
    total = loss.mean() if reduction == "mean" else loss.sum()
    return total if is_tensor else float(total)


def _mlp(sizes: Sequence[int], output_tanh: bool) -> Any:
    from torch import nn

    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    if output_tanh:
        layers.append(nn.Tanh())
    return nn.Sequential(*layers)


class L2NAS(TorchSearchAgent):
    """L2NAS (Mills, Han, Salameh, Changiz Rezaei, Kong, Lu, Lian, Jui and Niu) on the Continuous env.

    The state ``s_t`` is the env's observation: the channel-wise mean one-hot encoding of the top-K
    architectures found so far. An actor ``mu`` (MLP, tanh output) maps it to a continuous
    encoding ``alpha`` in [-1, 1]^(decisions x choices); the env discretises ``alpha`` by argmax per
    decision and queries that architecture. Exploration: ``alpha_t = clip(mu(s_t) + z_t, -1, 1)``
    with Gaussian ``z_t ~ N(0, sigma^2)`` (the clip is done here: the env rejects out-of-range
    actions), and with probability ``epsilon`` a uniformly random ``alpha`` instead (the paper's
    noise plus epsilon-greedy exploration); the first ``warmup`` queries are uniformly random.

    Every query's ``(s_t, alpha_t, r_t)`` goes to a replay buffer. The critic ``Q(s, alpha)`` (MLP)
    regresses the reward one step ahead, without bootstrapping (each query stands alone), under the
    quantile loss at ``tau`` (:func:`quantile_loss` of ``r - Q(s, alpha)``), so it predicts the
    high percentile of what an action can yield rather than its mean; the actor maximises
    ``Q(s, mu(s))`` (DDPG's deterministic policy gradient). After each query past the warm-up,
    ``updates_per_step`` critic-then-actor Adam steps on minibatches of ``batch_size`` drawn
    uniformly (with replacement) from the buffer.

    Transfer (the paper's cross-dataset experiment): search one dataset with
    ``reward="normalized"`` (``100 ** (acc / acc_max) / 100 - 1``, comparable across datasets),
    :meth:`save` the actor and critic, then build ``L2NAS(pretrained=path, warmup=0)`` (or call
    :meth:`load`) and search another dataset briefly: the networks start from the saved weights
    instead of a random init; the replay buffer starts empty.

    :param hidden_sizes: hidden widths of both MLPs (default ``(256, 256)``).
    :param actor_lr: Adam learning rate of the actor (default 1e-3).
    :param critic_lr: Adam learning rate of the critic (default 1e-3).
    :param tau: quantile of the critic's loss, in (0, 1) (default 0.9, the top decile).
    :param sigma: std of the Gaussian exploration noise on ``alpha`` (default 0.2, fixed).
    :param epsilon: probability of a uniformly random ``alpha`` after the warm-up (default 0.1).
    :param warmup: uniformly random queries before the actor acts and the networks train
        (default 20; use 0 when fine-tuning a pretrained policy).
    :param batch_size: minibatch size of each update (default 64).
    :param updates_per_step: critic + actor updates after each query (default 1).
    :param pretrained: path of a :meth:`save` file to start from (default: random init).
    :param torch_threads: torch CPU threads during the search (default 1; restored afterwards);
        ``None`` leaves torch's setting alone.
    :param standardize: train the critic on rewards standardised with the mean and std of the
        buffer (default True). The quantile of an increasing affine map of the reward is the same
        map of its quantile, so the critic's argmax and the actor's objective are unchanged; but
        the check loss has constant-size gradients, and on raw rewards (validation accuracies
        within a few hundredths of each other) the critic's Adam steps are as large as the
        differences it must resolve.

    The tau, the actor/critic/replay structure, the state, the exploration (Gaussian noise plus
    epsilon-greedy) and the normalised transfer reward follow the paper; the values of the widths,
    learning rates, batch size, sigma, epsilon, warm-up and the reward standardisation are this
    implementation's choices.

    How it compares with regularized evolution on NAS-Bench-201 is in the committed grid
    (``benchmarks/results/nb201``); why it falls short there, and a variant that changes what
    causes it: :mod:`nasgym.agents.l2nas_plus` (agent ``l2nas-plus``).
    """

    name = "l2nas"
    flavours = ("Continuous",)

    def __init__(
        self,
        hidden_sizes: Sequence[int] = (256, 256),
        actor_lr: float = 1e-3,
        critic_lr: float = 1e-3,
        tau: float = 0.9,
        sigma: float = 0.2,
        epsilon: float = 0.1,
        warmup: int = 20,
        batch_size: int = 64,
        updates_per_step: int = 1,
        pretrained: str | Path | None = None,
        torch_threads: int | None = 1,
        standardize: bool = True,
    ) -> None:
        self.standardize = bool(standardize)
        if isinstance(hidden_sizes, (str, bytes)) or not isinstance(hidden_sizes, Sequence) or not hidden_sizes:
            raise ValueError(f"hidden_sizes must be a non-empty sequence of integers >= 1, got {hidden_sizes!r}")
        self.hidden_sizes = tuple(check_int("hidden_sizes", h, 1) for h in hidden_sizes)
        self.actor_lr = check_float("actor_lr", actor_lr, 0.0, low_open=True)
        self.critic_lr = check_float("critic_lr", critic_lr, 0.0, low_open=True)
        self.tau = check_tau(tau)
        self.sigma = check_float("sigma", sigma, 0.0)
        self.epsilon = check_float("epsilon", epsilon, 0.0, 1.0)
        self.warmup = check_int("warmup", warmup, 0)
        self.batch_size = check_int("batch_size", batch_size, 1)
        self.updates_per_step = check_int("updates_per_step", updates_per_step, 0)
        self.torch_threads = None if torch_threads is None else check_int("torch_threads", torch_threads, 1)
        self.actor: Any = None
        self.critic: Any = None
        self._pretrained: dict[str, Any] | None = None
        if pretrained is not None:
            self.load(pretrained)

    # --- transfer ------------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Write the actor and critic state dicts (and their sizes) to ``path`` (``torch.save``).

        :param path: file to write.
        """
        import torch

        if self.actor is None:
            raise RuntimeError("nothing to save: run a search (or load a policy) first")
        torch.save(
            {
                "format": "nasgym-l2nas-v1",
                "obs_dim": self._obs_dim,
                "action_dim": self._action_dim,
                "hidden_sizes": list(self.hidden_sizes),
                "actor": self.actor.state_dict(),
                "critic": self.critic.state_dict(),
            },
            Path(path),
        )

    def load(self, path: str | Path) -> L2NAS:
        """Start the next searches from the policy saved at ``path`` (fine-tuning); returns ``self``.

        :param path: a file written by :meth:`save`.
        """
        import torch

        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"pretrained must be the path of an L2NAS.save() file, got {path!r}")
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"pretrained L2NAS policy {str(path)!r} does not exist")
        not_a_policy = f"pretrained L2NAS policy {str(path)!r} is not a file written by L2NAS.save()"
        try:  # weights only: a file's pickled code never runs here
            state = torch.load(path, map_location="cpu", weights_only=True)
        except OSError:
            raise
        except Exception:  # torch's own message would advise weights_only=False, i.e. running the file's code
            raise ValueError(f"{not_a_policy} (or it is damaged); nothing of it was loaded") from None
        if not isinstance(state, dict) or state.get("format") != "nasgym-l2nas-v1" or _POLICY_KEYS - set(state):
            raise ValueError(not_a_policy)
        if tuple(state["hidden_sizes"]) != self.hidden_sizes:
            raise ValueError(
                f"pretrained policy has hidden_sizes {tuple(state['hidden_sizes'])}, this agent {self.hidden_sizes}; "
                "build the agent with the same hidden_sizes"
            )
        self._pretrained = state
        return self

    # --- search ---------------------------------------------------------------------------------
    def _build(self, obs_dim: int, action_dim: int, rng: np.random.Generator) -> None:
        import torch

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(torch_seed(rng))
            self.actor = _mlp((obs_dim, *self.hidden_sizes, action_dim), output_tanh=True)
            self.critic = _mlp((obs_dim + action_dim, *self.hidden_sizes, 1), output_tanh=False)
        self._obs_dim, self._action_dim = obs_dim, action_dim
        if self._pretrained is not None:
            state = self._pretrained
            if (state["obs_dim"], state["action_dim"]) != (obs_dim, action_dim):
                raise ValueError(
                    f"pretrained policy is for observations of size {state['obs_dim']} and actions of size "
                    f"{state['action_dim']}; this env has {obs_dim} and {action_dim}"
                )
            self.actor.load_state_dict(state["actor"])
            self.critic.load_state_dict(state["critic"])

    def _search(self, env: gym.Env, seed: int) -> None:
        import torch

        action_space = env.action_space
        obs_dim = int(np.prod(env.observation_space.shape))
        action_dim = int(np.prod(action_space.shape))
        self._action_low = np.broadcast_to(np.asarray(action_space.low, np.float32), action_space.shape)
        self._action_high = np.broadcast_to(np.asarray(action_space.high, np.float32), action_space.shape)
        rng = agent_rng(seed)
        self._build(obs_dim, action_dim, rng)
        actor, critic = self.actor, self.critic
        actor_opt = torch.optim.Adam(actor.parameters(), lr=self.actor_lr)
        critic_opt = torch.optim.Adam(critic.parameters(), lr=self.critic_lr)
        capacity = int(getattr(env.unwrapped, "budget", 1024))
        states = np.zeros((capacity, obs_dim), np.float32)
        actions = np.zeros((capacity, action_dim), np.float32)
        rewards = np.zeros(capacity, np.float32)
        size = 0

        obs, _ = env.reset(seed=seed)
        step = 0
        while True:
            state = np.asarray(obs, np.float32).reshape(-1)
            alpha = self._explore(state, step, rng)
            obs, reward, terminated, truncated, info = env.step(self._to_action(alpha))
            self._observe(info)
            step += 1
            if size == len(rewards):  # grow the buffer (an env without a known budget)
                states, actions, rewards = (np.concatenate([a, np.zeros_like(a)]) for a in (states, actions, rewards))
            states[size], actions[size], rewards[size] = state, alpha, reward
            size += 1
            if terminated or truncated:
                return
            if step >= self.warmup:
                for _ in range(self.updates_per_step):
                    self._update(rng, states, actions, rewards, size, actor_opt, critic_opt)

    def _observe(self, info: dict[str, Any]) -> None:
        """Called with the info of every query; L2NAS itself learns from the reward only."""

    def _propose(self, state: np.ndarray, step: int, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` independent draws of the exploration rule in state ``s_t``: each is uniform during the
        warm-up and with probability ``epsilon``, else ``clip(mu(s_t) + z, -1, 1)``.

        :param state: the flat observation ``s_t`` (float32).
        :param step: queries made so far in this search.
        :param rng: the agent's generator.
        :param n: proposals to draw.
        :returns: float32 array of shape ``(n, action_dim)``, in [-1, 1].
        """
        import torch

        uniform = np.ones(n, bool) if step < self.warmup else rng.random(n) < self.epsilon
        alphas = np.empty((n, self._action_dim))
        alphas[uniform] = rng.uniform(-1.0, 1.0, (int(uniform.sum()), self._action_dim))
        if not uniform.all():
            with torch.no_grad():
                mu = self.actor(torch.from_numpy(state)).numpy().astype(np.float64)
            n_actor = n - int(uniform.sum())
            noise = rng.normal(0.0, self.sigma, (n_actor, self._action_dim)) if self.sigma > 0 else 0.0
            alphas[~uniform] = mu + noise
        return np.clip(alphas.astype(np.float32), -1.0, 1.0)

    def _explore(self, state: np.ndarray, step: int, rng: np.random.Generator) -> np.ndarray:
        """The encoding ``alpha_t`` to query in state ``s_t``: one draw of :meth:`_propose`.

        :param state: the flat observation ``s_t`` (float32).
        :param step: queries made so far in this search.
        :param rng: the agent's generator.
        :returns: ``alpha_t``, float32, of shape ``(action_dim,)``, in [-1, 1].
        """
        return self._propose(state, step, rng, 1)[0]

    def _to_action(self, alpha: np.ndarray) -> np.ndarray:
        """The env action of ``alpha`` in [-1, 1]: the linear map onto the env's Box bounds (the identity
        on the nasgym Continuous envs, whose Box is [-1, 1])."""
        low, high = self._action_low, self._action_high
        return (low + (alpha.reshape(low.shape) + 1.0) * 0.5 * (high - low)).astype(np.float32)

    def _update(
        self,
        rng: np.random.Generator,
        states: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        size: int,
        actor_opt: Any,
        critic_opt: Any,
    ) -> None:
        """One critic step (quantile loss on ``r - Q(s, a)``) and one actor step (maximise ``Q(s, mu(s))``)."""
        import torch

        batch = rng.integers(0, size, self.batch_size)
        s = torch.from_numpy(states[batch])
        a = torch.from_numpy(actions[batch])
        r = rewards[batch]
        if self.standardize:
            seen = rewards[:size]
            r = (r - seen.mean()) / max(float(seen.std()), 1e-6)
        r = torch.from_numpy(np.asarray(r, np.float32))
        q = self.critic(torch.cat([s, a], dim=1)).squeeze(1)
        critic_loss = quantile_loss(r - q, self.tau)
        critic_opt.zero_grad()
        critic_loss.backward()
        critic_opt.step()
        actor_loss = -self.critic(torch.cat([s, self.actor(s)], dim=1)).mean()
        actor_opt.zero_grad()
        actor_loss.backward()
        actor_opt.step()


__all__ = ["L2NAS", "check_tau", "quantile_loss"]
