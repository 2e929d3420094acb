#!/usr/bin/env python3
"""API extraction alone (issue 7: at least 50,000 users/s from the fake server at 1M students).

Starts `rostersync fake-clever serve` for a synthetic district and times
`rostersync fake-clever pull` (the sync's API client: decode and map, no PostgreSQL) reading
the students and teachers feeds. Runs are interleaved round by round, so several binaries
(e.g. before and after a change) see the same machine load:

    benchmarks/api_extract.py                                   # .build-release binary, 100k and 1M
    benchmarks/api_extract.py --sizes 100000 --rounds 3 /tmp/before/rostersync .build-release/release/rostersync
    benchmarks/api_extract.py --pull-args="--feed sections --feed enrollments"   # or --pull-args=--transform

Each binary serves and pulls with itself; --server BINARY pins the server side instead, to
separate client gains from server gains. Prints users/s per binary, size and round, and the
median.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import signal
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token"


def serve(binary: str, students: int, seed: int) -> tuple[subprocess.Popen, int]:
    process = subprocess.Popen(
        [binary, "fake-clever", "serve", "--students", str(students), "--seed", str(seed),
         "--port", "0", "--token", TOKEN],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"http://127\.0\.0\.1:(\d+)", line)
    if not match:
        process.kill()
        sys.exit(f"fake-clever serve did not start: {line}")
    return process, int(match.group(1))


def pull(binary: str, port: int, extra: list[str]) -> tuple[float, str]:
    output = subprocess.run(
        [binary, "fake-clever", "pull", "--clever-url", f"http://127.0.0.1:{port}"] + extra,
        env=dict(os.environ, CLEVER_TOKEN=TOKEN), check=True, capture_output=True, text=True).stdout
    match = re.search(r"([\d.]+) users/s", output)
    return (float(match.group(1)) if match else 0.0), output.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binaries", nargs="*", default=[str(ROOT / ".build-release" / "release" / "rostersync")])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--server", help="serve with this binary whatever the client")
    parser.add_argument("--pull-args", default="", help="extra arguments for fake-clever pull")
    parser.add_argument("-v", "--verbose", action="store_true", help="print pull's per-feed lines")
    args = parser.parse_args()
    results: dict[tuple[str, int], list[float]] = {}
    for students in [int(s) for s in args.sizes.split(",")]:
        for round_ in range(1, args.rounds + 1):
            for binary in args.binaries:
                server, port = serve(args.server or binary, students, args.seed)
                try:
                    rate, output = pull(binary, port, shlex.split(args.pull_args))
                finally:
                    server.send_signal(signal.SIGINT)
                    try:
                        server.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        server.kill()
                results.setdefault((binary, students), []).append(rate)
                print(f"N={students} round {round_} {binary}: {rate:,.0f} users/s", flush=True)
                if args.verbose:
                    print("  " + output.replace("\n", "\n  "), flush=True)
    print("\nmedian users/s:")
    for (binary, students), rates in results.items():
        print(f"  N={students:>9,} {statistics.median(rates):>10,.0f}  {binary}")


if __name__ == "__main__":
    main()
