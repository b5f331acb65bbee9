"""PyTorch reference of one ATST pre-training step, for bench/pretrain.ts.

Same work as our Trainer.trainStep: for B clips, two views each (random
6 s crop -> log-mel (torchaudio) -> log-mixup-exp with a memory -> Random
Resize Crop, bicubic), teacher forward, student forward + backward, AdamW
(the transformers algorithm, two groups), BatchNorm running stats, EMA.
Written from the project's spec (shared/ATST-SPEC.md §1-§3).

Usage: /usr/bin/python3 bench/pretrain_ref.py --size small --batch 8 --crop 6 --steps 3
Prints one JSON line: {"clips_per_s": ..., "step_s": [...], "threads": ...}
"""
import argparse
import copy
import json
import resource
import math
import random
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchaudio

SIZES = {"tiny": (192, 4, 3), "small": (384, 12, 6), "base": (768, 12, 12)}


class DropPath(nn.Module):
    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, x):
        if self.p == 0 or not self.training:
            return x
        keep = 1 - self.p
        mask = torch.floor(keep + torch.rand(x.shape[0], 1, 1, dtype=x.dtype))
        return x / keep * mask


class Block(nn.Module):
    def __init__(self, d, heads, dp):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(d, eps=1e-6)
        self.qkv = nn.Linear(d, 3 * d, bias=False)
        self.proj = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d, eps=1e-6)
        self.fc1 = nn.Linear(d, 4 * d)
        self.fc2 = nn.Linear(4 * d, d)
        self.drop = DropPath(dp)

    def forward(self, x, mask):
        B, N, D = x.shape
        h = self.heads
        qkv = self.qkv(self.norm1(x)).reshape(B, N, 3, h, D // h).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        a = (q @ k.transpose(-2, -1)) * (D // h) ** -0.5 + mask
        y = (a.softmax(-1) @ v).transpose(1, 2).reshape(B, N, D)
        x = x + self.drop(self.proj(y))
        return x + self.drop(self.fc2(F.gelu(self.fc1(self.norm2(x)))))


class Encoder(nn.Module):
    def __init__(self, size):
        super().__init__()
        d, depth, heads = SIZES[size]
        self.patch = nn.Linear(256, d)
        self.cls = nn.Parameter(torch.randn(1, 1, d) * 0.02)
        self.pos = nn.Parameter(torch.randn(1, 251, d) * 0.02)
        self.blocks = nn.ModuleList([Block(d, heads, 0.1 * i / (depth - 1)) for i in range(depth)])
        self.norm = nn.LayerNorm(d, eps=1e-6)

    def forward(self, x, lengths):
        B, Fq, T = x.shape
        n = T // 4
        p = x[:, :, : n * 4].reshape(B, Fq, n, 4).permute(0, 2, 1, 3).reshape(B, n, Fq * 4)
        h = torch.cat([self.cls.expand(B, -1, -1), self.patch(p)], 1) + self.pos[:, : n + 1]
        valid = torch.arange(n + 1)[None] <= (lengths // 4)[:, None]
        mask = (~valid).float()[:, None, None, :] * -10000.0
        for b in self.blocks:
            h = b(h, mask)
        return self.norm(h)[:, 0]


def mlp(din, hidden, dout):
    return nn.Sequential(nn.Linear(din, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(),
                         nn.Linear(hidden, dout, bias=False))


class Views:
    def __init__(self, crop):
        self.crop = crop
        self.mel = torchaudio.transforms.MelSpectrogram(16000, n_fft=1024, win_length=1024, hop_length=160,
                                                        f_min=60, f_max=7800, n_mels=64)
        self.db = torchaudio.transforms.AmplitudeToDB(stype="power", top_db=80)
        self.memory = [[], []]

    def featurize(self, wav):
        x = self.db(self.mel(wav))
        return (x + 79.6482) / (50.6842 + 79.6482) * 2 - 1

    def rrc(self, x):
        Fq, T = x.shape
        cw = int(T * 1.5)
        canvas = torch.zeros(Fq, cw)
        x0 = (cw - T) // 2
        canvas[:, x0:x0 + T] = x
        h = min(max(int(np.random.uniform(0.6, 1.5) * Fq), 1), Fq)
        w = min(max(int(np.random.uniform(0.6, 1.5) * T), 1), cw)
        i = random.randint(0, Fq - h) if Fq > h else 0
        j = random.randint(0, cw - w) if cw > w else 0
        crop = canvas[i:i + h, j:j + w]
        return F.interpolate(crop[None, None], size=(Fq, T), mode="bicubic", align_corners=True)[0, 0]

    def view(self, clip, v):
        off = random.randint(0, max(0, len(clip) - self.crop))
        x = self.featurize(clip[off:off + self.crop])
        alpha = 0.4 * np.random.random()
        mem = self.memory[v]
        out = x
        if mem:
            z = mem[np.random.randint(len(mem))]
            out = torch.log((1 - alpha) * x.exp() + alpha * z.exp() + torch.finfo(x.dtype).eps)
        mem.append(x)
        del mem[:-2000]
        return self.rrc(out)


def hf_adamw(params, state, lr, wd, decay, b1=0.9, b2=0.999, eps=1e-6):
    with torch.no_grad():
        for i, p in enumerate(params):
            st = state.setdefault(i, {"t": 0, "m": torch.zeros_like(p), "v": torch.zeros_like(p)})
            st["t"] += 1
            st["m"].mul_(b1).add_(p.grad, alpha=1 - b1)
            st["v"].mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
            size = lr * math.sqrt(1 - b2 ** st["t"]) / (1 - b1 ** st["t"])
            p.addcdiv_(st["m"], st["v"].sqrt().add_(eps), value=-size)
            if decay[i]:
                p.add_(p, alpha=-lr * wd)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="small")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--crop", type=float, default=6.0)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--warmup", type=int, default=2)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    random.seed(0)
    np.random.seed(0)
    d = SIZES[a.size][0]
    student = nn.ModuleDict({"encoder": Encoder(a.size), "projector": mlp(d, 4096, 256),
                             "predictor": mlp(256, 4096, 256)})
    teacher = nn.ModuleDict({"encoder": copy.deepcopy(student["encoder"]),
                             "projector": copy.deepcopy(student["projector"])})
    for p in teacher.parameters():
        p.requires_grad = False
    student.train()
    teacher.train()
    params = [p for p in student.parameters()]
    names = [n for n, _ in student.named_parameters()]
    decay = [not (n.endswith(".bias") or p.dim() == 1) for n, p in zip(names, params)]
    state = {}
    views = Views(int(a.crop * 16000))
    clips = [torch.randn(160000) * 0.1 for _ in range(16)]
    times = []
    for step in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        idx = [random.randrange(len(clips)) for _ in range(a.batch)]
        v1 = [views.view(clips[i], 0) for i in idx]
        v2 = [views.view(clips[i], 1) for i in idx]
        x = torch.stack(v1 + v2)
        lengths = torch.full((x.shape[0],), x.shape[-1])
        with torch.no_grad():
            z = F.normalize(teacher["projector"](teacher["encoder"](x, lengths)), dim=-1)
        p = F.normalize(student["predictor"](student["projector"](student["encoder"](x, lengths))), dim=-1)
        zs, ps = z.chunk(2), p.chunk(2)
        loss = ((2 - 2 * (zs[0] * ps[1]).sum(1).mean()) + (2 - 2 * (zs[1] * ps[0]).sum(1).mean())) / 2
        for q in params:
            q.grad = None
        loss.backward()
        hf_adamw(params, state, 1e-4, 0.04, decay)
        with torch.no_grad():
            for k in ("encoder", "projector"):
                for pt, ps_ in zip(teacher[k].parameters(), student[k].parameters()):
                    pt.mul_(0.99).add_(0.01 * ps_)
        dt = time.perf_counter() - t0
        if step >= a.warmup:  # untimed steps warm up allocators, as on the atst side
            times.append(dt)
    med = sorted(times)[len(times) // 2]
    print(json.dumps({"clips_per_s": a.batch / med, "step_s": times, "threads": torch.get_num_threads(),
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "loss": float(loss)}))


if __name__ == "__main__":
    main()
