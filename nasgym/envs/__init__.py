"""NAS environments, one flavour per file."""

from nasgym.envs.base import NASEnv, SearchHistory
from nasgym.envs.continuous import ContinuousNASEnv
from nasgym.envs.global_arch import GlobalNASEnv
from nasgym.envs.sequential import SequentialNASEnv

__all__ = ["ContinuousNASEnv", "GlobalNASEnv", "NASEnv", "SearchHistory", "SequentialNASEnv"]
