"""Golden fixtures for the ATST encoder, checkpoint import and embedding.

Run with Debian's torch 1.13:  /usr/bin/python3 tools/gen_model_fixtures.py [--out DIR]

The reference encoder of tools/atst_torch.py (spec section 2, the authors'
`AST` module) and its clip-embedding protocol (spec 4.1,
`get_intermediate_layers_chunks`, with the remaining-length quirk), in
float64 with random weights on two small shapes, writes to fixtures/model/:

- a.ckpt         Lightning-style checkpoint written by torch.save: state_dict
                 with model.teacher.encoder.* (D=64, depth 2, 1 head), student
                 keys sharing the teacher's storages, narrow projector keys, one
                 non-contiguous tensor, hyper_parameters (AttributeDict) with
                 train_len 4.0 (chunks of 401 frames).
- a_plain.pth    the same teacher in the older plain form: {"teacher": {...}}
                 with module.backbone. prefixes and an argparse Namespace.
- b.safetensors  D=32, depth 3, 2 heads, in our format (written by hand here).
- refs.json      small reference outputs (clip embeddings) as float64 lists.
- b_blocks.npy   model b block outputs [3 blocks, 3, 33, 32] (float64) for a
                 padded batch.
- a_frames.npy   model a frame-mode tokens for one clip (float32).

Inputs are procedural (`signal` below, mirrored in tests/_model_inputs.ts),
so no input arrays are stored.
"""
import argparse
import json
import math
import os
import struct
import sys
import types
from collections import OrderedDict

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from atst_torch import AST, LogMel  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "model")
DEFAULT_MEL = {
    "sampleRate": 16000, "nFft": 1024, "winLength": 1024, "hop": 160, "nMels": 64,
    "fMin": 60, "fMax": 7800, "topDb": 80, "scaleMin": -79.6482, "scaleMax": 50.6842,
}


def audio(seconds, seed):
    """Float32 test waveform at 16 kHz; tests/_model_inputs.ts computes the same."""
    n = np.arange(int(seconds * 16000), dtype=np.float64)
    t = n / 16000
    x = (0.3 * np.sin(2 * np.pi * (220 + 40 * seed + 150 * t) * t)
         + 0.2 * np.sin(2 * np.pi * 1000 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 0.7 * t))
         + 0.05 * np.sin(n * n * 1e-4 + seed))
    return x.astype(np.float32)


def log_mel(x):
    """Spec section 1 with torchaudio (float64)."""
    return LogMel().double()(torch.from_numpy(x.astype(np.float64)))


def signal(frames, seed):
    """[64, frames] float32 test input; tests/_model_inputs.ts computes the same."""
    f = np.arange(64, dtype=np.float64)[:, None]
    t = np.arange(frames, dtype=np.float64)[None, :]
    x = np.sin(0.37 * f + 0.11 * t + seed) * np.cos(0.023 * t * (1 + f % 5) + 0.5 * seed)
    return x.astype(np.float32)


# ---------------------------------------------------------------- weights


def randomise(model, seed):
    """Weights with enough spread that attention, GELU and LayerNorm all matter."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm1.weight") or name.endswith("norm2.weight") or name == "norm.weight":
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
            elif p.dim() == 2:
                p.copy_(torch.randn(p.shape, generator=g) * 1.5 / math.sqrt(p.shape[1]))
            else:
                p.copy_(0.3 * torch.randn(p.shape, generator=g))


# ---------------------------------------------------------------- writers


def rounded(t):
    return [float(f"{v:.10g}") for v in t.tolist()]


def write_safetensors(path, state, metadata):
    header, blobs, off = {"__metadata__": metadata}, [], 0
    for k, v in state.items():
        b = v.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes()
        header[k] = {"dtype": "F32", "shape": list(v.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def lightning_attribute_dict():
    """pytorch_lightning's AttributeDict class under its real module path (for pickle)."""
    mod = types.ModuleType("pytorch_lightning.utilities.parsing")

    class AttributeDict(dict):
        pass

    AttributeDict.__module__ = mod.__name__
    AttributeDict.__qualname__ = "AttributeDict"
    mod.AttributeDict = AttributeDict
    for name in ["pytorch_lightning", "pytorch_lightning.utilities", mod.__name__]:
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules[mod.__name__] = mod
    return AttributeDict


def main():
    ap = argparse.ArgumentParser(description="Writes the model fixtures.")
    ap.add_argument("--out", default=OUT, help="folder to write (default: fixtures/model)")
    out = ap.parse_args().out
    os.makedirs(out, exist_ok=True)
    torch.set_default_dtype(torch.float64)
    refs = {}

    # Model a: the Lightning checkpoint.
    a = AST(64, 2, 1)
    randomise(a, 1)
    a.eval()
    sd = OrderedDict()
    teacher = OrderedDict((k, v.detach().float().clone()) for k, v in a.state_dict().items())
    # One stored non-contiguous (a transposed view), as torch.save keeps strides.
    qkv = teacher["blocks.1.attn.qkv.weight"]
    teacher["blocks.1.attn.qkv.weight"] = qkv.t().contiguous().t()
    assert not teacher["blocks.1.attn.qkv.weight"].is_contiguous()
    for k, v in teacher.items():
        sd["model.student.encoder." + k] = v  # shares the storage: stored once
    g = torch.Generator().manual_seed(7)
    for who in ["student", "teacher"]:
        sd[f"model.{who}.projector.0.weight"] = torch.randn(48, 64, generator=g).float()
        sd[f"model.{who}.projector.1.weight"] = torch.ones(48).float()
        sd[f"model.{who}.projector.1.running_mean"] = torch.zeros(48).float()
        sd[f"model.{who}.projector.1.num_batches_tracked"] = torch.tensor(5)
        sd[f"model.{who}.projector.3.weight"] = torch.randn(16, 48, generator=g).float()
    sd["model.student.predictor.0.weight"] = torch.randn(48, 16, generator=g).float()
    for k, v in teacher.items():
        sd["model.teacher.encoder." + k] = v
    AttributeDict = lightning_attribute_dict()
    hp = AttributeDict(arch="custom", learning_rate=5e-4, warmup_steps=1300, max_steps=39000,
                       ema=0.99, train_len=4.0, batch_size_per_gpu=256, data_path="/data")
    ckpt = {
        "epoch": 3, "global_step": 1234, "pytorch-lightning_version": "1.6.5",
        "state_dict": sd, "loops": {"fit_loop": {"state_dict": {}}}, "callbacks": {},
        "optimizer_states": [], "lr_schedulers": [], "hparams_name": "kwargs",
        "hyper_parameters": hp,
    }
    torch.save(ckpt, os.path.join(out, "a.ckpt"))

    plain_teacher = OrderedDict(("module.backbone." + k, v.clone()) for k, v in teacher.items())
    plain_teacher["module.head.mlp.0.weight"] = torch.randn(32, 64, generator=g).float()
    args = argparse.Namespace(arch="ast", anchor_len=[4.0], lr=5e-4, batch_size_per_gpu=64)
    torch.save({"teacher": plain_teacher, "epoch": 10, "args": args},
               os.path.join(out, "a_plain.pth"))

    # Clip protocol on model a: several widths (12 s = 1201 frames gives 3 chunks of 401).
    chunk = int(4.0 * 16000 / 160 + 1)
    widths = [1201, 802, 530, 87, 3]
    clips = {}
    for j, w in enumerate(widths):
        x = torch.from_numpy(signal(w, j + 1).astype(np.float64))[None]
        L = torch.tensor([w])
        with torch.no_grad():
            clips[str(w)] = {
                "quirk": rounded(a.chunks(x, L, 12, chunk)[0]),
                "corrected": rounded(a.chunks(x, L, 12, chunk, corrected=True)[0]),
            }
    # Batched with zero padding, the reference gives the same numbers (independence).
    xb = torch.zeros(len(widths), 64, max(widths))
    for j, w in enumerate(widths):
        xb[j, :, :w] = torch.from_numpy(signal(w, j + 1).astype(np.float64))
    with torch.no_grad():
        batched = a.chunks(xb, torch.tensor(widths), 12, chunk)
    for j, w in enumerate(widths):
        assert torch.allclose(batched[j], torch.tensor(clips[str(w)]["quirk"]), atol=1e-9), w
    refs["a"] = {"chunk": chunk, "widths": widths, "clips": clips}

    # End to end: waveforms -> centre crop to 12 s -> torchaudio log-mel -> clip protocol.
    files = {}
    for seconds, seed in [(20.0, 1), (7.3, 2), (0.5, 3)]:
        x = audio(seconds, seed)
        if len(x) > 192000:
            start = (len(x) - 192000) // 2
            x = x[start:start + 192000]
        feats = log_mel(x)[None]
        with torch.no_grad():
            e = a.chunks(feats, torch.tensor([feats.shape[-1]]), 12, chunk)[0]
        files[f"{seconds}s"] = {"seconds": seconds, "seed": seed, "frames": feats.shape[-1],
                                "embedding": rounded(e)}
    refs["a_audio"] = files

    # Frame mode on model a: chunks of chunk - chunk % 4 frames, last block through the norm.
    w, fc = 530, chunk - chunk % 4
    x = torch.from_numpy(signal(w, 9).astype(np.float64))[None]
    frames = []
    with torch.no_grad():
        for s in range(0, w - w % 4, fc):
            xc = x[:, :, s: min(s + fc, w - w % 4)]
            last, _ = a.intermediate(xc, torch.tensor([xc.shape[-1]]), 1)
            frames.append(last[-1][0, 1:])
    np.save(os.path.join(out, "a_frames.npy"), torch.cat(frames).numpy().astype(np.float32))
    refs["a_frames"] = {"width": w, "seed": 9, "chunkFrames": fc}

    # Model b (our format): a padded batch with lengths not divisible by 4.
    b = AST(32, 3, 2)
    randomise(b, 2)
    cfg = {"size": "custom", "dim": 32, "depth": 3, "heads": 2, "mlpRatio": 4, "nMels": 64,
           "patchFrames": 4, "maxPatches": 250, "lnEps": 1e-6, "dropPathRate": 0.1}
    write_safetensors(os.path.join(out, "b.safetensors"), b.state_dict(), {
        "format": "pt", "producer": "tools/gen_model_fixtures.py", "encoder": json.dumps(cfg),
        "mel": json.dumps(DEFAULT_MEL), "trainCropSeconds": "6.0",
    })
    lengths = [131, 97, 42]
    xb = torch.zeros(3, 64, 131)
    for j, L in enumerate(lengths):
        xb[j, :, :L] = torch.from_numpy(signal(L, 20 + j).astype(np.float64))
    with torch.no_grad():
        outs, _ = b.intermediate(xb, torch.tensor(lengths), 3)
    np.save(os.path.join(out, "b_blocks.npy"), torch.stack(outs).numpy())
    refs["b"] = {"lengths": lengths, "seeds": [20, 21, 22], "width": 131}

    with open(os.path.join(out, "refs.json"), "w") as f:
        # 10 significant digits: far below the 1e-4 tolerance, half the size.
        f.write(json.dumps(refs, default=str).replace(", ", ","))
    for name in sorted(os.listdir(out)):
        print(f"{name:16s} {os.path.getsize(os.path.join(out, name)):>9,d} bytes")


if __name__ == "__main__":
    main()
