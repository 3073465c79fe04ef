"""What several benchmark scripts share: a Redis server started for the run, an MDRP day
replayed and checked, and a RESULTS.md section printed and appended.

Scripts put the repository root on ``sys.path`` before importing this module.
"""

from __future__ import annotations

import contextlib
import os
import platform
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from simulations.mdrp.check import CheckReport, check
from simulations.mdrp.instance import read_instance
from simulations.sim.runner import RunOutput, SimulationOptions, run
from tests.redis_server import RedisServer, find_redis_server


def redis_for_run(stack: contextlib.ExitStack) -> tuple[RedisServer, str]:
    """A fresh redis-server in a temporary directory, stopped when ``stack`` closes, and
    the machine facts a RESULTS.md section states (its version, cores, load)."""
    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
    server = RedisServer(find_redis_server(), tmp).start()
    stack.callback(server.stop)
    version = redis.Redis.from_url(server.url).info("server")["redis_version"]
    facts = (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"redis-server {version} (started for the run); load average "
        f"{os.getloadavg()[0]:.2f} at the start"
    )
    return server, facts


@dataclass(frozen=True)
class CheckedReplay:
    """An MDRP day replayed by one policy, with the independent checker's report."""

    out: RunOutput
    report: CheckReport
    wall_s: float  # the replay alone, not the check

    @property
    def metrics(self) -> dict[str, Any]:
        assert self.out.mdrp is not None
        return self.out.mdrp


def checked_replay(policy: str, folder: Path, **options: Any) -> CheckedReplay:
    """Replay the MDRP instance in ``folder`` under ``policy`` and check its solution."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        sol = Path(tmp) / "solution"
        out = run(SimulationOptions(policy=policy, mdrp=folder, mdrp_solution=sol, **options))
        wall = time.perf_counter() - started
        report = check(read_instance(folder), sol)
    assert out.mdrp is not None
    return CheckedReplay(out, report, wall)


def publish(lines: list[str], results_md: Path | None) -> str:
    """Print a RESULTS.md section and append it to ``results_md`` when given."""
    text = "\n".join(lines) + "\n"
    print(text)
    if results_md is not None:
        with results_md.open("a", encoding="utf-8") as fh:
            fh.write("\n" + text)
    return text
