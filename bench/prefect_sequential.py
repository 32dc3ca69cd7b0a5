"""Prefect 3's side of the sequential-tasks benchmark (run in a venv that has Prefect 3).

Prints one JSON line: Prefect's version, the plain-Python time and the flow's wall time.
`bench/overhead.py` runs it in `.bench/prefect` (created on first use) and compares.
"""

from __future__ import annotations

import json
import sys
import time

from _pf_work import sequential, trivial  # beside this script: the suite's Prefect flows
from prefect import __version__


def main() -> None:
    """Time plain Python, a warm-up flow, then the measured flow."""
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    start = time.perf_counter()
    sum(trivial.fn(i) for i in range(n))
    plain = time.perf_counter() - start
    sequential(5)  # start Prefect's ephemeral server and warm up before measuring
    start = time.perf_counter()
    sequential(n)
    seconds = time.perf_counter() - start
    print(json.dumps({"prefect": __version__, "plain": plain, "seconds": seconds, "tasks": n}))


if __name__ == "__main__":
    main()
