"""A longer, randomised schema fuzz run: not part of CI (CI runs the derandomised one).

    python benchmarks/fuzz.py [--examples 200] [--seed N]

Runs ``tests/api/test_fuzz.py`` with new random cases each time (or the ones of
``--seed``, to reproduce a failure) and many more examples per operation. A case
it finds becomes a regression test of its own before the fix lands.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=200, help="examples per operation")
    parser.add_argument("--seed", type=int, default=None, help="hypothesis seed (reproduce)")
    args = parser.parse_args()
    env = {**os.environ, "DISPATCH_FUZZ_EXAMPLES": str(args.examples), "DISPATCH_FUZZ_RANDOM": "1"}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "tests/api/test_fuzz.py",
        "-p",
        "no:cacheprovider",
    ]
    if args.seed is not None:
        command.append(f"--hypothesis-seed={args.seed}")
    print("$", " ".join(command), f"(DISPATCH_FUZZ_EXAMPLES={args.examples}, random)", flush=True)
    return subprocess.call(command, cwd=ROOT, env=env)


if __name__ == "__main__":
    raise SystemExit(main())
