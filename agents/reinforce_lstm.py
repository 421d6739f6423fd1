"""REINFORCE with an LSTM controller (Zoph & Le, 2017) on the Sequential env."""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from nasgym.agents._utils import (
    EMABaseline,
    agent_rng,
    check_float,
    check_int,
    sample_categorical,
    torch_seed,
)
from nasgym.agents.base import TorchSearchAgent, valid_actions_mask


def build_controller(n_choices: list[int], hidden_size: int) -> Any:
    """The controller network: an embedding of the previous action (plus a start token), one
    ``LSTMCell`` shared by all steps, and one linear softmax head per decision.

    :param n_choices: actions of each step position of one architecture, in the order the env asks.
    :param hidden_size: LSTM hidden (and embedding) width.
    """
    import torch
    from torch import nn

    class Controller(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.start_token = max(n_choices)
            self.embedding = nn.Embedding(max(n_choices) + 1, hidden_size)
            self.cell = nn.LSTMCell(hidden_size, hidden_size)
            self.heads = nn.ModuleList(nn.Linear(hidden_size, n) for n in n_choices)
            self.hidden_size = hidden_size

        def initial_state(self) -> tuple[torch.Tensor, torch.Tensor, int]:
            zeros = torch.zeros(1, self.hidden_size)
            return zeros, zeros, self.start_token

        def step(
            self, position: int, state: tuple[torch.Tensor, torch.Tensor, int]
        ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
            """Log-probabilities of decision ``position`` given the previous action, and the new state."""
            h, c, previous = state
            h, c = self.cell(self.embedding(torch.tensor([previous])), (h, c))
            return torch.log_softmax(self.heads[position](h)[0], dim=0), (h, c)

    return Controller()


class ReinforceLSTM(TorchSearchAgent):
    """REINFORCE with an autoregressive LSTM controller (Zoph & Le, ICLR 2017) on the Sequential env.

    The controller picks one action per env step (for NAS-Bench-201: the op of edge 0, then
    edge 1, ..., edge 5; on ``ConvNet-Sequential-v0`` LaNAS's tokens, kernel, channels, then stop
    or add a layer, so architectures take a variable number of steps): it feeds the embedding of
    its previous action (a start token at the first step) to an LSTM cell and samples the action
    from the softmax head of that step's position in the architecture, one head per position up to
    the env's ``max_query_steps``. Where the env has ``action_masks()``, the softmax of each step
    is renormalised over the actions its mask allows. It
    conditions on its own previous actions, not on the env's observation (which holds the same
    partial architecture). After the step that completes the architecture, one Adam step on
    ``-(R - b) * sum_t log p(a_t)``, where ``R`` is the reward of that step and ``b`` the
    bias-corrected EMA of the rewards (updated with ``R`` first, as NATS-Bench's REINFORCE does).

    Defaults: the controller of Zoph & Le and ENAS (an LSTM cell, embedding of the previous action,
    a softmax classifier per step, uniform init in [-0.1, 0.1] as in ENAS), sized down to
    ``hidden_size=64`` for a 6-decision space, with the NAS-Bench-201 REINFORCE baseline's
    momentum 0.9. The learning rate is 3.5e-4 in ENAS and 6e-4 in Zoph & Le, tuned there for
    thousands of controller updates; a search of a few hundred queries makes only that many, so
    the default here is the larger ``lr=1e-3`` (pass ``lr=3.5e-4`` for the ENAS setting).

    :param hidden_size: LSTM hidden width (default 64).
    :param lr: Adam learning rate (default 1e-3; see above).
    :param momentum: EMA momentum of the baseline (default 0.9).
    :param init_range: weights start uniform in [-init_range, init_range] (default 0.1, as ENAS).
    :param torch_threads: torch CPU threads during the search (default 1; restored afterwards);
        ``None`` leaves torch's setting alone.

    After a search, :attr:`controller` holds the trained controller module.
    """

    name = "reinforce-lstm"
    flavours = ("Sequential",)

    def __init__(
        self,
        hidden_size: int = 64,
        lr: float = 1e-3,
        momentum: float = 0.9,
        init_range: float = 0.1,
        torch_threads: int | None = 1,
    ) -> None:
        self.hidden_size = check_int("hidden_size", hidden_size, 1)
        self.lr = check_float("lr", lr, 0.0, low_open=True)
        self.momentum = check_float("momentum", momentum, 0.0, 1.0, high_open=True)
        self.init_range = check_float("init_range", init_range, 0.0)
        self.torch_threads = None if torch_threads is None else check_int("torch_threads", torch_threads, 1)
        self.controller: Any = None

    def unsupported_reason(self, env: gym.Env) -> str | None:
        if not isinstance(getattr(env.unwrapped, "max_query_steps", None), int):
            return "it does not say how many steps one architecture takes (a max_query_steps attribute)"
        return None

    def _search(self, env: gym.Env, seed: int) -> None:
        import torch

        n_steps = env.unwrapped.max_query_steps
        n_actions = int(env.action_space.n)
        rng = agent_rng(seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(torch_seed(rng))
            controller = build_controller([n_actions] * n_steps, self.hidden_size)
            for parameter in controller.parameters():
                torch.nn.init.uniform_(parameter, -self.init_range, self.init_range)
        self.controller = controller
        optimizer = torch.optim.Adam(controller.parameters(), lr=self.lr)
        baseline = EMABaseline(self.momentum)
        env.reset(seed=seed)
        while True:
            h, c, previous = controller.initial_state()
            chosen: list[torch.Tensor] = []
            for position in range(n_steps):
                log_probs, (h, c) = controller.step(position, (h, c, previous))
                mask = valid_actions_mask(env)
                if mask is not None:  # renormalised over the actions this step accepts
                    log_probs = torch.log_softmax(log_probs.masked_fill(torch.from_numpy(~mask), -torch.inf), dim=0)
                previous = int(sample_categorical(rng, log_probs.detach().exp().double().numpy()[None])[0])
                chosen.append(log_probs[previous])
                _, reward, terminated, truncated, info = env.step(previous)
                if "arch" in info:  # the architecture is complete and was queried
                    break
            else:
                raise RuntimeError(f"the env took more than its max_query_steps={n_steps} steps for one architecture")
            baseline.update(reward)
            loss = -(float(reward) - baseline.value) * torch.stack(chosen).sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if terminated or truncated:
                return
