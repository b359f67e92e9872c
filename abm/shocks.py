"""Exogenous stochastic processes, each drawing from its own random stream.

Streams derive from the run seed by name (a fixed spawn key per process), so two scenarios with
the same seed see the same demand shocks and outages whatever their policies do (common random
numbers): a policy never changes how many numbers another process draws.
"""

from __future__ import annotations

import numpy as np

STREAM_KEYS = {"demand": 1, "outages": 2, "events": 3, "recycling": 4}


def stream(seed: int, name: str, *key: int) -> np.random.Generator:
    """The generator of process `name` (optionally keyed further, e.g. by producer)."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(STREAM_KEYS[name], *key)))


class DemandShock:
    """AR(1) log demand shock z_t = rho z_{t-1} + sd e_t, e_t ~ N(0, 1); starts at z_0 = 0."""

    def __init__(self, seed: int, sd: float, persistence: float):
        self.rng = stream(seed, "demand")
        self.sd = sd
        self.rho = persistence
        self.z = 0.0

    def advance(self) -> float:
        """Next multiplicative shock exp(z_t). Always draws one number (keeps streams aligned)."""
        e = self.rng.standard_normal()
        self.z = self.rho * self.z + self.sd * e
        return float(np.exp(self.z))


class Outages:
    """Random producer outages: each producer has its own stream, keyed by its identity."""

    def __init__(self, seed: int, probability: float, duration: float, severity: float):
        self.seed = seed
        self.p = probability
        self.end_prob = 1.0 / duration      # geometric duration with this mean
        self.severity = severity
        self.rngs: list[np.random.Generator] = []

    def register(self, identity: tuple[int, int]) -> None:
        """A new producer (identity: (kind, index), stable across scenarios)."""
        self.rngs.append(stream(self.seed, "outages", *identity))

    def advance(self, outage: np.ndarray, active: np.ndarray) -> np.ndarray:
        """Next outage share per producer; every producer draws one uniform per step."""
        u = np.array([rng.random() for rng in self.rngs])
        out = outage.copy()
        in_outage = out > 0
        out[in_outage & (u < self.end_prob)] = 0.0
        out[~in_outage & (u < self.p)] = self.severity
        out[~active] = 0.0
        return out
