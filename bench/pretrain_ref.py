"""PyTorch reference of one ATST pre-training step, for bench/pretrain.ts.

Same work as our Trainer.trainStep: for B clips, two views each (random
6 s crop -> log-mel (torchaudio) -> log-mixup-exp with a memory -> Random
Resize Crop, bicubic), then tools/atst_torch.py's train_step: teacher
forward, student forward + backward, AdamW (the transformers algorithm,
two groups), BatchNorm running stats, EMA.

Usage: /usr/bin/python3 bench/pretrain_ref.py --size small --batch 8 --crop 6 --steps 3
       [--warmup 2] [--threads n]   (threads: torch's default unless given)
Prints one JSON line: {"clips_per_s", "step_s", "loss", "threads", "peak_rss_mb"}.
"""
import random

import numpy as np
import torch

from _reference import flags, median, report, time_runs
from atst_torch import (LogMel, atst, log_mixup_exp, resize_crop,  # tools/, on sys.path by _reference
                        student_of, teacher_of, train_step)


class Views:
    """The random parts of the views (crop offset, mixup partner and ratio, resize-crop box)."""

    def __init__(self, crop):
        self.crop = crop
        self.log_mel = LogMel()
        self.memory = [[], []]

    def box(self, Fq, T):
        cw = int(T * 1.5)
        h = min(max(int(np.random.uniform(0.6, 1.5) * Fq), 1), Fq)
        w = min(max(int(np.random.uniform(0.6, 1.5) * T), 1), cw)
        i = random.randint(0, Fq - h) if Fq > h else 0
        j = random.randint(0, cw - w) if cw > w else 0
        return {"i": i, "j": j, "h": h, "w": w}

    def view(self, clip, v):
        off = random.randint(0, max(0, len(clip) - self.crop))
        x = self.log_mel(clip[off:off + self.crop])
        alpha = 0.4 * np.random.random()
        mem = self.memory[v]
        out = log_mixup_exp(x, mem[np.random.randint(len(mem))], 1 - alpha) if mem else x
        mem.append(x)
        del mem[:-2000]
        return resize_crop(out, self.box(*x.shape))


def main():
    a = flags(__doc__, size="small", batch=8, crop=6.0, steps=3, warmup=2)
    student = student_of(atst(a.size, drop_path=0.1), 4096, 256)
    teacher = teacher_of(student)
    state = {}
    views = Views(int(a.crop * 16000))
    clips = [torch.randn(160000) * 0.1 for _ in range(16)]
    losses = []

    def step():
        idx = [random.randrange(len(clips)) for _ in range(a.batch)]
        x = torch.stack([views.view(clips[i], 0) for i in idx] + [views.view(clips[i], 1) for i in idx])
        lengths = torch.full((x.shape[0],), x.shape[-1])
        losses.append(float(train_step(student, teacher, x, lengths, state, 1e-4, 0.04, 0.99)[0]))

    # Untimed steps warm up allocators, as on the atst side.
    times, _ = time_runs(step, a.warmup, a.steps)
    report(clips_per_s=a.batch / median(times), step_s=times, loss=losses[-1])


if __name__ == "__main__":
    main()
