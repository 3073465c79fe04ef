"""What a run's workers really did, as a plan of its day: the hindsight search's other start.

The online run's own routes are a plan of the hindsight problem (the same
orders, jobs and shifts), so the offline search may start from them and then
never reports a plan worse than dispatch's in its own objective. Without that
start the rolling horizon can fall below the online run on heavy days, and the
"bound" then understates what the fleet could do.

Each worker's stops are its pickups, drop-offs and job arrivals in the order
the run made them. Work the run left unfinished (an order picked up but not
delivered when the run stopped, a job not reached) is left out: the search
places it itself.
"""

from __future__ import annotations

from simulations.hindsight.day import Day
from simulations.hindsight.replay import Stop
from simulations.sim.records import SimulationResult

#: At one instant, a drop-off is made before the next pickup (the courier frees room first).
_KIND_ORDER = {"dropoff": 0, "job": 1, "pickup": 2}


def realised_routes(result: SimulationResult, day: Day) -> dict[str, tuple[Stop, ...]]:
    """Each worker's served stops of ``day`` in the order the run served them."""
    orders = {o.id for o in day.orders}
    jobs = {j.id for j in day.jobs}
    timed: dict[str, list[tuple[float, int, Stop]]] = {}
    for o in result.orders:
        if o.id not in orders or o.worker is None:
            continue
        if o.picked_s is None or o.delivered_s is None:
            continue
        stops = timed.setdefault(o.worker, [])
        stops.append((o.picked_s, _KIND_ORDER["pickup"], ("pickup", o.id)))
        stops.append((o.delivered_s, _KIND_ORDER["dropoff"], ("dropoff", o.id)))
    for j in result.jobs:
        if j.id in jobs and j.worker is not None and j.arrived_s is not None:
            timed.setdefault(j.worker, []).append((j.arrived_s, _KIND_ORDER["job"], ("job", j.id)))
    return {w: tuple(stop for _, _, stop in sorted(stops)) for w, stops in timed.items()}
