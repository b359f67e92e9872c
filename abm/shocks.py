"""Exogenous stochastic processes, each drawing from its own random stream.

Streams derive from the run seed by name (a fixed spawn key per process), so two scenarios with
the same seed see the same demand shocks and outages whatever their policies do (common random
numbers): a policy never changes how many numbers another process draws.
"""

from __future__ import annotations

import numpy as np

STREAM_KEYS = {"demand": 1, "outages": 2, "events": 3, "recycling": 4, "supply": 5}


def stream(seed: int, name: str, *key: int) -> np.random.Generator:
    """The generator of process `name` (optionally keyed further, e.g. by producer)."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(STREAM_KEYS[name], *key)))


class DemandShock:
    """AR(1) log demand shock z_t = rho z_{t-1} + sd e_t, e_t ~ N(0, 1); starts at z_0 = 0.

    The normals are drawn `block` at a time (`standard_normal(n)` gives exactly the numbers of n
    single draws), so a step costs a list lookup instead of a generator call and an exp.
    """

    def __init__(self, seed: int, sd: float, persistence: float, block: int = 64):
        self.rng = stream(seed, "demand")
        self.sd = sd
        self.rho = persistence
        self.z = 0.0
        self.block = max(int(block), 1)
        self._z: list[float] = []
        self._shock: list[float] = []
        self._next = 0

    def _draw_block(self) -> None:
        rho, sd, z = self.rho, self.sd, self.z
        path = []
        for e in self.rng.standard_normal(self.block).tolist():
            z = rho * z + sd * e
            path.append(z)
        self._z, self._shock, self._next = path, np.exp(np.array(path)).tolist(), 0

    def advance(self) -> float:
        """Next multiplicative shock exp(z_t). Always draws one number (keeps streams aligned)."""
        if self._next >= len(self._z):
            self._draw_block()
        i = self._next
        self._next = i + 1
        self.z = self._z[i]
        return self._shock[i]


class SupplyShock:
    """I.i.d. multiplicative output factor h_t = max(1 + sd e_t, 0), e_t ~ N(0, 1), common to
    every producer (the harvest of the competitive-storage model, abm.storage); one normal per
    step from its own stream, drawn `block` at a time as DemandShock does."""

    def __init__(self, seed: int, sd: float, block: int = 64):
        self.rng = stream(seed, "supply")
        self.sd = sd
        self.block = max(int(block), 1)
        self._h: list[float] = []
        self._next = 0

    def advance(self) -> float:
        """Next output factor (>= 0). Always draws one number (keeps streams aligned)."""
        if self._next >= len(self._h):
            e = self.rng.standard_normal(self.block)
            self._h, self._next = np.maximum(1.0 + self.sd * e, 0.0).tolist(), 0
        self._next += 1
        return self._h[self._next - 1]


class Outages:
    """Random producer outages: each producer has its own stream, keyed by its identity.

    Every producer draws one uniform per step from its own stream. The uniforms are drawn `block`
    steps at a time into a (steps x producers) buffer (`random(n)` gives exactly the numbers of n
    single draws); a producer registered part-way through a block draws the rest of that block.
    Outages are rare, so a step looks only at the producers whose uniform could start one (listed
    per step when the block is drawn) and at those in an outage.
    """

    def __init__(self, seed: int, probability: float, duration: float, severity: float,
                 block: int = 64):
        self.seed = seed
        self.p = probability
        self.end_prob = 1.0 / duration      # geometric duration with this mean
        self.severity = severity
        self.rngs: list[np.random.Generator] = []
        self.block = max(int(block), 1)
        self._u = np.zeros((self.block, 16))     # uniforms of this block, by step and producer
        self._next = self.block                  # row of the next step (block used up: redraw)
        self._starts: list[list[int]] = []      # per row: producers with u < p
        self._last = None                        # the array advance returned last
        self._in: list[int] = []                 # producers in an outage in that array

    def register(self, identity: tuple[int, int]) -> None:
        """A new producer (identity: (kind, index), stable across scenarios)."""
        rng = stream(self.seed, "outages", *identity)
        self.rngs.append(rng)
        col = len(self.rngs) - 1
        if col >= self._u.shape[1]:
            grown = np.zeros((self.block, 2 * self._u.shape[1]))
            grown[:, : self._u.shape[1]] = self._u
            self._u = grown
        if self._next < self.block:
            u = rng.random(self.block - self._next)
            self._u[self._next:, col] = u
            for row in np.flatnonzero(u < self.p).tolist():
                self._starts[self._next + row].append(col)

    def _draw_block(self) -> None:
        n = len(self.rngs)
        if n > self._u.shape[1]:
            self._u = np.zeros((self.block, n))
        for col, rng in enumerate(self.rngs):
            self._u[:, col] = rng.random(self.block)
        self._starts = [[] for _ in range(self.block)]
        rows, cols = np.nonzero(self._u[:, :n] < self.p)
        for row, col in zip(rows.tolist(), cols.tolist(), strict=True):
            self._starts[row].append(col)
        self._next = 0

    def advance(self, outage: np.ndarray, active: np.ndarray) -> np.ndarray:
        """Next outage share per producer; every producer draws one uniform per step."""
        if self._next >= self.block:
            self._draw_block()
        u = self._u[self._next]
        starts = self._starts[self._next]
        self._next += 1
        if outage is not self._last:        # not the array returned last (e.g. a producer joined)
            self._in = np.flatnonzero(outage > 0).tolist()
        # an outage ends with probability end_prob, one starts with probability p (outage is
        # zero for inactive producers): the rules of the array version
        #     in_outage = outage > 0
        #     out[in_outage & (u < end_prob)] = 0; out[~in_outage & (u < p)] = severity
        #     out[~active] = 0
        # applied to the few producers they can change
        in_outage = self._in
        ended = [c for c in in_outage if u[c] < self.end_prob or not active[c]]
        inside = set(in_outage) if len(in_outage) > 8 else in_outage
        started = [c for c in starts if active[c] and c not in inside]
        if not ended and not started:
            self._last = outage
            return outage
        out = outage.copy()
        out[ended] = 0.0
        out[started] = self.severity
        gone = set(ended) if len(ended) > 8 else ended
        stay = [c for c in in_outage if c not in gone]
        self._in = stay + started if self.severity > 0 else stay
        self._last = out
        return out
