"""PyTorch reference for bench/native_ops.ts: the encoder of tools/atst_torch.py
(spec section 2) forward, and forward + backward with --train, timed on this machine.

Usage: /usr/bin/python3 bench/native_ref.py --size small --batch 8 --frames 601 --reps 3
       [--warmup 3] [--train] [--threads n]   (threads: torch's default unless given)
Prints one JSON line: {"forward_s", "forward_cpu_s", "train_s", "train_cpu_s" (lists, one
per repetition, wall and process CPU), "threads", "peak_rss_mb"}.
"""
import torch

from _reference import flags, report, time_runs
from atst_torch import atst  # tools/, put on sys.path by _reference


def main():
    a = flags(__doc__, size="small", batch=8, frames=601, reps=3, warmup=3, train=False)
    model = atst(a.size)
    x = torch.randn(a.batch, 64, a.frames)
    lengths = torch.full((a.batch,), a.frames)
    with torch.no_grad():
        forward, forward_cpu = time_runs(lambda: model(x, lengths), a.warmup, a.reps)

    def train():
        model.zero_grad(set_to_none=True)
        model(x, lengths).square().mean().backward()

    timed = time_runs(train, a.warmup, a.reps) if a.train else ([], [])
    report(forward_s=forward, forward_cpu_s=forward_cpu, train_s=timed[0], train_cpu_s=timed[1])


if __name__ == "__main__":
    main()
