"""Golden values for the pre-training pieces (lib/train/*, lib/model/heads.ts).

Run: /usr/bin/python3 tools/gen_train_fixtures.py [--out FILE]   (Debian torch 1.13)
Writes fixtures/train/golden.json. Each section runs the reference's
algorithm (tools/atst_torch.py, numpy for the schedules) on small inputs;
tests/*_test.ts compare our TypeScript with it.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from atst_torch import (AST, byol_loss, compute_std, decays, ema_, head, hf_adamw_step,  # noqa: E402
                        log_mixup_exp, resize_crop, student_of, teacher_of, train_step)
from _fixture_io import Draws, arr  # noqa: E402

ap = argparse.ArgumentParser(description="Writes the pre-training golden values.")
ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "fixtures", "train", "golden.json"),
                help="file to write (default: fixtures/train/golden.json)")
OUT = ap.parse_args().out
torch.manual_seed(0)
rng = np.random.default_rng(1234)
draws = Draws(rng)
randn, tn, uni = draws.randn, draws.tn, draws.uni


# --- schedules: DINO's cosine_scheduler --------------------------------------
def cosine_scheduler(base_value, final_value, steps, warmup_steps=0, start_warmup_value=0):
    warmup = np.array([])
    if warmup_steps > 0:
        warmup = np.linspace(start_warmup_value, base_value, warmup_steps)
    iters = np.arange(steps - warmup_steps)
    sched = final_value + 0.5 * (base_value - final_value) * (1 + np.cos(np.pi * iters / len(iters)))
    sched = np.concatenate((warmup, sched))
    assert len(sched) == steps
    return sched


steps, warmup, batch = 50, 7, 64
base_lr = 5e-4 * batch / 256
schedules = {
    "steps": steps, "warmup": warmup, "batch": batch,
    "lr": list(cosine_scheduler(base_lr, 1e-6, steps, warmup)),
    "wd": list(cosine_scheduler(0.04, 0.4, steps)),
    "ema": list(cosine_scheduler(0.99, 1.0, steps)),
}


# --- AdamW: the Hugging Face transformers algorithm ---------------------------
adam_params = {
    "fc.weight": randn(5, 4), "fc.bias": randn(5), "norm.weight": randn(4), "cls_token": randn(1, 1, 4),
}
decay = decays(adam_params)
adam_init = {k: arr(v) for k, v in adam_params.items()}
adam_steps = []
state = {}
for lr, wd in [(1e-2, 0.04), (5e-3, 0.2), (2e-2, 0.4)]:
    grads = {k: randn(*v.shape) for k, v in adam_params.items()}
    hf_adamw_step(adam_params, grads, state, lr, wd, decay)
    adam_steps.append({"lr": lr, "wd": wd, "grads": {k: arr(g) for k, g in grads.items()},
                       "params": {k: arr(p) for k, p in adam_params.items()}})
adamw = {"init": adam_init, "decay": decay, "steps": adam_steps}


# --- loss, collapse monitor (audiossl ByolLoss, single process) -------------
B, d = 6, 16
student = randn(2 * B, d).requires_grad_(True)
teacher = randn(2 * B, d)
loss = byol_loss(student, teacher)
loss.backward()
loss_fx = {"student": arr(student), "teacher": arr(teacher), "loss": float(loss),
           "grad_student": arr(student.grad), "std_student": float(compute_std(student.detach())),
           "std_teacher": float(compute_std(teacher))}

# --- EMA ----------------------------------------------------------------------
t_p, s_p, m = randn(3, 4), randn(3, 4), 0.996
ema = {"teacher": arr(t_p), "student": arr(s_p), "m": m, "out": arr(ema_(t_p.clone(), s_p, m))}

# --- Random Resize Crop on fixed boxes (BYOL-A RandomResizeCrop) --------------
x = randn(64, 40)
boxes = [{"i": 0, "j": 0, "h": 64, "w": 60}, {"i": 10, "j": 5, "h": 40, "w": 30},
         {"i": 3, "j": 20, "h": 55, "w": 25}, {"i": 0, "j": 33, "h": 64, "w": 27},
         {"i": 63, "j": 59, "h": 1, "w": 1}]
resize = {"x": arr(x), "cases": [{"box": b, "out": arr(resize_crop(x, b))} for b in boxes]}

# --- log-mixup-exp (BYOL-A) -------------------------------------------------------
mx, mz = randn(64, 12) * 0.5 - 0.3, randn(64, 12) * 0.5 - 0.3
mixup = {"x": arr(mx), "z": arr(mz), "alpha": 0.3, "out": arr(log_mixup_exp(mx, mz, 1.0 - 0.3))}

# --- projector head: Linear -> BatchNorm1d -> ReLU -> Linear ------------------
N, din, hid, dout = 8, 6, 10, 5
mlp = head(din, hid, dout)
with torch.no_grad():
    mlp[1].weight.copy_(1 + 0.1 * randn(hid))
    mlp[1].bias.copy_(0.1 * randn(hid))
weights = {k: arr(v) for k, v in mlp.state_dict().items() if "num_batches" not in k}
hx = randn(N, din).requires_grad_(True)
mlp.train()
hy = mlp(hx)
hr = randn(N, dout)
(hy * hr).sum().backward()
hx2 = randn(N, din)
mlp.eval()
with torch.no_grad():
    hy_eval = mlp(hx2)
heads = {"weights": weights, "x": arr(hx), "r": arr(hr), "y_train": arr(hy),
         "grad_x": arr(hx.grad), "grad_w0": arr(mlp[0].weight.grad),
         "grad_bn_weight": arr(mlp[1].weight.grad),
         "running_mean": arr(mlp[1].running_mean), "running_var": arr(mlp[1].running_var),
         "x_eval": arr(hx2), "y_eval": arr(hy_eval)}

# --- one whole teacher-student step (encoder spec §2, recipe spec §3) ---------
# A miniature encoder (D=16, 1 block, 2 heads, 5 positions, no drop path) and
# narrow heads, so every tensor fits in the fixture.
D, H, NP, HID, HOUT = 16, 2, 5, 12, 8


enc = {"patch_embed.patch_embed.weight": uni(D, 256), "patch_embed.patch_embed.bias": 0.1 * randn(D),
       "cls_token": tn(1, 1, D), "pos_embed": tn(1, NP + 1, D), "mask_embed": tn(1, 1, D),
       "blocks.0.norm1.weight": 1 + 0.1 * randn(D), "blocks.0.norm1.bias": 0.1 * randn(D),
       "blocks.0.attn.qkv.weight": uni(3 * D, D), "blocks.0.attn.proj.weight": uni(D, D),
       "blocks.0.attn.proj.bias": 0.1 * randn(D), "blocks.0.norm2.weight": 1 + 0.1 * randn(D),
       "blocks.0.norm2.bias": 0.1 * randn(D), "blocks.0.mlp.fc1.weight": uni(4 * D, D),
       "blocks.0.mlp.fc1.bias": 0.1 * randn(4 * D), "blocks.0.mlp.fc2.weight": uni(D, 4 * D),
       "blocks.0.mlp.fc2.bias": 0.1 * randn(D), "norm.weight": 1 + 0.1 * randn(D), "norm.bias": 0.1 * randn(D)}


def head_init(din):
    return {"0.weight": uni(HID, din), "1.weight": 1 + 0.1 * randn(HID), "1.bias": 0.1 * randn(HID),
            "3.weight": uni(HOUT, HID), "1.running_mean": torch.zeros(HID), "1.running_var": torch.ones(HID)}


# Drawn in this order (the fixture's random stream), named as in the fixture ("encoder/...").
student_p = {**{f"encoder/{k}": v for k, v in enc.items()},
             **{f"projector/{k}": v for k, v in head_init(D).items()},
             **{f"predictor/{k}": v for k, v in head_init(HOUT).items()}}
init = {k: arr(v) for k, v in student_p.items()}
nets = student_of(AST(D, 1, H, max_patches=NP), HID, HOUT)
missing, unexpected = nets.load_state_dict({k.replace("/", ".", 1): v for k, v in student_p.items()}, strict=False)
assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing), (missing, unexpected)
teacher_nets = teacher_of(nets)

Bv, Tv = 3, 20
x_step = torch.tanh(randn(2 * Bv, 64, Tv))
lr, wd, m = 1e-2, 0.1, 0.9
step_loss, p_s, z_t = train_step(nets, teacher_nets, x_step, torch.full((2 * Bv,), Tv), {}, lr, wd, m)
after_s, after_t = nets.state_dict(), teacher_nets.state_dict()
step = {"dim": D, "heads": H, "maxPatches": NP, "hidden": HID, "out": HOUT, "lr": lr, "wd": wd, "ema": m,
        "init": init, "x": arr(x_step), "loss": float(step_loss),
        "std_student": float(compute_std(p_s)), "std_teacher": float(compute_std(z_t)),
        "student": {k: arr(after_s[k.replace("/", ".", 1)]) for k in student_p},
        "teacher": {k: arr(after_t[k.replace("/", ".", 1)]) for k in student_p if not k.startswith("predictor/")}}

os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as f:
    json.dump({"generator": "tools/gen_train_fixtures.py", "torch": torch.__version__,
               "schedules": schedules, "adamw": adamw, "loss": loss_fx, "ema": ema,
               "resize_crop": resize, "mixup": mixup, "heads": heads, "step": step}, f)
print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes)")
