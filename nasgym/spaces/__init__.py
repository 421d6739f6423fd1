"""Search spaces: finite products of decisions with a canonical mixed-radix index."""

from nasgym.spaces.base import SearchSpace
from nasgym.spaces.nb201 import NB201_EDGES, NB201_OPS, NB201Space

SPACES: dict[str, type[SearchSpace]] = {"nb201": NB201Space}


def get_space(name: str) -> SearchSpace:
    """Instantiate a registered search space by name."""
    try:
        return SPACES[name]()
    except KeyError:
        raise ValueError(f"space {name!r} is unknown; accepted: {sorted(SPACES)}") from None


__all__ = ["SPACES", "NB201_EDGES", "NB201_OPS", "NB201Space", "SearchSpace", "get_space"]
