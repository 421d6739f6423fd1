"""The search spaces ``nasgym bench`` runs on, read from the env registry alone.

A bench space is the set of registered env ids that share a prefix (``NAS-Bench-201`` of
``NAS-Bench-201-Continuous-v0``), one per flavour; its name is the ``space`` argument of those
registry rows (``nb201``), or the prefix where a row sets none. ``--space`` takes either.
"""

from __future__ import annotations

from dataclasses import dataclass

from nasgym.agents.base import env_id_flavour
from nasgym.envs_registry import ENV_TABLE
from nasgym.tables import SPACE_DATASETS


@dataclass(frozen=True)
class BenchSpace:
    """The env ids of one search space.

    :param name: the space's name (``nb201``): its registry rows' ``space`` argument, else the prefix.
    :param prefix: what its env ids start with (``NAS-Bench-201``).
    :param env_ids: flavour -> env id, in registry order.
    """

    name: str
    prefix: str
    env_ids: dict[str, str]

    @property
    def flavours(self) -> tuple[str, ...]:
        return tuple(self.env_ids)

    @property
    def table_datasets(self) -> tuple[str, ...]:
        """The datasets the space's tables cover (none for a space without tables)."""
        return tuple(SPACE_DATASETS.get(self.name, ()))


def env_id_prefix(env_id: str) -> str:
    """``NAS-Bench-201`` of ``NAS-Bench-201-Continuous-v0``."""
    return env_id.rsplit("-", 2)[0]


def registered_spaces() -> dict[str, BenchSpace]:
    """Every space of the env registry, by prefix, in registry order."""
    found: dict[str, tuple[str, dict[str, str]]] = {}
    for row in ENV_TABLE:
        flavour = env_id_flavour(row.id)
        if flavour is None:  # not a <Space>-<Flavour>-v<N> id: no agent can be matched to it
            continue
        prefix = env_id_prefix(row.id)
        name, ids = found.setdefault(prefix, (str(row.kwargs.get("space", prefix)), {}))
        ids.setdefault(flavour, row.id)
    return {prefix: BenchSpace(name, prefix, ids) for prefix, (name, ids) in found.items()}


def _accepted() -> str:
    spaces = registered_spaces().values()
    return ", ".join(f"{s.name} ({s.prefix})" if s.name != s.prefix else s.name for s in spaces)


def resolve_space(text: str) -> BenchSpace:
    """The space named ``text``: a space name (``nb201``) or an env-id prefix (``NAS-Bench-201``).

    :raises ValueError: no registered space has that name or prefix.
    """
    for space in registered_spaces().values():
        if text in (space.name, space.prefix):
            return space
    raise ValueError(f"space {text!r} is unknown; accepted: {_accepted()}")


def spaces_of_env_ids(env_ids: list[str]) -> list[BenchSpace]:
    """The spaces of explicit env ids, each restricted to the ids given.

    :raises ValueError: an id is not registered, or names no flavour.
    """
    spaces = registered_spaces()
    chosen: dict[str, dict[str, str]] = {}
    for env_id in env_ids:
        flavour = env_id_flavour(env_id)
        space = spaces.get(env_id_prefix(env_id))
        if flavour is None or space is None or space.env_ids.get(flavour) != env_id:
            known = [i for s in spaces.values() for i in s.env_ids.values()]
            raise ValueError(f"envs: {env_id!r} is not a registered env id; accepted: {known}")
        chosen.setdefault(space.prefix, {})[flavour] = env_id
    return [BenchSpace(spaces[p].name, p, ids) for p, ids in chosen.items()]
