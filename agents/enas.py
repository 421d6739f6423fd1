"""ENAS (Pham et al., ICML 2018): an LSTM controller trained by REINFORCE on a supernet env."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from nasgym.agents._utils import agent_rng, check_float, check_int, sample_categorical, torch_seed
from nasgym.agents.weight_sharing import SharedWeightsAgent


def build_enas_controller(
    n_choices: list[int], lstm_size: int, lstm_layers: int, temperature: float, tanh_constant: float
) -> Any:
    """NAS-Bench-201's ENAS controller: a learned first input, a stacked LSTM, one embedding of the
    previous decision's choice as the next input, and one linear head shared by all decisions whose
    logits are ``tanh_constant * tanh(logits / temperature)``.

    :param n_choices: choices of each decision (choices past a decision's count are masked out).
    :param lstm_size: LSTM hidden (and embedding) width.
    :param lstm_layers: stacked LSTM layers.
    :param temperature: logits are divided by it before the tanh.
    :param tanh_constant: bound of the logits.
    """
    import torch
    from torch import nn

    width = max(n_choices)

    class ENASController(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.first_input = nn.Parameter(torch.zeros(1, 1, lstm_size))
            self.lstm = nn.LSTM(lstm_size, lstm_size, num_layers=lstm_layers)
            self.embedding = nn.Embedding(width, lstm_size)
            self.head = nn.Linear(lstm_size, width)
            invalid = torch.tensor([[c >= n for c in range(width)] for n in n_choices])
            self.register_buffer("invalid", invalid)

        def sample(self, rng: np.random.Generator) -> tuple[np.ndarray, torch.Tensor, torch.Tensor]:
            """One architecture drawn decision by decision: its choices, and the sums of the
            log-probabilities of those choices and of the entropies of the decisions' distributions."""
            inputs, state = self.first_input, None
            choices, log_probs, entropies = [], [], []
            for decision in range(len(n_choices)):
                output, state = self.lstm(inputs, state)
                logits = tanh_constant * torch.tanh(self.head(output[0, 0]) / temperature)
                log_p = torch.log_softmax(logits.masked_fill(self.invalid[decision], -torch.inf), dim=0)
                choice = int(sample_categorical(rng, log_p.detach().exp().double().numpy()[None])[0])
                choices.append(choice)
                log_probs.append(log_p[choice])
                p = log_p.exp()
                entropies.append(-(p * log_p.masked_fill(p == 0, 0.0)).sum())
                inputs = self.embedding(torch.tensor([[choice]]))
            return np.array(choices, dtype=np.int64), torch.stack(log_probs).sum(), torch.stack(entropies).sum()

    return ENASController()


class ENAS(SharedWeightsAgent):
    """ENAS (Pham et al., "Efficient neural architecture search via parameter sharing", ICML 2018)
    with the controller and settings of NAS-Bench-201's implementation, on a Global env with
    ``evaluator="supernet"``.

    Each query of the training phase (the first ``budget - candidates``) is an architecture the
    controller samples; the evaluator trains the shared weights on it for its ``steps`` and returns
    its validation accuracy under them, so the shared weights and the controller learn in turns,
    one query at a time (NAS-Bench-201 alternates an epoch of each). The controller's reward is the
    env's reward (validation accuracy / 100 by default) plus ``entropy_weight`` times the entropy of
    the sampled decisions; the baseline moves as ``b <- b - (1 - baseline_decay) (b - R)`` from the
    first accuracy; the loss ``-(R - b) log p(arch)`` is averaged over ``aggregate`` samples per
    Adam step, gradients clipped to norm ``grad_clip``. The last ``candidates`` queries are
    architectures the trained controller samples, scored under the frozen shared weights; the
    search returns the best of them.

    Defaults are NAS-Bench-201's: a 2-layer LSTM of hidden size 32, temperature 5, tanh constant 2.5,
    entropy weight 1e-4, baseline decay 0.99, Adam with lr 1e-3, betas (0, 0.999) and eps 1e-3,
    gradient clip 5, 20 samples per controller step, 100 final candidates; weights start uniform in
    [-0.1, 0.1].

    :param lstm_size: LSTM hidden width (default 32).
    :param lstm_layers: stacked LSTM layers (default 2).
    :param temperature: logit temperature (default 5).
    :param tanh_constant: logit bound (default 2.5).
    :param entropy_weight: weight of the entropy in the reward (default 1e-4).
    :param baseline_decay: baseline decay (default 0.99).
    :param lr: Adam learning rate (default 1e-3).
    :param grad_clip: gradient norm clip (default 5).
    :param aggregate: samples per controller update (default 20).
    :param candidates: final candidates; ``None``: 100, or half the budget where that is less.
    :param torch_threads: torch CPU threads during the search (default 1; restored afterwards).

    After a search, :attr:`controller` holds the trained controller module.
    """

    name = "enas"

    def __init__(
        self,
        lstm_size: int = 32,
        lstm_layers: int = 2,
        temperature: float = 5.0,
        tanh_constant: float = 2.5,
        entropy_weight: float = 1e-4,
        baseline_decay: float = 0.99,
        lr: float = 1e-3,
        grad_clip: float = 5.0,
        aggregate: int = 20,
        candidates: int | None = None,
        torch_threads: int | None = 1,
    ) -> None:
        super().__init__(candidates, torch_threads)
        self.lstm_size = check_int("lstm_size", lstm_size, 1)
        self.lstm_layers = check_int("lstm_layers", lstm_layers, 1)
        self.temperature = check_float("temperature", temperature, 0.0, low_open=True)
        self.tanh_constant = check_float("tanh_constant", tanh_constant, 0.0, low_open=True)
        self.entropy_weight = check_float("entropy_weight", entropy_weight, 0.0)
        self.baseline_decay = check_float("baseline_decay", baseline_decay, 0.0, 1.0, high_open=True)
        self.lr = check_float("lr", lr, 0.0, low_open=True)
        self.grad_clip = check_float("grad_clip", grad_clip, 0.0, low_open=True)
        self.aggregate = check_int("aggregate", aggregate, 1)
        self.controller: Any = None

    def unsupported_reason(self, env: gym.Env) -> str | None:
        reason = super().unsupported_reason(env)
        if reason is None and env.unwrapped.evaluator.sampling != "architecture":
            return (
                "it trains the shared weights on the controller's architectures: make the env with "
                "sampling='architecture'"
            )
        return reason

    def _train_phase(self, env: gym.Env, seed: int, n_queries: int) -> None:
        import torch

        self._rng = agent_rng(seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(torch_seed(self._rng))
            controller = build_enas_controller(
                env.unwrapped.search_space.n_choices.tolist(),
                self.lstm_size, self.lstm_layers, self.temperature, self.tanh_constant,
            )  # fmt: skip
            for parameter in controller.parameters():
                torch.nn.init.uniform_(parameter, -0.1, 0.1)
        self.controller = controller
        optimizer = torch.optim.Adam(controller.parameters(), lr=self.lr, betas=(0.0, 0.999), eps=1e-3)
        optimizer.zero_grad()
        baseline = None
        for query in range(1, n_queries + 1):
            choices, log_prob, entropy = controller.sample(self._rng)
            _, reward, _, _, _ = env.step(choices)
            if baseline is None:  # NAS-Bench-201 starts the baseline at the first accuracy
                baseline = float(reward)
            reward = float(reward) + self.entropy_weight * entropy.item()
            baseline -= (1.0 - self.baseline_decay) * (baseline - reward)
            (-(reward - baseline) * log_prob / self.aggregate).backward()
            if query % self.aggregate == 0:
                torch.nn.utils.clip_grad_norm_(controller.parameters(), self.grad_clip)
                optimizer.step()
                optimizer.zero_grad()

    def _candidates(self, n: int) -> list[np.ndarray]:
        import torch

        with torch.no_grad():
            return [self.controller.sample(self._rng)[0] for _ in range(n)]
