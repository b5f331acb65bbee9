"""What the PyTorch references of bench/ share: flags, threads and seeds, untimed
warm-up runs before the timed ones, and the one JSON line they print last (which
bench/_compare.ts reads). The model itself comes from tools/atst_torch.py,
importable once this module is.
"""
import argparse
import json
import os
import random
import resource
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))


def flags(description, **defaults):
    """Parses --name for each default (typed like it; False: a switch) and --threads.

    Sets torch's thread count (its own default unless --threads is given) and
    seeds torch, random and numpy with 0.
    """
    ap = argparse.ArgumentParser(description=description)
    for name, value in defaults.items():
        if isinstance(value, bool):
            ap.add_argument(f"--{name}", action="store_true")
        else:
            ap.add_argument(f"--{name}", type=type(value), default=value)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's own)")
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    random.seed(0)
    np.random.seed(0)
    return args


def time_runs(fn, warmup, reps):
    """Calls fn warmup times untimed, then reps times: (wall seconds, process CPU seconds) lists."""
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return wall, cpu


def median(xs):
    """The middle value (the upper one of an even count), as bench/_measure.ts takes it."""
    return sorted(xs)[len(xs) // 2]


def report(**fields):
    """Prints the result line with torch's thread count and this process's peak RSS."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    print(json.dumps({**fields, "threads": torch.get_num_threads(), "peak_rss_mb": peak}))
