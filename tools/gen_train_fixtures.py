"""Golden values for the pre-training pieces (lib/train/*, lib/model/heads.ts).

Run: /usr/bin/python3 tools/gen_train_fixtures.py   (Debian torch 1.13)
Writes fixtures/train/golden.json. Each section restates the reference's
algorithm in PyTorch/numpy; tests/*_test.ts compare our TypeScript with it.
"""
import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

torch.manual_seed(0)
rng = np.random.default_rng(1234)
OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "train", "golden.json")


def arr(t):
    if isinstance(t, torch.Tensor):
        t = t.detach().cpu().numpy()
    # float32 values written with the shortest repr that round-trips in float32.
    data = [float(np.format_float_positional(np.float32(v), unique=True, trim="-")) if np.asarray(t).dtype == np.float32
            else float(v) for v in np.asarray(t).ravel()]
    return {"shape": list(np.shape(t)), "data": data}


def randn(*shape):
    return torch.tensor(rng.standard_normal(shape), dtype=torch.float32)


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


# --- AdamW: the Hugging Face transformers algorithm, restated -----------------
def hf_adamw_step(params, grads, state, lr, wd, decay, betas=(0.9, 0.999), eps=1e-6):
    for name, p in params.items():
        g = grads[name]
        if g is None:  # unused parameters (mask_embed) are skipped, as torch optimisers do
            continue
        st = state.setdefault(name, {"step": 0, "m": torch.zeros_like(p), "v": torch.zeros_like(p)})
        st["step"] += 1
        st["m"].mul_(betas[0]).add_(g, alpha=1.0 - betas[0])
        st["v"].mul_(betas[1]).addcmul_(g, g, value=1.0 - betas[1])
        denom = st["v"].sqrt().add_(eps)
        step_size = lr * math.sqrt(1.0 - betas[1] ** st["step"]) / (1.0 - betas[0] ** st["step"])
        p.addcdiv_(st["m"], denom, value=-step_size)
        if decay[name] and wd > 0.0:
            p.add_(p, alpha=-lr * wd)


adam_params = {
    "fc.weight": randn(5, 4), "fc.bias": randn(5), "norm.weight": randn(4), "cls_token": randn(1, 1, 4),
}
decay = {k: not (k.endswith(".bias") or v.dim() == 1) for k, v in adam_params.items()}
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
def compute_std(y):
    y = F.normalize(y, dim=-1)
    n = y.size(0)
    zs, zss = y.sum(0), (y ** 2).sum(0)
    var = zss / (n - 1) - zs ** 2 / (n * (n - 1))
    return torch.sqrt(var + 1e-6).mean()


B, d = 6, 16
student = randn(2 * B, d).requires_grad_(True)
teacher = randn(2 * B, d)
s_chunks, t_chunks = student.chunk(2), teacher.chunk(2)
terms = []
for iq, q in enumerate(t_chunks):
    for iv, v in enumerate(s_chunks):
        if iq != iv:
            terms.append(2 - 2 * (F.normalize(q, dim=-1) * F.normalize(v, dim=-1)).sum(1).mean())
loss = sum(terms) / len(terms)
loss.backward()
loss_fx = {"student": arr(student), "teacher": arr(teacher), "loss": float(loss),
           "grad_student": arr(student.grad), "std_student": float(compute_std(student.detach())),
           "std_teacher": float(compute_std(teacher))}

# --- EMA ----------------------------------------------------------------------
t_p, s_p, m = randn(3, 4), randn(3, 4), 0.996
ema = {"teacher": arr(t_p), "student": arr(s_p), "m": m, "out": arr(t_p.clone().mul_(m).add_((1 - m) * s_p))}

# --- Random Resize Crop on fixed boxes (BYOL-A RandomResizeCrop) --------------
F_, T = 64, 40
x = randn(F_, T)
cw = int(T * 1.5)
canvas = torch.zeros(F_, cw)
x0 = (cw - T) // 2
canvas[:, x0:x0 + T] = x
boxes = [{"i": 0, "j": 0, "h": 64, "w": 60}, {"i": 10, "j": 5, "h": 40, "w": 30},
         {"i": 3, "j": 20, "h": 55, "w": 25}, {"i": 0, "j": 33, "h": 64, "w": 27},
         {"i": 63, "j": 59, "h": 1, "w": 1}]
rrc = []
for b in boxes:
    crop = canvas[b["i"]:b["i"] + b["h"], b["j"]:b["j"] + b["w"]]
    out = F.interpolate(crop[None, None], size=(F_, T), mode="bicubic", align_corners=True)[0, 0]
    rrc.append({"box": b, "out": arr(out)})
resize = {"x": arr(x), "cases": rrc}

# --- log-mixup-exp (BYOL-A) -------------------------------------------------------
def log_mixup_exp(xa, xb, alpha):
    xa, xb = xa.exp(), xb.exp()
    y = alpha * xa + (1.0 - alpha) * xb
    return torch.log(y + torch.finfo(y.dtype).eps)


mx, mz = randn(64, 12) * 0.5 - 0.3, randn(64, 12) * 0.5 - 0.3
mixup = {"x": arr(mx), "z": arr(mz), "alpha": 0.3, "out": arr(log_mixup_exp(mx, mz, 1.0 - 0.3))}

# --- projector head: Linear -> BatchNorm1d -> ReLU -> Linear ------------------
N, din, hid, dout = 8, 6, 10, 5
head = torch.nn.Sequential(torch.nn.Linear(din, hid, bias=False), torch.nn.BatchNorm1d(hid),
                           torch.nn.ReLU(), torch.nn.Linear(hid, dout, bias=False))
with torch.no_grad():
    head[1].weight.copy_(1 + 0.1 * randn(hid))
    head[1].bias.copy_(0.1 * randn(hid))
weights = {k: arr(v) for k, v in head.state_dict().items() if "num_batches" not in k}
hx = randn(N, din).requires_grad_(True)
head.train()
hy = head(hx)
hr = randn(N, dout)
(hy * hr).sum().backward()
hx2 = randn(N, din)
head.eval()
with torch.no_grad():
    hy_eval = head(hx2)
heads = {"weights": weights, "x": arr(hx), "r": arr(hr), "y_train": arr(hy),
         "grad_x": arr(hx.grad), "grad_w0": arr(head[0].weight.grad),
         "grad_bn_weight": arr(head[1].weight.grad),
         "running_mean": arr(head[1].running_mean), "running_var": arr(head[1].running_var),
         "x_eval": arr(hx2), "y_eval": arr(hy_eval)}

# --- one whole teacher-student step (encoder spec §2, recipe spec §3) ---------
# A miniature encoder (D=16, 1 block, 2 heads, 5 positions, no drop path) and
# narrow heads, so every tensor fits in the fixture.
D, H, NP, HID, HOUT = 16, 2, 5, 12, 8


def tn(*shape):
    return torch.clamp(randn(*shape) * 0.02, -2, 2)


def uni(out_f, in_f):
    b = 1 / math.sqrt(in_f)
    return torch.tensor(rng.uniform(-b, b, (out_f, in_f)), dtype=torch.float32)


enc = {"patch_embed.patch_embed.weight": uni(D, 256), "patch_embed.patch_embed.bias": 0.1 * randn(D),
       "cls_token": tn(1, 1, D), "pos_embed": tn(1, NP + 1, D), "mask_embed": tn(1, 1, D),
       "blocks.0.norm1.weight": 1 + 0.1 * randn(D), "blocks.0.norm1.bias": 0.1 * randn(D),
       "blocks.0.attn.qkv.weight": uni(3 * D, D), "blocks.0.attn.proj.weight": uni(D, D),
       "blocks.0.attn.proj.bias": 0.1 * randn(D), "blocks.0.norm2.weight": 1 + 0.1 * randn(D),
       "blocks.0.norm2.bias": 0.1 * randn(D), "blocks.0.mlp.fc1.weight": uni(4 * D, D),
       "blocks.0.mlp.fc1.bias": 0.1 * randn(4 * D), "blocks.0.mlp.fc2.weight": uni(D, 4 * D),
       "blocks.0.mlp.fc2.bias": 0.1 * randn(D), "norm.weight": 1 + 0.1 * randn(D), "norm.bias": 0.1 * randn(D)}


def head(din):
    return {"0.weight": uni(HID, din), "1.weight": 1 + 0.1 * randn(HID), "1.bias": 0.1 * randn(HID),
            "3.weight": uni(HOUT, HID), "1.running_mean": torch.zeros(HID), "1.running_var": torch.ones(HID)}


student_p = {**{f"encoder/{k}": v for k, v in enc.items()},
             **{f"projector/{k}": v for k, v in head(D).items()},
             **{f"predictor/{k}": v for k, v in head(HOUT).items()}}
init = {k: arr(v) for k, v in student_p.items()}
teacher_p = {k: v.clone() for k, v in student_p.items() if not k.startswith("predictor/")}
S = {k: v.clone().requires_grad_(not k.endswith("running_mean") and not k.endswith("running_var"))
     for k, v in student_p.items()}


def encode(P, x):
    B, Fq, T = x.shape
    n = T // 4
    e = "encoder/"
    p = x[:, :, :n * 4].reshape(B, Fq, n, 4).permute(0, 2, 1, 3).reshape(B, n, Fq * 4)
    h = torch.cat([P[e + "cls_token"].expand(B, -1, -1),
                   p @ P[e + "patch_embed.patch_embed.weight"].T + P[e + "patch_embed.patch_embed.bias"]], 1)
    h = h + P[e + "pos_embed"][:, :n + 1]
    b = e + "blocks.0."
    y = F.layer_norm(h, (D,), P[b + "norm1.weight"], P[b + "norm1.bias"], 1e-6)
    q, k, v = (y @ P[b + "attn.qkv.weight"].T).reshape(B, n + 1, 3, H, D // H).permute(2, 0, 3, 1, 4)
    a = ((q @ k.transpose(-2, -1)) * (D // H) ** -0.5).softmax(-1)
    h = h + (a @ v).transpose(1, 2).reshape(B, n + 1, D) @ P[b + "attn.proj.weight"].T + P[b + "attn.proj.bias"]
    y = F.layer_norm(h, (D,), P[b + "norm2.weight"], P[b + "norm2.bias"], 1e-6)
    h = h + F.gelu(y @ P[b + "mlp.fc1.weight"].T + P[b + "mlp.fc1.bias"]) @ P[b + "mlp.fc2.weight"].T \
        + P[b + "mlp.fc2.bias"]
    return F.layer_norm(h, (D,), P[e + "norm.weight"], P[e + "norm.bias"], 1e-6)[:, 0]


def mlp_fwd(P, pre, x):
    h = x @ P[pre + "0.weight"].T
    h = F.batch_norm(h, P[pre + "1.running_mean"], P[pre + "1.running_var"], P[pre + "1.weight"],
                     P[pre + "1.bias"], training=True, momentum=0.1, eps=1e-5)
    return F.relu(h) @ P[pre + "3.weight"].T


Bv, Tv = 3, 20
x_step = torch.tanh(randn(2 * Bv, 64, Tv))
with torch.no_grad():
    z_t = mlp_fwd(teacher_p, "projector/", encode(teacher_p, x_step))
p_s = mlp_fwd(S, "predictor/", mlp_fwd(S, "projector/", encode(S, x_step)))
pn, zn = F.normalize(p_s, dim=-1).chunk(2), F.normalize(z_t, dim=-1).chunk(2)
step_loss = ((2 - 2 * (zn[0] * pn[1]).sum(1).mean()) + (2 - 2 * (zn[1] * pn[0]).sum(1).mean())) / 2
step_loss.backward()
lr, wd, m = 1e-2, 0.1, 0.9
trainable = {k: v for k, v in S.items() if v.requires_grad and v.grad is not None}
with torch.no_grad():
    hf_adamw_step(trainable, {k: v.grad for k, v in trainable.items()}, {}, lr, wd,
                  {k: not (k.endswith(".bias") or v.dim() == 1) for k, v in trainable.items()})
    for k in teacher_p:
        if not (k.endswith("running_mean") or k.endswith("running_var")):
            teacher_p[k].mul_(m).add_((1 - m) * S[k])
step = {"dim": D, "heads": H, "maxPatches": NP, "hidden": HID, "out": HOUT, "lr": lr, "wd": wd, "ema": m,
        "init": init, "x": arr(x_step), "loss": float(step_loss),
        "std_student": float(compute_std(p_s.detach())), "std_teacher": float(compute_std(z_t)),
        "student": {k: arr(v) for k, v in S.items()}, "teacher": {k: arr(v) for k, v in teacher_p.items()}}

os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as f:
    json.dump({"generator": "tools/gen_train_fixtures.py", "torch": torch.__version__,
               "schedules": schedules, "adamw": adamw, "loss": loss_fx, "ema": ema,
               "resize_crop": resize, "mixup": mixup, "heads": heads, "step": step}, f)
print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes)")
