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
from nasgym.agents.base import TorchSearchAgent


def build_controller(n_choices: list[int], hidden_size: int) -> Any:
    """The controller network: an embedding of the previous action (plus a start token), one
    ``LSTMCell`` shared by all steps, and one linear softmax head per decision.

    :param n_choices: choices of each decision, in the order the env asks for them.
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

    The controller picks one decision per env step (for NAS-Bench-201: the op of edge 0, then
    edge 1, ..., edge 5): it feeds the embedding of its previous action (a start token at the
    first step) to an LSTM cell and samples the op from that step's softmax head. It conditions on
    its own previous actions, not on the env's observation (which holds the same partial
    architecture). After the step that completes the architecture, one Adam step on
    ``-(R - b) * sum_t log p(a_t)``, where ``R`` is the reward of that step and ``b`` the
    bias-corrected EMA of the rewards (updated with ``R`` first, as NATS-Bench's REINFORCE does).

    Defaults: the controller of Zoph & Le and ENAS (an LSTM cell, embedding of the previous action,
    a softmax classifier per step, uniform init in [-0.1, 0.1] as in ENAS), sized down to
    ``hidden_size=64`` for a 6-decision space, with the NAS-Bench-201 REINFORCE baseline's
    momentum 0.9. The learning rate is 3.5e-4 in ENAS and 6e-4 in Zoph & Le, tuned there for
    thousands of controller updates; with a few hundred queries such rates barely move the
    policy, so the default here is ``lr=1e-3``, the value that did best on the NAS-Bench-201
    tables at 500 queries among {3.5e-4, 1e-3, 3e-3, 1e-2} in our runs (pass ``lr=3.5e-4`` for the
    ENAS setting).

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

    def _search(self, env: gym.Env, seed: int) -> None:
        import torch

        space = env.unwrapped.search_space
        n_choices = [int(n) for n in space.n_choices]
        rng = agent_rng(seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(torch_seed(rng))
            controller = build_controller(n_choices, self.hidden_size)
            for parameter in controller.parameters():
                torch.nn.init.uniform_(parameter, -self.init_range, self.init_range)
        self.controller = controller
        optimizer = torch.optim.Adam(controller.parameters(), lr=self.lr)
        baseline = EMABaseline(self.momentum)
        env.reset(seed=seed)
        while True:
            h, c, previous = controller.initial_state()
            chosen: list[torch.Tensor] = []
            for position in range(space.n_decisions):
                log_probs, (h, c) = controller.step(position, (h, c, previous))
                previous = int(sample_categorical(rng, log_probs.detach().exp().double().numpy()[None])[0])
                chosen.append(log_probs[previous])
                _, reward, terminated, truncated, _ = env.step(previous)
                if (terminated or truncated) and position < space.n_decisions - 1:
                    return  # cannot happen with a nasgym env: it ends only on a completed architecture
            baseline.update(reward)
            loss = -(float(reward) - baseline.value) * torch.stack(chosen).sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if terminated or truncated:
                return
