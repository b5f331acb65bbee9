"""PyTorch reference for bench/embed.ts: clip-embedding throughput of the
reference encoder (tools/gen_model_fixtures.py's re-statement of the
authors' AST, float32, eval, no_grad) with the spec 4.1 chunk protocol on
log-mel inputs. Prints one JSON line: {"clips_per_s", "batch_s", "threads"}.

Usage: /usr/bin/python3 bench/embed_ref.py [--size small] [--batch 8] [--seconds 6] [--batches 3]
       [--warmup 3] [--threads n]   (threads: torch's default unless given)
"""
import argparse
import json
import resource
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
from gen_model_fixtures import AST  # noqa: E402

SIZES = {"tiny": (192, 4, 3), "small": (384, 12, 6), "base": (768, 12, 12)}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--size", default="small")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seconds", type=float, default=6.0)
    p.add_argument("--batches", type=int, default=3)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=0)
    a = p.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = AST(*SIZES[a.size]).float().eval()
    frames = int(a.seconds * 100) + 1
    chunk = int(6.0 * 16000 / 160 + 1)
    x = torch.randn(a.batch, 64, frames)
    lengths = torch.full((a.batch,), frames)
    times = []
    with torch.no_grad():
        for _ in range(a.warmup):  # untimed, as on the atst side
            model.chunks(x, lengths, 12, chunk)
        for _ in range(a.batches):
            t0 = time.perf_counter()
            model.chunks(x, lengths, 12, chunk)
            times.append(time.perf_counter() - t0)
    med = sorted(times)[len(times) // 2]
    print(json.dumps({"clips_per_s": a.batch / med, "batch_s": times, "threads": torch.get_num_threads(),
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    main()
