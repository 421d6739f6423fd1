"""A finite search space: a product of categorical decisions, indexed in mixed radix."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: arch strings already formatted, per kind of space (class, decisions, choices), shared by every
#: instance in the process: the envs print one per step, and a dict hit costs ~1/30 of formatting.
_ARCH_STRINGS: dict[tuple, dict[int, str]] = {}


class SearchSpace:
    """A product of categorical decisions with a canonical integer index per architecture.

    An architecture is a vector of choice indices, one per decision. Its canonical index is that
    vector read as a mixed-radix number with the first decision most significant, so the index
    order is the lexicographic order of the choice vectors.

    :param name: short name of the space, used in cache paths and env ids.
    :param decision_names: one name per decision.
    :param choices: the labels of the choices of each decision.
    """

    def __init__(self, name: str, decision_names: Sequence[str], choices: Sequence[Sequence[str]]) -> None:
        if len(decision_names) != len(choices):
            raise ValueError(
                f"decision_names has {len(decision_names)} entries but choices has {len(choices)}; "
                "give one tuple of choices per decision"
            )
        if any(len(c) < 1 for c in choices):
            raise ValueError("choices: every decision needs at least one choice")
        self.name = name
        self.decision_names = tuple(decision_names)
        self.choices = tuple(tuple(c) for c in choices)
        self.n_choices = np.array([len(c) for c in self.choices], dtype=np.int64)
        self.max_choices = int(self.n_choices.max())
        # weight of each decision in the canonical index: the product of the radices after it
        self._radix_weights = np.concatenate([np.cumprod(self.n_choices[::-1])[::-1][1:], [1]]).astype(np.int64)
        self.size = int(np.prod(self.n_choices))
        self._weights_list = [int(w) for w in self._radix_weights]
        self._n_choices_list = [int(n) for n in self.n_choices]
        self._arch_strings = _ARCH_STRINGS.setdefault((type(self), self.decision_names, self.choices), {})

    @property
    def n_decisions(self) -> int:
        return len(self.decision_names)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, decisions={self.n_decisions}, size={self.size})"

    # --- index <-> choice vectors -------------------------------------------------------------
    def check_choices(self, choices: np.ndarray, argument: str = "choices") -> np.ndarray:
        """Return ``choices`` as an int64 array of shape (..., n_decisions), or raise a clear error."""
        arr = np.asarray(choices)
        if arr.shape[-1:] != (self.n_decisions,):
            raise ValueError(
                f"{argument} must have a last dimension of {self.n_decisions} (one choice per decision), "
                f"got shape {arr.shape}"
            )
        if not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"{argument} must hold integer choice indices, got dtype {arr.dtype}")
        arr = arr.astype(np.int64, copy=False)
        if ((arr < 0) | (arr >= self.n_choices)).any():
            raise ValueError(
                f"{argument} out of range: decision d accepts 0..n_choices[d]-1 with "
                f"n_choices={self.n_choices.tolist()}, got {arr.tolist()}"
            )
        return arr

    def check_index(self, index: np.ndarray | int, argument: str = "index") -> np.ndarray:
        """Return ``index`` as an int64 array, or raise a clear error if any is outside 0..size-1."""
        arr = np.asarray(index)
        if not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"{argument} must be integer, got dtype {arr.dtype}")
        arr = arr.astype(np.int64, copy=False)
        if ((arr < 0) | (arr >= self.size)).any():
            raise ValueError(f"{argument} must be in 0..{self.size - 1}, got {arr.tolist()}")
        return arr

    def index_of(self, choices: np.ndarray) -> np.ndarray:
        """Canonical index of each choice vector (vectorised over leading dimensions)."""
        return self.check_choices(choices) @ self._radix_weights

    def choices_of(self, index: np.ndarray | int) -> np.ndarray:
        """Choice vectors of canonical indices: shape ``index.shape + (n_decisions,)``."""
        arr = self.check_index(index)
        return (arr[..., None] // self._radix_weights) % self.n_choices

    def enumerate(self) -> np.ndarray:
        """All architectures as one (size, n_decisions) int64 array, row i = canonical index i."""
        return self.choices_of(np.arange(self.size, dtype=np.int64))

    # --- encodings ----------------------------------------------------------------------------
    def one_hot(self, choices: np.ndarray) -> np.ndarray:
        """One-hot encoding of shape (..., n_decisions, max_choices), float32.

        Decisions with fewer than ``max_choices`` choices leave their trailing columns at zero.
        """
        arr = self.check_choices(choices)
        return (arr[..., None] == np.arange(self.max_choices)).astype(np.float32)

    def features(self, choices: np.ndarray) -> np.ndarray:
        """Numeric feature vector for linear models (LaNAS): the flattened one-hot encoding."""
        encoded = self.one_hot(choices)
        return encoded.reshape(encoded.shape[:-2] + (-1,))

    # --- strings ------------------------------------------------------------------------------
    def to_string(self, choices: np.ndarray) -> str:
        """Readable string of one architecture given as a choice vector."""
        return self._format(self.check_choices(choices).tolist())

    def arch_string(self, index: int) -> str:
        """Readable string of one architecture given by canonical index (pure Python: per-step path)."""
        if type(index) is int:  # cached (other index types are rare: format them each time)
            text = self._arch_strings.get(index)
            if text is None:
                text = self._arch_strings[index] = self._arch_string(index)
            return text
        return self._arch_string(index)

    def _arch_string(self, index: int) -> str:
        return self._format([(index // w) % n for w, n in zip(self._weights_list, self._n_choices_list, strict=True)])

    def _format(self, choices: list[int]) -> str:
        """Format a valid choice list; spaces with a standard notation override this.

        The result must depend on the choices alone: :meth:`arch_string` caches it per space kind.
        """
        return ",".join(f"{n}={c[i]}" for n, c, i in zip(self.decision_names, self.choices, choices, strict=True))

    def from_string(self, text: str) -> np.ndarray:
        """Inverse of :meth:`to_string`."""
        expected = self.to_string(np.zeros(self.n_decisions, dtype=np.int64))
        parts = text.split(",") if isinstance(text, str) else []
        if len(parts) != self.n_decisions:
            raise ValueError(f"arch string {text!r} is malformed; expected the form {expected!r}")
        out = np.empty(self.n_decisions, dtype=np.int64)
        for d, (part, name, labels) in enumerate(zip(parts, self.decision_names, self.choices, strict=True)):
            key, _, value = part.partition("=")
            if key != name or value not in labels:
                raise ValueError(
                    f"arch string {text!r}: decision {name!r} accepts {list(labels)}; expected the form {expected!r}"
                )
            out[d] = labels.index(value)
        return out
