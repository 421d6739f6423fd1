"""NAS environments, one flavour per file."""

from nasgym.envs.base import NASEnv, SearchHistory
from nasgym.envs.continuous import ContinuousNASEnv
from nasgym.envs.convnet_global import ConvNetGlobalEnv
from nasgym.envs.convnet_sequential import ConvNetSequentialEnv
from nasgym.envs.global_arch import GlobalNASEnv
from nasgym.envs.sequential import SequentialNASEnv

__all__ = [
    "ContinuousNASEnv", "ConvNetGlobalEnv", "ConvNetSequentialEnv", "GlobalNASEnv", "NASEnv", "SearchHistory",
    "SequentialNASEnv",
]  # fmt: skip
