"""The ATST reference in PyTorch, written once (docs/REFERENCE.md).

Bottom up: the front end (spec section 1), the encoder (section 2: the
authors' `AST` module, with their parameter names, so its state_dict is a
checkpoint's), the ATST-Frame encoder and its embeddings (docs/REFERENCE.md
sections 8.3 and 8.5: the authors' `FrameAST` and `embedding.py`), the
projector/predictor heads, the views' resize crop and
log-mixup-exp, and the teacher-student step (section 3: BYOL loss, AdamW as
transformers writes it, EMA). The clip-embedding protocol (section 4.1) is
`AST.chunks`.

Imported by the fixture generators (tools/gen_*.py) and the benchmark
references (bench/*_ref.py), which put this folder on sys.path:

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
    from atst_torch import AST, SIZES

Debian's torch 1.13. Committed fixtures are compared with our TypeScript to
the last float, so an op changed here (even an equivalent one) means
regenerating them.
"""
import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

# ---------------------------------------------------------------- front end

MEL = dict(sample_rate=16000, n_fft=1024, win_length=1024, hop_length=160,
           f_min=60.0, f_max=7800.0, n_mels=64)
TOP_DB = 80.0
# The authors' dataset-wide dB range, mapped to [-1, 1].
SCALE_MIN, SCALE_MAX = -79.6482, 50.6842


class LogMel(nn.Module):
    """Waveform [..., n] at 16 kHz -> scaled log-mel [..., 64, T] (`.double()` for float64)."""

    def __init__(self):
        super().__init__()
        import torchaudio  # here, so the encoder's users do not pay for it (memory is measured)

        self.mel = torchaudio.transforms.MelSpectrogram(**MEL)  # power 2, HTK scale, no norm
        self.to_db = torchaudio.transforms.AmplitudeToDB(stype="power", top_db=TOP_DB)

    def forward(self, wave):
        db = self.to_db(self.mel(wave))
        return (db - SCALE_MIN) / (SCALE_MAX - SCALE_MIN) * 2 - 1


# ---------------------------------------------------------------- encoder


class DropPath(nn.Module):
    """Stochastic depth per sample (training only)."""

    def __init__(self, p):
        super().__init__()
        self.p = p

    def forward(self, x):
        if self.p == 0 or not self.training:
            return x
        keep = 1 - self.p
        mask = torch.floor(keep + torch.rand(x.shape[0], 1, 1, dtype=x.dtype))
        return x / keep * mask


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, mask):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # [B, heads, N, C / heads]
        attn = (q @ k.transpose(-2, -1)) * self.scale + mask  # [B, heads, N, N]
        x = (attn.softmax(dim=-1) @ v).transpose(1, 2).reshape(B, N, C)
        return self.proj(x)


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()  # exact (erf) form
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, heads, drop_path=0.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, 4 * dim)
        self.drop_path = DropPath(drop_path)  # no parameters: the state_dict is unchanged

    def forward(self, x, mask):
        x = x + self.drop_path(self.attn(self.norm1(x), mask))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class PatchEmbed(nn.Module):
    """The authors nest the Linear one level down (`patch_embed.patch_embed`)."""

    def __init__(self, dim):
        super().__init__()
        self.patch_embed = nn.Linear(256, dim)  # one 64 x 4 patch


class AST(nn.Module):
    """The authors' encoder; `drop_path` is the last block's rate (linear in depth from 0)."""

    def __init__(self, dim, depth, heads, max_patches=250, drop_path=0.0):
        super().__init__()
        self.dim = dim
        # Registration order fixes the state_dict order, hence the bytes of a saved checkpoint.
        self.patch_embed = PatchEmbed(dim)
        self.mask_embed = nn.Parameter(torch.zeros(1, 1, dim))  # unused here, kept for the names
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, max_patches + 1, dim))
        rates = [drop_path * i / max(depth - 1, 1) for i in range(depth)]
        self.blocks = nn.ModuleList([Block(dim, heads, r) for r in rates])
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def tokens(self, x, length):
        """x [B, 64, T], length [B] frames -> tokens [B, 1+N, D], patch_length [B]."""
        B, F, T = x.shape
        N = T // 4
        p = x[:, :, : N * 4].reshape(B, F, N, 4).permute(0, 2, 1, 3).reshape(B, N, F * 4)
        h = torch.cat([self.cls_token.expand(B, -1, -1), self.patch_embed.patch_embed(p)], 1)
        h = h + self.pos_embed[:, : N + 1]
        return h, (length - length % 4) // 4

    def intermediate(self, x, length, n):
        """The reference's get_intermediate_layers: last n blocks through the final norm."""
        h, plen = self.tokens(x, length)
        B, M, _ = h.shape
        mask = -10000.0 * (torch.arange(M)[None, :] >= (plen + 1)[:, None]).to(h.dtype)
        mask = mask[:, None, None, :]  # [B, 1, 1, 1+N]: padded patches are not attended to
        out = []
        for i, blk in enumerate(self.blocks):
            h = blk(h, mask)
            if len(self.blocks) - i <= n:
                out.append(self.norm(h))
        return out, plen

    def forward(self, x, length):
        """x [B, 64, T], length [B] -> every token after the final norm [B, 1+N, D]."""
        return self.intermediate(x, length, 1)[0][0]

    def chunks(self, x, length, n, chunk_len, corrected=False):
        """The reference's get_intermediate_layers_chunks (spec 4.1)."""
        total = x.shape[-1]
        n = min(n, len(self.blocks))
        cls_acc, avg_acc, marks = [], [], []
        for i in range(total // chunk_len + 1):
            cur = torch.clip(length - i * chunk_len, 0)
            mark = cur > 0 if i == 0 else cur > chunk_len // 2
            xc = x[:, :, i * chunk_len: min((i + 1) * chunk_len, total)]
            outs, plen = self.intermediate(xc, cur, n)
            Nc = outs[0].shape[1] - 1
            valid = (torch.arange(Nc)[None, :] < plen[:, None]).to(x.dtype)[..., None]
            # The quirk: the mean divides by the remaining length, not the chunk's.
            denom = plen.to(x.dtype)[:, None] + 1e-6
            if corrected:
                denom = torch.clamp(plen, max=Nc).to(x.dtype)[:, None] + 1e-6
            cls_acc.append([o[:, 0] for o in outs])
            avg_acc.append([(o[:, 1:] * valid).sum(1) / denom for o in outs])
            marks.append(mark.to(x.dtype)[:, None])
        m = torch.stack(marks)  # [chunks, B, 1]
        cls = [sum(c[j] * mk for c, mk in zip(cls_acc, m)) / m.sum(0) for j in range(n)]
        avg = [sum(a[j] * mk for a, mk in zip(avg_acc, m)) / m.sum(0) for j in range(n)]
        return torch.cat(cls + avg, -1)


# ---------------------------------------------------------------- ATST-Frame

# Frames per embedding chunk: 10 s, the length of the positional table (embedding.py).
FRAME_CHUNK = 1001


class FrameAST(nn.Module):
    """The authors' ATST-Frame encoder (audio_transformer.py FrameAST, patch_embed "Linear",
    pos_type "cut", nprompt 0): no [CLS], positions from row 1, final norm `norm_frame`."""

    def __init__(self, dim, depth, heads, max_patches=250, drop_path=0.0):
        super().__init__()
        self.dim = dim
        # The authors' registration order (it fixes the state_dict order).
        self.patch_embed = PatchEmbed(dim)
        self.mask_embed = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, max_patches + 1, dim))
        rates = [drop_path * i / max(depth - 1, 1) for i in range(depth)]
        self.blocks = nn.ModuleList([Block(dim, heads, r) for r in rates])
        self.norm_frame = nn.LayerNorm(dim, eps=1e-6)

    def tokens(self, x, length, mask_index=None):
        """prepare_tokens: x [B, 64, T], length [B] frames, mask_index [B, N] bool or None ->
        block input [B, N, D], patch_length [B]."""
        B, F, T = x.shape
        N = T // 4
        p = x[:, :, : N * 4].reshape(B, F, N, 4).permute(0, 2, 1, 3).reshape(B, N, F * 4)
        h = self.patch_embed.patch_embed(p)
        if mask_index is not None:
            m = mask_index.unsqueeze(2).expand(B, N, self.dim).to(h.dtype)
            h = (1 - m) * h + m * self.mask_embed.expand(B, N, self.dim)
        h = h + self.pos_embed[:, 1:N + 1]  # row 0 is never used
        return h, (length - length % 4) // 4

    def intermediate(self, x, length, n, mask_index=None):
        """Outputs of the last n blocks through norm_frame, every token; and patch_length."""
        h, plen = self.tokens(x, length, mask_index)
        B, N, _ = h.shape
        mask = -10000.0 * (torch.arange(N)[None, :] >= plen[:, None]).to(h.dtype)
        mask = mask[:, None, None, :]  # [B, 1, 1, N] (audiossl get_attention_mask)
        out = []
        for i, blk in enumerate(self.blocks):
            h = blk(h, mask)
            if len(self.blocks) - i <= n:
                out.append(self.norm_frame(h))
        return out, plen

    def forward(self, x, length, mask_index=None):
        """Every token of the last block through norm_frame [B, N, D] (the authors' forward
        then keeps the masked ones only; that selection is the trainer's)."""
        return self.intermediate(x, length, 1, mask_index)[0][0]

    def get_intermediate_layers(self, x, length, n=1, scene=True):
        """The authors' method: per block the masked mean over tokens (scene) or the tokens."""
        outs, plen = self.intermediate(x, length, n)
        if not scene:
            return torch.cat(outs, -1)
        valid = (torch.arange(outs[0].shape[1])[None, :] < plen[:, None]).to(x.dtype)[..., None]
        return torch.cat([(o * valid).sum(1) / (plen[:, None].to(x.dtype) + 1e-6) for o in outs], -1)


def frame_chunks(total):
    """embedding.py's chunks of a [.., T] log-mel: (start, end) for the non-empty ones."""
    out = []
    for i in range(total // FRAME_CHUNK + 1):
        start, end = i * FRAME_CHUNK, min((i + 1) * FRAME_CHUNK, total)
        if end > start:
            out.append((start, end))
    return out


def timestamp_embedding(model, mel, n=12):
    """get_timestamp_embedding on a log-mel [B, 64, T]: [B, tokens, min(n, depth) * D] and the
    authors' timestamps 40 k ms."""
    out = []
    for start, end in frame_chunks(mel.shape[-1]):
        xc = mel[:, :, start:end]
        length = torch.tensor([end - start]).expand(mel.shape[0])
        out.append(model.get_intermediate_layers(xc, length, n, scene=False))
    out = torch.cat(out, 1)
    return out, torch.arange(out.shape[1]).to(mel.dtype) * 40


def scene_embedding(model, mel, n=12):
    """get_scene_embedding on a log-mel [B, 64, T]: the plain mean over the non-empty chunks of
    each chunk's per-block token means (a 1..3-frame tail chunk adds zeros)."""
    out = []
    for start, end in frame_chunks(mel.shape[-1]):
        xc = mel[:, :, start:end]
        length = torch.tensor([end - start]).expand(mel.shape[0])
        # A chunk without tokens (1..3 frames) gives sum([]) / 1e-6 = 0, and still counts.
        out.append(model.get_intermediate_layers(xc, length, n))
    return torch.stack(out).mean(0)


def true_centres_ms(total):
    """The true centre of every timestamp token: (1001 i + 4 k + 1.5) * 10 ms."""
    return [(start + 4 * k + 1.5) * 10 for start, end in frame_chunks(total)
            for k in range((end - start) // 4)]


# (dim, depth, heads) of the named sizes.
SIZES = {"tiny": (192, 4, 3), "small": (384, 12, 6), "base": (768, 12, 12)}


def atst(size, **kw):
    """A named size: atst("small", drop_path=0.1)."""
    return AST(*SIZES[size], **kw)


# ---------------------------------------------------------------- heads


def head(din, hidden, dout):
    """Projector / predictor: Linear -> BatchNorm1d -> ReLU -> Linear (names 0, 1, 3)."""
    return nn.Sequential(nn.Linear(din, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(),
                         nn.Linear(hidden, dout, bias=False))


def student_of(encoder, hidden, out):
    """Encoder, projector and predictor, the networks the optimizer sees."""
    return nn.ModuleDict({"encoder": encoder, "projector": head(encoder.dim, hidden, out),
                          "predictor": head(out, hidden, out)})


def teacher_of(student):
    """A copy of the student without the predictor, never given to the optimizer."""
    teacher = copy.deepcopy(nn.ModuleDict({k: student[k] for k in ("encoder", "projector")}))
    return teacher.requires_grad_(False)


# ---------------------------------------------------------------- views


def resize_crop(x, box):
    """BYOL-A's Random Resize Crop for a given box {i, j, h, w}: [F, T] -> [F, T].

    The box lies on a canvas 1.5 times as wide with x in its middle.
    """
    Fq, T = x.shape
    cw = int(T * 1.5)
    canvas = torch.zeros(Fq, cw)
    x0 = (cw - T) // 2
    canvas[:, x0:x0 + T] = x
    crop = canvas[box["i"]:box["i"] + box["h"], box["j"]:box["j"] + box["w"]]
    return F.interpolate(crop[None, None], size=(Fq, T), mode="bicubic", align_corners=True)[0, 0]


def log_mixup_exp(xa, xb, alpha):
    """BYOL-A's mixing in the linear power domain: alpha of xa, 1 - alpha of xb."""
    xa, xb = xa.exp(), xb.exp()
    y = alpha * xa + (1.0 - alpha) * xb
    return torch.log(y + torch.finfo(y.dtype).eps)


# ---------------------------------------------------------------- teacher-student step


def byol_loss(p, z):
    """audiossl's ByolLoss: student predictions p and teacher projections z, [2B, d] each
    (view 1 of every clip, then view 2); each view's prediction against the other view."""
    ps, zs = F.normalize(p, dim=-1).chunk(2), F.normalize(z, dim=-1).chunk(2)
    terms = [2 - 2 * (zs[0] * ps[1]).sum(1).mean(), 2 - 2 * (zs[1] * ps[0]).sum(1).mean()]
    return (terms[0] + terms[1]) / 2


def compute_std(y):
    """audiossl's collapse monitor: mean per-dimension std of the L2-normalised rows."""
    y = F.normalize(y, dim=-1)
    n = y.size(0)
    zs, zss = y.sum(0), (y ** 2).sum(0)
    var = zss / (n - 1) - zs ** 2 / (n * (n - 1))
    return torch.sqrt(var + 1e-6).mean()


def decays(params):
    """Weight decay per parameter name: none for biases and 1-D parameters."""
    return {k: not (k.endswith(".bias") or v.dim() == 1) for k, v in params.items()}


def hf_adamw_step(params, grads, state, lr, wd, decay, betas=(0.9, 0.999), eps=1e-6):
    """One step of transformers' AdamW (decoupled decay after the update), in place.

    params, grads and decay are keyed by name; state holds the moments between steps.
    """
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


def ema_(t, s, m):
    """t <- m t + (1 - m) s, in place."""
    return t.mul_(m).add_((1 - m) * s)


def update_(student, teacher, loss, state, lr, wd, ema):
    """The optimisation half of a teacher-student step, shared by both families: backward of
    `loss`, AdamW (transformers' algorithm) on the student's parameters that got a gradient,
    then the teacher's EMA towards the student."""
    student.zero_grad(set_to_none=True)
    loss.backward()
    trained = {k: v for k, v in student.named_parameters() if v.grad is not None}
    with torch.no_grad():
        hf_adamw_step(trained, {k: v.grad for k, v in trained.items()}, state, lr, wd,
                      decays(trained))
        s = dict(student.named_parameters())
        for k, t in teacher.named_parameters():
            ema_(t, s[k], ema)


def train_step(student, teacher, x, lengths, state, lr, wd, ema):
    """One ATST step on both views x [2B, 64, T]: teacher forward, student forward and
    backward, AdamW on the student, EMA of the teacher (parameters; BatchNorm statistics
    are each network's own). Returns (loss, predictions p, teacher projections z)."""
    with torch.no_grad():
        z = teacher["projector"](teacher["encoder"](x, lengths)[:, 0])  # [2B, out]
    p = student["predictor"](student["projector"](student["encoder"](x, lengths)[:, 0]))
    loss = byol_loss(p, z)
    update_(student, teacher, loss, state, lr, wd, ema)
    return loss.detach(), p.detach(), z


# ---------------------------------------------------------------- ATST-Frame step


def compute_mask_indices(T, rng, mask_prob=0.65, mask_length=5, min_masks=2):
    """fairseq's compute_mask_indices for one sequence, mask_type "static", no_overlap False
    (docs/REFERENCE.md §8.6): bool [T] and the span starts drawn, numpy `rng`
    (np.random.RandomState: fairseq's np.random calls)."""
    import numpy as np

    num = max(min_masks, int(mask_prob * T / float(mask_length) + rng.rand()))
    min_len = mask_length
    if T - min_len <= num:
        min_len = T - num - 1
    starts = rng.choice(T - min_len, num, replace=False)
    idc = np.asarray([s + k for s in starts for k in range(mask_length)])
    mask = np.zeros(T, dtype=bool)
    mask[np.unique(idc[idc < T])] = True
    return mask, starts


def frame_forward(student, teacher, x, lengths, mask):
    """ATST-Frame's symmetric forward on x [2B, 64, T] (view 1 rows, then view 2) with the
    token mask [2B, N] bool: the teacher on the plain tokens, the student with mask_embed,
    both kept at the masked tokens only ([M, D] into the heads). Returns (loss, p, z)."""
    with torch.no_grad():
        z = teacher["projector"](teacher["encoder"](x, lengths)[mask])  # [M, out]
    p = student["predictor"](student["projector"](student["encoder"](x, lengths, mask)[mask]))
    return byol_loss(p, z), p, z


def frame_train_step(student, teacher, x, lengths, mask, state, lr, wd, ema):
    """One ATST-Frame step: frame_forward, backward, AdamW on the student, EMA of the teacher.
    Returns (loss, p, z)."""
    loss, p, z = frame_forward(student, teacher, x, lengths, mask)
    update_(student, teacher, loss, state, lr, wd, ema)
    return loss.detach(), p.detach(), z
