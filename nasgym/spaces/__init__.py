"""Search spaces: finite sets of decision vectors with a canonical integer index (mixed radix for products)."""

from pathlib import Path

from nasgym.spaces.base import SearchSpace
from nasgym.spaces.convnet import ConvNetSpace
from nasgym.spaces.darts import DARTS_OPS, DartsSpace
from nasgym.spaces.dqn_arch import DQN_ACTIVATIONS, DQN_WIDTHS, DQNArchSpace
from nasgym.spaces.fcnet import FCNetSpace
from nasgym.spaces.ffn import FFN_WIDTHS, FFN3Space, FFNSpace
from nasgym.spaces.graph import NASBenchGraphProteinsSpace, NASBenchGraphSpace
from nasgym.spaces.macro import NASBenchMacroSpace
from nasgym.spaces.nats_sss import NATSSizeSpace
from nasgym.spaces.nb101 import NB101Space
from nasgym.spaces.nb201 import NB201_EDGES, NB201_OPS, NB201Space

SPACES: dict[str, type[SearchSpace]] = {
    "nb201": NB201Space,
    "convnet": ConvNetSpace,
    "darts": DartsSpace,
    "nasbench-macro": NASBenchMacroSpace,
    "nasbench-graph": NASBenchGraphSpace,
    "nasbench-graph-proteins": NASBenchGraphProteinsSpace,
    "nats-sss": NATSSizeSpace,
    "nb101": NB101Space,
    "ffn2": FFNSpace,
    "ffn3": FFN3Space,
    "fcnet": FCNetSpace,
    "dqn-arch": DQNArchSpace,
}


def get_space(name: str, cache_dir: Path | str | None = None) -> SearchSpace:
    """Instantiate a registered search space by name.

    :param cache_dir: the table cache a space defined by its imported table (NAS-Bench-101) is
        read from; defaults to ``$NASGYM_CACHE_DIR`` or the user cache.
    """
    try:
        space_class = SPACES[name]
    except KeyError:
        raise ValueError(f"space {name!r} is unknown; accepted: {sorted(SPACES)}") from None
    return space_class.load(cache_dir)


__all__ = [
    "SPACES",
    "ConvNetSpace",
    "DARTS_OPS",
    "DQN_ACTIVATIONS",
    "DQN_WIDTHS",
    "DQNArchSpace",
    "DartsSpace",
    "FCNetSpace",
    "FFN3Space",
    "FFNSpace",
    "FFN_WIDTHS",
    "NASBenchGraphProteinsSpace",
    "NASBenchGraphSpace",
    "NASBenchMacroSpace",
    "NATSSizeSpace",
    "NB101Space",
    "NB201_EDGES",
    "NB201_OPS",
    "NB201Space",
    "SearchSpace",
    "get_space",
]
