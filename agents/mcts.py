"""Monte Carlo tree search on a fixed action space: the Sequential env's decisions as the tree."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np

from nasgym.agents._utils import agent_rng, check_float
from nasgym.agents.base import SearchAgent
from nasgym.agents.lanas import ucb
from nasgym.envs import SequentialNASEnv
from nasgym.spaces import SearchSpace


class MCTSNode:
    """One node of the search tree: a prefix of tokens (a partial architecture).

    :param valid_tokens: the tokens that may follow the node's prefix (the space's sequence mask).

    :ivar children: token -> child node, for the tokens expanded so far.
    :ivar untried: valid tokens not expanded yet.
    :ivar visits: simulations that passed through the node.
    :ivar value_sum: sum of their values (validation accuracy as a fraction).
    :ivar exhausted: every architecture below the node has been queried.
    """

    __slots__ = ("children", "untried", "visits", "value_sum", "exhausted")

    def __init__(self, valid_tokens: list[int]) -> None:
        self.children: dict[int, MCTSNode] = {}
        self.untried = list(valid_tokens)
        self.visits = 0
        self.value_sum = 0.0
        self.exhausted = False

    @property
    def mean(self) -> float:
        """Mean value of the simulations through the node (NaN before any)."""
        return self.value_sum / self.visits if self.visits else math.nan


class MCTS(SearchAgent):
    """Monte Carlo tree search (UCT, Kocsis and Szepesvári 2006) on the Sequential env: the fixed
    action space that LaNAS (Wang et al.) compares its learned one with.

    The tree's levels are the env's steps: a node is a prefix of tokens (on NAS-Bench-201 the ops
    of the first edges), its children the tokens the space allows next (its
    :meth:`~nasgym.spaces.SearchSpace.sequence_mask`, what the env's ``action_masks()`` gives), and
    a node at full depth is one architecture. Each iteration:

    1. Selection: from the root, while every valid token of the node has a child, go to the child
       with the largest upper confidence bound ``mean + 2 cp sqrt(2 ln n_parent / n_child)``
       (:func:`~nasgym.agents.lanas.ucb`, the bound LaNAS selects its regions with; ties: the
       smallest token).
    2. Expansion: add a child for one untried token, drawn uniformly.
    3. Rollout: complete the architecture with uniform valid tokens.
    4. Evaluation: query it (one env step per token); its value is ``info["valid_acc"] / 100``,
       seed noise included. An architecture queried before is not queried again: its first
       observation is its value, and the iteration costs no query.
    5. Backup: every node on the tree path counts the simulation and adds its value.

    A node whose architectures have all been queried is exhausted and never selected, so every
    iteration grows the tree or queries a new architecture, and a search of a space's size in
    queries queries every architecture once. Once the whole space has been queried, selection
    takes every child again and each iteration queries its architecture.

    :param cp: exploration constant ``cp`` of the bound, >= 0 (default 0.1: LaNAS's default on the
        same accuracy scale, so that the two differ only in their action space).

    After a search, :attr:`root` holds the tree.
    """

    name = "mcts"
    flavours = ("Sequential",)

    def __init__(self, cp: float = 0.1) -> None:
        self.cp = check_float("cp", cp, 0.0)
        self.root: MCTSNode | None = None

    def unsupported_reason(self, env: gym.Env) -> str | None:
        if not isinstance(env.unwrapped, SequentialNASEnv):
            return (
                "MCTS builds architectures token by token through the space's sequence "
                "(sequence_mask, sequence_index), which only SequentialNASEnv follows; search this space's Global env"
            )
        return None

    def select_child(self, node: MCTSNode, skip_exhausted: bool = True) -> int:
        """The token of ``node``'s child with the largest bound (ties: the smallest token).

        :param node: a node with at least one child to choose from.
        :param skip_exhausted: leave out exhausted children.
        """
        best_token, best_bound = -1, -math.inf
        for token in sorted(node.children):
            child = node.children[token]
            if skip_exhausted and child.exhausted:
                continue
            bound = ucb(child.mean, child.visits, node.visits, self.cp)
            if bound > best_bound:
                best_token, best_bound = token, bound
        return best_token

    def search(self, env: gym.Env, seed: int) -> None:
        self.check_env(env)
        space: SearchSpace = env.unwrapped.search_space
        depth = space.sequence_length
        rng = agent_rng(seed)
        env.reset(seed=seed)
        self.root = root = MCTSNode(self._valid_tokens(space, []))
        seen: dict[int, float] = {}  # index -> value of its first query
        while True:
            fresh = not root.exhausted  # unqueried architectures remain: do not repeat a query
            tokens: list[int] = []
            path = [root]
            node = root
            while len(tokens) < depth and not node.untried:
                token = self.select_child(node, skip_exhausted=fresh)
                tokens.append(token)
                node = node.children[token]
                path.append(node)
            if len(tokens) < depth:
                token = node.untried.pop(int(rng.integers(len(node.untried))))
                tokens.append(token)
                node.children[token] = node = MCTSNode(self._valid_tokens(space, tokens) if len(tokens) < depth else [])
                path.append(node)
            while len(tokens) < depth:
                valid = self._valid_tokens(space, tokens)
                tokens.append(valid[int(rng.integers(len(valid)))])
            index = space.sequence_index(tokens)
            value = seen.get(index) if fresh else None
            done = False
            if value is None:
                for token in tokens:
                    _, _, terminated, truncated, info = env.step(token)
                value = float(info["valid_acc"]) / 100.0
                seen.setdefault(index, value)
                done = terminated or truncated
            if len(path) == depth + 1:
                path[-1].exhausted = True  # its one architecture has been queried
            for visited in reversed(path):
                visited.visits += 1
                visited.value_sum += value
                if not visited.exhausted and not visited.untried and visited.children:
                    visited.exhausted = all(child.exhausted for child in visited.children.values())
            if done:
                return

    @staticmethod
    def _valid_tokens(space: SearchSpace, prefix: list[int]) -> list[int]:
        """The tokens that may follow ``prefix``."""
        return np.flatnonzero(space.sequence_mask(prefix)).tolist()
