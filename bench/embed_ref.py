"""PyTorch reference for bench/embed.ts: clip-embedding throughput of the
reference encoder (tools/atst_torch.py, float32, eval, no_grad) with the
spec 4.1 chunk protocol on random log-mel-shaped inputs.

Usage: /usr/bin/python3 bench/embed_ref.py [--size small] [--batch 8] [--seconds 6] [--batches 3]
       [--warmup 3] [--threads n]   (threads: torch's default unless given)
Prints one JSON line: {"clips_per_s", "batch_s", "threads", "peak_rss_mb"}.
"""
import torch

from _reference import flags, median, report, time_runs
from atst_torch import atst  # tools/, put on sys.path by _reference

CHUNK = int(6.0 * 16000 / 160 + 1)  # 601 frames: the small model's 6 s training crops


def main():
    a = flags(__doc__, size="small", batch=8, seconds=6.0, batches=3, warmup=3)
    model = atst(a.size).float().eval()
    frames = int(a.seconds * 100) + 1
    x = torch.randn(a.batch, 64, frames)
    lengths = torch.full((a.batch,), frames)
    with torch.no_grad():
        times, _ = time_runs(lambda: model.chunks(x, lengths, 12, CHUNK), a.warmup, a.batches)
    report(clips_per_s=a.batch / median(times), batch_s=times)


if __name__ == "__main__":
    main()
