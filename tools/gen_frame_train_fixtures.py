"""Golden values for ATST-Frame pre-training (lib/train/frame_*.ts, the frame step).

Run: /usr/bin/python3 tools/gen_frame_train_fixtures.py [--out FILE]   (Debian torch 1.13)
Writes fixtures/train/frame_golden.json: fairseq's static mask statistics for
T = 250, and on a miniature FrameAST with given masks the loss, the student's
gradients and one whole teacher-student step (tools/atst_torch.py).
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from atst_torch import (FrameAST, compute_mask_indices, compute_std, frame_forward,  # noqa: E402
                        frame_train_step, student_of, teacher_of)
from _fixture_io import Draws, arr  # noqa: E402

ap = argparse.ArgumentParser(description="Writes the ATST-Frame pre-training golden values.")
ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "fixtures", "train",
                                              "frame_golden.json"),
                help="file to write (default: fixtures/train/frame_golden.json)")
OUT = ap.parse_args().out
torch.manual_seed(0)
rng = np.random.default_rng(4321)
draws = Draws(rng)
randn, tn, uni = draws.randn, draws.tn, draws.uni


# --- fairseq static masks on 250 tokens (10 s crops) ---------------------------
mrng = np.random.RandomState(0)
fractions, nums = [], set()
for _ in range(20000):
    m, starts = compute_mask_indices(250, mrng)
    assert not m[249] and starts.max() <= 244
    fractions.append(m.mean())
    nums.add(len(starts))
mask_stats = {"T": 250, "draws": 20000, "mean_fraction": float(np.mean(fractions)),
              "std_fraction": float(np.std(fractions)), "spans": sorted(nums)}

# --- one whole ATST-Frame step on a miniature FrameAST ---------------------------
D, H, NP, HID, HOUT = 16, 2, 10, 12, 8
B, T = 2, 40  # 10 tokens per view


enc = {"patch_embed.patch_embed.weight": uni(D, 256), "patch_embed.patch_embed.bias": 0.1 * randn(D),
       "mask_embed": 0.5 * randn(1, 1, D), "pos_embed": tn(1, NP + 1, D),
       "blocks.0.norm1.weight": 1 + 0.1 * randn(D), "blocks.0.norm1.bias": 0.1 * randn(D),
       "blocks.0.attn.qkv.weight": uni(3 * D, D), "blocks.0.attn.proj.weight": uni(D, D),
       "blocks.0.attn.proj.bias": 0.1 * randn(D), "blocks.0.norm2.weight": 1 + 0.1 * randn(D),
       "blocks.0.norm2.bias": 0.1 * randn(D), "blocks.0.mlp.fc1.weight": uni(4 * D, D),
       "blocks.0.mlp.fc1.bias": 0.1 * randn(4 * D), "blocks.0.mlp.fc2.weight": uni(D, 4 * D),
       "blocks.0.mlp.fc2.bias": 0.1 * randn(D), "norm_frame.weight": 1 + 0.1 * randn(D),
       "norm_frame.bias": 0.1 * randn(D)}


def head_init(din):
    return {"0.weight": uni(HID, din), "1.weight": 1 + 0.1 * randn(HID), "1.bias": 0.1 * randn(HID),
            "3.weight": uni(HOUT, HID), "1.running_mean": torch.zeros(HID), "1.running_var": torch.ones(HID)}


student_p = {**{f"encoder/{k}": v for k, v in enc.items()},
             **{f"projector/{k}": v for k, v in head_init(D).items()},
             **{f"predictor/{k}": v for k, v in head_init(HOUT).items()}}
init = {k: arr(v) for k, v in student_p.items()}


def nets_from_init():
    nets = student_of(FrameAST(D, 1, H, max_patches=NP), HID, HOUT)
    missing, unexpected = nets.load_state_dict({k.replace("/", ".", 1): v for k, v in student_p.items()},
                                               strict=False)
    assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing), (missing, unexpected)
    return nets, teacher_of(nets)


# One mask per clip (fairseq on its 10 tokens), shared by both views: rows b and B + b.
masks = np.stack([compute_mask_indices(T // 4, np.random.RandomState(7 + b))[0] for b in range(B)])
mask2 = torch.tensor(np.concatenate([masks, masks]))  # [2B, N]
x = torch.tanh(randn(2 * B, 64, T))
lengths = torch.full((2 * B,), T)

# Loss and gradients at the initial weights.
nets, teacher_nets = nets_from_init()
loss0, p0, z0 = frame_forward(nets, teacher_nets, x, lengths, mask2)
loss0.backward()
grads = {f"{k.split('.', 1)[0]}/{k.split('.', 1)[1]}": arr(v.grad) for k, v in nets.named_parameters()}

# One whole step from the same weights.
nets, teacher_nets = nets_from_init()
lr, wd, m = 1e-2, 0.1, 0.9
step_loss, p_s, z_t = frame_train_step(nets, teacher_nets, x, lengths, mask2, {}, lr, wd, m)
after_s, after_t = nets.state_dict(), teacher_nets.state_dict()
step = {"dim": D, "heads": H, "maxPatches": NP, "hidden": HID, "out": HOUT, "lr": lr, "wd": wd, "ema": m,
        "init": init, "x": arr(x), "masks": [[int(v) for v in row] for row in masks],
        "loss": float(step_loss), "masked": int(mask2.sum()),
        "std_student": float(compute_std(p_s)), "std_teacher": float(compute_std(z_t)),
        "grads": grads,
        "student": {k: arr(after_s[k.replace("/", ".", 1)]) for k in student_p},
        "teacher": {k: arr(after_t[k.replace("/", ".", 1)]) for k in student_p if not k.startswith("predictor/")}}
assert abs(float(loss0) - float(step_loss)) < 1e-6

os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as f:
    json.dump({"generator": "tools/gen_frame_train_fixtures.py", "torch": torch.__version__,
               "mask_stats": mask_stats, "step": step}, f)
print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes)")
