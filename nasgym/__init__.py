"""nasgym: neural architecture search as Gymnasium environments, on real benchmark data.

``import nasgym`` registers every env id of :mod:`nasgym.envs_registry`, so
``gym.make("NAS-Bench-201-Continuous-v0")`` and ``gym.make("nasgym:NAS-Bench-201-Continuous-v0")``
both work (the second form also in subprocess vector envs).
"""

from nasgym.envs_registry import ENV_IDS, register_envs

__version__ = "0.1.0"

register_envs()

__all__ = ["ENV_IDS", "__version__", "register_envs"]
