"""A finite search space: a product of categorical decisions, indexed in mixed radix."""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np

#: spaces with more architectures than this are never enumerated (:attr:`SearchSpace.enumerable`):
#: one int64 choice vector per architecture would take gigabytes.
ENUMERATE_LIMIT = 10**7
#: canonical indices are int64: a space must hold fewer architectures than this.
INDEX_LIMIT = 2**63

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

    #: whether the envs of the three flavours may drive the space though it is not a plain product:
    #: it maps every action onto an architecture itself (:meth:`decode_choices`,
    #: :meth:`sequence_index`, :meth:`decode_relaxation`), as NAS-Bench-101 does
    decodes_actions: ClassVar[bool] = False
    #: whether the evaluators' ``valid_acc`` of this space is an accuracy in percent (never negative);
    #: FCNet's is minus 100 times a validation loss, which the MnasNet reward cannot take
    valid_acc_is_accuracy: ClassVar[bool] = True
    #: what the evaluators' ``valid_acc`` of this space holds, in words a report can print
    valid_acc_meaning: ClassVar[str] = "validation accuracy (%)"

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
        self._n_choices_list = [len(c) for c in self.choices]
        # in Python ints, so that a space too large for int64 indices is refused, not wrapped around
        product = math.prod(self._n_choices_list)
        if product >= INDEX_LIMIT:
            raise ValueError(
                f"choices: a space of {product} choice vectors does not fit int64 canonical indices "
                f"(at most {INDEX_LIMIT - 1}); split it into smaller spaces or give it a non-integer key"
            )
        self.n_choices = np.array(self._n_choices_list, dtype=np.int64)
        self.max_choices = max(self._n_choices_list)
        # weight of each decision in the canonical index: the product of the radices after it
        self._weights_list = [math.prod(self._n_choices_list[d + 1 :]) for d in range(len(self.choices))]
        self._radix_weights = np.array(self._weights_list, dtype=np.int64)
        self._radix_weights.flags.writeable = False
        # padded choices of uneven decisions can never win the argmax of decode_relaxation
        uneven = self.max_choices != min(self._n_choices_list)
        padding = np.where(np.arange(self.max_choices) < self.n_choices[:, None], 0.0, -np.inf)
        self._relaxation_padding = padding if uneven else None
        #: number of architectures (a Python int); subclasses that are not plain products set their own
        self.size: int = product
        # arch strings are cached per space kind only where the cache is bounded by the space
        self._arch_strings = (
            _ARCH_STRINGS.setdefault((type(self), self.decision_names, self.choices), {}) if self.enumerable else None
        )

    @classmethod
    def load(cls, cache_dir: Path | str | None = None) -> SearchSpace:
        """The space as :func:`~nasgym.spaces.get_space` builds it: spaces defined by their code
        alone ignore ``cache_dir``; one defined by its imported table (NAS-Bench-101) reads it there."""
        return cls()

    @property
    def cache_key(self) -> tuple:
        """What caches shared between instances (feature tables) are keyed by: the space's kind
        (class, decisions, choices), which fixes its architectures and their indices."""
        return (type(self), self.decision_names, self.choices)

    @property
    def n_decisions(self) -> int:
        return len(self.decision_names)

    @property
    def radix_weights(self) -> np.ndarray:
        """Weight of each decision in the mixed-radix product index (read-only int64 array): the
        product of the numbers of choices of the decisions after it. For a plain product space
        ``index_of(choices) == choices @ radix_weights``."""
        return self._radix_weights

    @property
    def is_product(self) -> bool:
        """Whether every choice vector is a distinct architecture (a plain product of decisions)."""
        return self.size == math.prod(self._n_choices_list)

    @property
    def enumerable(self) -> bool:
        """Whether :meth:`enumerate` may be called (at most :data:`ENUMERATE_LIMIT` architectures)."""
        return self.size <= ENUMERATE_LIMIT

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, decisions={self.n_decisions}, size={self.size})"

    # --- index <-> choice vectors -------------------------------------------------------------
    def check_choices(self, choices: np.ndarray, argument: str = "choices") -> np.ndarray:
        """Return ``choices`` as an int64 array of shape (..., n_decisions), or raise a clear error."""
        try:
            arr = np.asarray(choices)
        except ValueError:  # ragged nesting, undecodable bytes: numpy's message would not name the argument
            raise ValueError(f"{argument} must be an array of integer choice indices, got {choices!r:.100}") from None
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
        try:
            arr = np.asarray(index)
        except ValueError:  # ragged nesting, undecodable bytes
            raise ValueError(f"{argument} must be integer, got {index!r:.100}") from None
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
        """All architectures as one (size, n_decisions) int64 array, row i = canonical index i.

        :raises ValueError: if the space is not :attr:`enumerable`.
        """
        if not self.enumerable:
            raise ValueError(
                f"space {self.name!r} holds {self.size:.3e} architectures, more than the {ENUMERATE_LIMIT:.0e} "
                "that enumerate() lists; draw architectures with sample() or walk them with neighbours()"
            )
        return self.choices_of(np.arange(self.size, dtype=np.int64))

    def canonical(self, choices: np.ndarray) -> np.ndarray:
        """The canonical choice vector of each architecture (the identity for a plain product)."""
        return self.check_choices(choices)

    def decode_choices(self, choices: np.ndarray) -> int:
        """Canonical index of the architecture one choice vector names as a Global env's action:
        here :meth:`index_of` (a space with :attr:`decodes_actions` maps every vector somewhere)."""
        return int(self.index_of(choices))

    def sample(self, rng: np.random.Generator, n: int | None = None) -> np.ndarray:
        """Architectures drawn uniformly at random, as canonical choice vectors.

        For a plain product this is one ``rng.integers(0, n_choices)`` draw per architecture
        (shape ``(n_decisions,)`` when ``n`` is None, else ``(n, n_decisions)``), the same draws
        as ``n`` such calls. Other spaces draw uniform canonical indices, so every architecture is
        equally likely however many choice vectors name it.

        :param rng: the caller's generator (all randomness comes from it).
        :param n: number of architectures, or None for one vector.
        """
        if n is not None and (isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0):
            raise ValueError(f"n must be None or an integer >= 0, got {n!r}")
        if self.is_product:
            return rng.integers(0, self.n_choices, size=None if n is None else (int(n), self.n_decisions))
        return self.choices_of(rng.integers(0, self.size, size=n, dtype=np.int64))

    def neighbours(self, choices: np.ndarray) -> np.ndarray:
        """Every architecture one decision away from ``choices``, as canonical choice vectors.

        Rows go decision by decision, choices in increasing order; changes that leave the
        architecture as it is (a choice the architecture ignores) or repeat an earlier row are
        dropped. For NAS-Bench-201: 6 edges x 4 other ops = 24 rows.

        :param choices: one choice vector.
        """
        centre = self.canonical(choices)
        if centre.ndim != 1:
            raise ValueError(f"choices must be one choice vector of shape ({self.n_decisions},), got {centre.shape}")
        rows = []
        for decision, n in enumerate(self._n_choices_list):
            for choice in range(n):
                if choice != centre[decision]:
                    row = centre.copy()
                    row[decision] = choice
                    rows.append(row)
        candidates = self.canonical(np.array(rows, dtype=np.int64).reshape(-1, self.n_decisions))
        if self.is_product:
            return candidates
        keys = self.index_of(candidates).tolist()
        seen = {int(self.index_of(centre))}
        keep = [k for k, key in enumerate(keys) if not (key in seen or seen.add(key))]
        return candidates[keep]

    # --- resources ----------------------------------------------------------------------------
    def resources(self, choices: np.ndarray, dataset: str) -> dict[str, np.ndarray]:
        """Resource metrics of architectures known without training them (``flops`` and ``params``
        in millions, ...), one array each over the leading dimensions of ``choices``: what an env's
        ``constraint`` reads when its evaluator holds no table (live training, an API). Empty (the
        default) where the space knows none on ``dataset``.

        :param choices: choice vectors, shape (..., n_decisions).
        :param dataset: the dataset the networks are built for (input size, classes).
        """
        return {}

    # --- encodings ----------------------------------------------------------------------------
    def one_hot(self, choices: np.ndarray) -> np.ndarray:
        """One-hot encoding of shape (..., n_decisions, max_choices), float32.

        Decisions with fewer than ``max_choices`` choices leave their trailing columns at zero.
        """
        arr = self.check_choices(choices)
        return (arr[..., None] == np.arange(self.max_choices)).astype(np.float32)

    def features(self, choices: np.ndarray) -> np.ndarray:
        """Numeric feature vector (..., :attr:`feature_size`), float32, for linear models (LaNAS)
        and the envs' observations: here the flattened one-hot encoding."""
        encoded = self.one_hot(choices)
        return encoded.reshape(encoded.shape[:-2] + (-1,))

    @property
    def feature_size(self) -> int:
        """Length of :meth:`features`."""
        return self.n_decisions * self.max_choices

    def uniform_features(self) -> np.ndarray:
        """The envs' observation before any query (float32, :attr:`feature_size`): each decision's
        choices equally weighted."""
        n_choices = self.n_choices[:, None]
        return np.where(np.arange(self.max_choices) < n_choices, 1.0 / n_choices, 0).astype(np.float32).reshape(-1)

    # --- continuous relaxation (Continuous envs) ------------------------------------------------
    @property
    def relaxation_shape(self) -> tuple[int, int]:
        """Shape of a continuous relaxation: one weight per (row, choice); here one row per decision.
        Its flat form has the length and layout of :meth:`features`."""
        return (self.n_decisions, self.max_choices)

    def decode_relaxation(self, scores: np.ndarray) -> int:
        """Canonical index of the architecture a relaxation (float array of :attr:`relaxation_shape`,
        finite) encodes: here the argmax of each decision's choices (ties: the first).

        Runs on every Continuous env step: pure Python on one ``tolist()``.
        """
        if self._relaxation_padding is not None:
            scores = scores + self._relaxation_padding
        return sum(map(operator.mul, scores.argmax(axis=1).tolist(), self._weights_list))

    def vertex(self, choices: np.ndarray) -> np.ndarray:
        """The relaxation point of an architecture (float32, flat): +1 at its choices, -1 elsewhere
        (``2 * features - 1``); :meth:`decode_relaxation` maps it back to the architecture."""
        return 2.0 * self.features(choices) - np.float32(1.0)

    # --- sequence of tokens (Sequential envs) ---------------------------------------------------
    @property
    def sequence_length(self) -> int:
        """Tokens (env steps) per architecture: here one per decision."""
        return self.n_decisions

    @property
    def sequence_width(self) -> int:
        """Number of distinct tokens (the Sequential env's ``Discrete(n)``)."""
        return self.max_choices

    def sequence_valid(self, prefix: list[int], token: int) -> bool:
        """Whether ``token`` (a Python int) may follow ``prefix``: here a choice of decision ``len(prefix)``."""
        return 0 <= token < self._n_choices_list[len(prefix)]

    def sequence_mask(self, prefix: list[int]) -> np.ndarray:
        """Boolean mask over the :attr:`sequence_width` tokens that may follow ``prefix``."""
        return np.array([self.sequence_valid(prefix, token) for token in range(self.sequence_width)])

    def sequence_index(self, tokens: list[int]) -> int:
        """Canonical index of a complete, valid token sequence: here the mixed-radix index."""
        return sum(map(operator.mul, tokens, self._weights_list))

    def sequence_of(self, choices: np.ndarray) -> list[int]:
        """The canonical token sequence of one architecture (inverse of :meth:`sequence_index`)."""
        arr = self.canonical(choices)
        if arr.ndim != 1:
            raise ValueError(f"choices must be one choice vector of shape ({self.n_decisions},), got {arr.shape}")
        return arr.tolist()

    # --- drawing ------------------------------------------------------------------------------
    def cell_graphs(self, choices: np.ndarray) -> list[tuple[str, list[tuple[int, int, str]]]]:
        """The cells of one architecture as graphs, for drawing: ``[(title, [(source node, target
        node, operation label), ...]), ...]``. A space whose architectures are not cells gives
        ``[]``, and is drawn as its list of decisions.

        :param choices: one choice vector.
        """
        self.check_choices(choices)
        return []

    # --- strings ------------------------------------------------------------------------------
    def to_string(self, choices: np.ndarray) -> str:
        """Readable string of one architecture given as a choice vector."""
        return self._format(self.check_choices(choices).tolist())

    def arch_string(self, index: int) -> str:
        """Readable string of one architecture given by canonical index (pure Python: per-step path)."""
        if type(index) is int and self._arch_strings is not None:  # cached (other types are rare)
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
