"""PyTorch reference for bench/embed.ts: clip-embedding throughput of the
reference encoder (tools/atst_torch.py, float32, eval, no_grad) with the
spec 4.1 chunk protocol on random log-mel-shaped inputs; with --family frame,
the ATST-Frame encoder (FrameAST, random weights) and the authors' scene
embedding (scene_embedding: last 12 blocks, 1001-frame chunks) on the batch.

Usage: /usr/bin/python3 bench/embed_ref.py [--size small] [--batch 8] [--seconds 6] [--batches 3]
       [--warmup 3] [--family clip|frame] [--threads n]   (threads: torch's default unless given)
Prints one JSON line: {"clips_per_s", "batch_s", "threads", "peak_rss_mb"}.
"""
import torch

from _reference import flags, median, report, time_runs
from atst_torch import SIZES, FrameAST, atst, scene_embedding  # tools/, put on sys.path by _reference

CHUNK = int(6.0 * 16000 / 160 + 1)  # 601 frames: the small model's 6 s training crops


def main():
    a = flags(__doc__, size="small", batch=8, seconds=6.0, batches=3, warmup=3, family="clip")
    if a.family not in ("clip", "frame"):
        raise SystemExit(f"error: --family must be clip or frame, not {a.family!r}")
    # The model first, then the inputs: the clip side draws them as it always has.
    model = (FrameAST(*SIZES[a.size]) if a.family == "frame" else atst(a.size)).float().eval()
    frames = int(a.seconds * 100) + 1
    x = torch.randn(a.batch, 64, frames)
    lengths = torch.full((a.batch,), frames)
    if a.family == "frame":
        run = lambda: scene_embedding(model, x, 12)  # noqa: E731
    else:
        run = lambda: model.chunks(x, lengths, 12, CHUNK)  # noqa: E731
    with torch.no_grad():
        times, _ = time_runs(run, a.warmup, a.batches)
    report(clips_per_s=a.batch / median(times), batch_s=times)


if __name__ == "__main__":
    main()
