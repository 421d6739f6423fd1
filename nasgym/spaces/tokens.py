"""Sequential-env tokens read modulo each decision's choices, for spaces of uneven decisions."""

from __future__ import annotations

import numpy as np

from nasgym.spaces.base import SearchSpace


class ModuloTokens(SearchSpace):
    """A :class:`~nasgym.spaces.base.SearchSpace` whose Sequential envs take every token of
    ``Discrete(max_choices)`` at every step: at a decision with ``n`` choices token ``t`` names
    choice ``t mod n``, so a random action never fails, and ``action_masks()`` allows the
    canonical tokens ``t < n`` (what MaskablePPO should sample)."""

    def sequence_valid(self, prefix: list[int], token: int) -> bool:
        """Every token of the action space."""
        return 0 <= token < self.max_choices

    def sequence_mask(self, prefix: list[int]) -> np.ndarray:
        """The canonical tokens ``t < n`` of the next decision."""
        return np.arange(self.max_choices) < self._n_choices_list[len(prefix)]

    def sequence_index(self, tokens: list[int]) -> int:
        """Canonical index of a complete token sequence, each token read modulo its decision's choices."""
        index = 0
        for token, n_choices in zip(tokens, self._n_choices_list, strict=True):
            index = index * n_choices + token % n_choices
        return index
