"""Hashing a job request in processes with other hash seeds (set order differs there)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dispatch.model import LatLng
from dispatch.requests import JobRequest

ROOT = Path(__file__).resolve().parents[2]

#: A job whose skills, as a set, iterate in an order that depends on the hash seed.
JOB = JobRequest("c1", LatLng(31.2, 121.4), frozenset({"cleaning", "plumbing", "repair"}), 45.0)


def hashes_elsewhere(
    module: str, function: str, seeds: tuple[str, ...] = ("1", "2", "3")
) -> set[str]:
    """``module.function(JOB)`` as printed by a fresh interpreter per hash seed."""
    probe = (
        f"from {module} import {function};"
        "from dispatch.requests import JobRequest;"
        "from dispatch.model import LatLng;"
        f"print({function}(JobRequest('c1', LatLng(31.2, 121.4), "
        "frozenset({'plumbing', 'repair', 'cleaning'}), 45.0)))"
    )
    seen = set()
    for seed in seeds:
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr
        seen.add(out.stdout.strip())
    return seen
