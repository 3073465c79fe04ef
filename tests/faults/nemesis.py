"""The nemesis: one fault at a time, chosen at random (seeded), each recorded with its times.

Kinds:

* ``kill-api``: SIGKILL an API process, leave it down a moment, start it again;
* ``kill-worker``: SIGKILL a tick worker and start a new incarnation (a new name);
* ``pause-worker``: SIGSTOP a tick worker for longer than the lease, then SIGCONT;
* ``kill-redis``: SIGKILL Redis and start it again on the same port and AOF directory.

A fault ends when its target serves again (ready, or PING for Redis), or at the
SIGCONT of a pause. Whatever happens, a fault restores what it broke before the
nemesis moves on or stops.

With a ``probe`` (who holds which community's lease right now), a worker is killed
or paused *in the middle of a tick*, and Redis is killed while some worker ticks:
the nemesis watches the leases for up to ``catch_s`` and strikes as soon as its
target holds one. A killed tick leaves its lease to expire and its queue entry to
be reclaimed; a paused one wakes up after another worker took the community over
and must be fenced off; a tick cut off from Redis is retried.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tests.faults.processes import Cluster, Service
from tests.polling import pause

__all__ = ["KINDS", "Fault", "Nemesis"]

KINDS = ("kill-api", "kill-worker", "pause-worker", "kill-redis")
_READY_S = 60.0  # longest a restarted process may take to serve


@dataclass
class Fault:
    """One fault: what, on whom, when (wall clock), and how long its target took to serve."""

    kind: str
    target: str
    started: float
    ended: float | None = None
    held_s: float = 0.0  # how long the target was down or paused on purpose
    recovery_s: float | None = None  # from the restart to serving again
    mid_tick: str | None = None  # the community whose lease the target held when struck


class Nemesis(threading.Thread):
    """Runs ``schedule`` (a list of kinds) or, without one, random kinds (each round of four
    shuffled) until ``duration_s`` is over; ``gap_s`` lies between faults (``warmup_s``,
    when given, before the first)."""

    def __init__(
        self,
        cluster: Cluster,
        *,
        seed: int,
        halt: threading.Event,
        lease_s: float,
        schedule: Sequence[str] | None = None,
        duration_s: float = 60.0,
        gap_s: tuple[float, float] = (3.0, 6.0),
        down_s: tuple[float, float] = (0.5, 2.0),
        pause_extra_s: tuple[float, float] = (1.0, 3.0),
        on_fault: Callable[[Fault], None] | None = None,
        probe: Callable[[], dict[str, str]] | None = None,
        catch_s: float = 5.0,
        warmup_s: float | None = None,
    ) -> None:
        super().__init__(name="nemesis", daemon=True)
        unknown = set(schedule or ()) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {KINDS}")
        self.cluster = cluster
        self.rng = random.Random(seed)
        self.halt = halt
        self.lease_s = lease_s
        self.schedule = list(schedule) if schedule is not None else None
        self.duration_s = duration_s
        self.gap_s = gap_s
        self.down_s = down_s
        self.pause_extra_s = pause_extra_s
        self.on_fault = on_fault
        self.probe = probe
        self.catch_s = catch_s
        self.warmup_s = warmup_s
        self.faults: list[Fault] = []
        self.failure: BaseException | None = None

    def kinds(self) -> list[str]:
        if self.schedule is not None:
            return list(self.schedule)
        rounds = int(self.duration_s // (self.gap_s[0] + 1.0)) + 1
        out: list[str] = []
        for _ in range(rounds):
            kinds = list(KINDS)
            self.rng.shuffle(kinds)
            out += kinds
        return out

    def run(self) -> None:
        end = time.monotonic() + self.duration_s
        try:
            for n, kind in enumerate(self.kinds()):
                gap = self.rng.uniform(*self.gap_s)
                if n == 0 and self.warmup_s is not None:
                    gap = self.warmup_s
                if self.halt.wait(gap):
                    return
                if self.schedule is None and time.monotonic() > end:
                    return
                fault = getattr(self, "_" + kind.replace("-", "_"))()
                if self.on_fault is not None:
                    self.on_fault(fault)
        except BaseException as exc:  # reported by the harness, never lost
            self.failure = exc

    def _begin(self, kind: str, target: str) -> Fault:
        fault = Fault(kind, target, time.time())
        self.faults.append(fault)
        return fault

    def _hold(self, bounds: tuple[float, float], base: float = 0.0) -> float:
        """Keep the fault on for a random while (cut short only by ``halt``)."""
        held = base + self.rng.uniform(*bounds)
        self.halt.wait(held)
        return held

    def _restart(self, fault: Fault, svc: Service) -> None:
        t0 = time.monotonic()
        svc.start()
        svc.wait_ready(_READY_S)
        fault.recovery_s = time.monotonic() - t0
        fault.ended = time.time()

    def _catch(self, svc: Service | None) -> str | None:
        """Wait (up to ``catch_s``) until ``svc`` (None: any worker) holds a lease; the
        community, or None."""
        if self.probe is None:
            return None
        name = None if svc is None else f"{svc.name}.{svc.incarnation}"
        deadline = time.monotonic() + self.catch_s
        while time.monotonic() < deadline and not self.halt.is_set():
            try:
                held = self.probe()
            except Exception:  # Redis busy restarting: keep looking
                held = {}
            for cid, owner in held.items():
                if name is None or owner == name:
                    return cid
            pause(0.001)
        return None

    def _kill(self, kind: str, services: list[Service], catch: bool = False) -> Fault:
        svc = self.rng.choice(services)
        mid_tick = self._catch(svc) if catch else None
        fault = self._begin(kind, f"{svc.name}.{svc.incarnation}")
        fault.mid_tick = mid_tick
        svc.kill()
        try:
            fault.held_s = self._hold(self.down_s)
        finally:
            self._restart(fault, svc)
        return fault

    def _kill_api(self) -> Fault:
        return self._kill("kill-api", self.cluster.apis)

    def _kill_worker(self) -> Fault:
        return self._kill("kill-worker", self.cluster.workers, catch=True)

    def _pause_worker(self) -> Fault:
        svc = self.rng.choice(self.cluster.workers)
        mid_tick = self._catch(svc)
        fault = self._begin("pause-worker", f"{svc.name}.{svc.incarnation}")
        fault.mid_tick = mid_tick
        svc.pause()
        try:
            fault.held_s = self._hold(self.pause_extra_s, base=self.lease_s)
        finally:
            svc.resume()
            fault.recovery_s = 0.0
            fault.ended = time.time()
        return fault

    def _kill_redis(self) -> Fault:
        mid_tick = self._catch(None)
        fault = self._begin("kill-redis", "redis")
        fault.mid_tick = mid_tick
        self.cluster.kill_redis()
        try:
            fault.held_s = self._hold(self.down_s)
        finally:
            t0 = time.monotonic()
            self.cluster.start_redis()
            fault.recovery_s = time.monotonic() - t0
            fault.ended = time.time()
        return fault

    def heal(self) -> None:
        """Undo anything left broken (a nemesis stopped mid-fault): resume, restart."""
        cluster = self.cluster
        if cluster.redis is not None and cluster.redis.process is None:
            cluster.start_redis()
        for svc in cluster.services:
            if svc.paused:
                svc.resume()
            if not svc.alive:
                svc.start()
                svc.wait_ready(_READY_S)
