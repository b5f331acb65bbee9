"""PyTorch reference for bench/native_ops.ts: the same ViT encoder (spec section 2:
64x4 patches -> Linear(256, D), CLS, positions, pre-norm blocks with qkv attention,
key mask, exact GELU MLP, final LayerNorm eps 1e-6) timed on this machine.

Usage: /usr/bin/python3 bench/native_ref.py --size small --batch 8 --frames 601 --reps 3
       [--warmup 3] [--train] [--threads n]
Prints one JSON line: {"threads", "forward_ms", "train_ms", "forward_cpu_ms", "train_cpu_ms"
(lists, one per repetition), "peak_rss_mb"}.
Threads: torch's default unless --threads is given.
"""
import argparse
import json
import resource
import time

import torch
import torch.nn as nn

SIZES = {"tiny": (192, 4, 3), "small": (384, 12, 6), "base": (768, 12, 12)}


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=False)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, mask):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q @ k.transpose(-2, -1)) * self.scale + mask
        attn = attn.softmax(dim=-1)
        x = (attn @ v).transpose(1, 2).reshape(B, N, C)
        return self.proj(x)


class Block(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x, mask):
        x = x + self.attn(self.norm1(x), mask)
        return x + self.mlp(self.norm2(x))


class Encoder(nn.Module):
    def __init__(self, dim, depth, heads):
        super().__init__()
        self.patch_embed = nn.Linear(256, dim)
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.pos_embed = nn.Parameter(torch.randn(1, 251, dim) * 0.02)
        self.blocks = nn.ModuleList([Block(dim, heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x, lengths):
        B, F, T = x.shape
        N = T // 4
        p = x[:, :, : N * 4].reshape(B, F, N, 4).permute(0, 2, 1, 3).reshape(B, N, F * 4)
        h = torch.cat([self.cls_token.expand(B, -1, -1), self.patch_embed(p)], 1) + self.pos_embed[:, : N + 1]
        valid = 1 + torch.div(lengths, 4, rounding_mode="floor")
        mask = (torch.arange(N + 1)[None, :] >= valid[:, None]).float() * -10000.0
        mask = mask[:, None, None, :]
        for blk in self.blocks:
            h = blk(h, mask)
        return self.norm(h)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="small")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--frames", type=int, default=601)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--train", action="store_true")
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = Encoder(*SIZES[a.size])
    x = torch.randn(a.batch, 64, a.frames)
    lengths = torch.full((a.batch,), a.frames)
    out = {"threads": torch.get_num_threads(), "forward_ms": [], "train_ms": [], "forward_cpu_ms": [], "train_cpu_ms": []}
    with torch.no_grad():
        for _ in range(a.warmup):
            model(x, lengths)
        for _ in range(a.reps):
            t, c = time.perf_counter(), time.process_time()
            model(x, lengths)
            out["forward_ms"].append((time.perf_counter() - t) * 1000)
            out["forward_cpu_ms"].append((time.process_time() - c) * 1000)
    if a.train:
        for i in range(a.warmup + a.reps):
            t, c = time.perf_counter(), time.process_time()
            model.zero_grad(set_to_none=True)
            loss = model(x, lengths).square().mean()
            loss.backward()
            if i >= a.warmup:
                out["train_ms"].append((time.perf_counter() - t) * 1000)
                out["train_cpu_ms"].append((time.process_time() - c) * 1000)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


if __name__ == "__main__":
    main()
