"""Policy instruments. `build_policies(config)` turns the [policy.*] tables into a list."""

from __future__ import annotations

from abm.policies.base import Policy


def build_policies(config) -> list[Policy]:
    """The scenario's instruments, in the order they act each step."""
    return []


__all__ = ["Policy", "build_policies"]
