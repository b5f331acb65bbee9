"""Golden fixtures for the ATST-Frame family: encoder, checkpoint layouts, embeddings.

Run with Debian's torch 1.13:  /usr/bin/python3 tools/gen_frame_fixtures.py [--out DIR]

The reference FrameAST of tools/atst_torch.py (docs/REFERENCE.md §8.3, the
authors' audio_transformer.py) and the authors' embedding.py protocol (section 4,
`timestamp_embedding` / `scene_embedding` there), in float64 with random weights on
one tiny shape (D=64, depth 2, 1 head: heads are not stored in the authors'
checkpoints, and the importer takes a head width of 64), writes to fixtures/frame/:

- fa.ckpt            Lightning pre-training checkpoint (FrameATSTLightningModule
                     layout) written by torch.save: state_dict with
                     model.teacher.encoder.* and model.student.encoder.* (sharing
                     the teacher's storages except norm_frame.weight, so taking
                     the student shows), projector / predictor keys,
                     hyper_parameters (AttributeDict) with arch and anchor_len.
- fa_finetuned.ckpt  the same encoder fine-tuned-style (ATST-SED): encoder.encoder.*
                     plus head keys to be ignored.
- fa_c2f.ckpt        the same encoder in ATST-C2F's layout:
                     encoder.encoder.frame_encoder.* plus head keys.
- batch.npy          block outputs through norm_frame [2 blocks, 3, 32, 64] of a
                     padded batch, then the masked forward (mask_embed) [3, 32, 64];
                     float32.
- a23_frames.npy     the 23 s clip's timestamp embedding with n = 12 (clipped to the
                     depth: 2 blocks) [574, 128], float32; its last 64 columns are
                     the n = 1 embedding (asserted here).
- refs.json          inputs, masks, scene embeddings (23 s clip and feature-level
                     widths with the tail-chunk cases), timestamps both ways.

Inputs are procedural (`audio` and `signal` of tools/gen_model_fixtures.py,
mirrored in tests/_model_inputs.ts).
"""
import argparse
import json
import os
import sys
from collections import OrderedDict

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from atst_torch import FrameAST, frame_chunks, scene_embedding, timestamp_embedding, true_centres_ms  # noqa: E402
from gen_model_fixtures import audio, lightning_attribute_dict, log_mel, randomise, rounded, signal  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "frame")


def model_fa():
    m = FrameAST(64, 2, 1)
    randomise(m, 11)
    g = torch.Generator().manual_seed(12)
    with torch.no_grad():  # randomise() leaves norm_frame.weight near 0; make it a real norm
        m.norm_frame.weight.copy_(1 + 0.2 * torch.randn(64, generator=g))
    return m.eval()


def heads(g, prefix, din, hidden, dout):
    """Narrow projector-like keys (names as the authors' heads)."""
    return {
        f"{prefix}.0.weight": torch.randn(hidden, din, generator=g).float(),
        f"{prefix}.1.weight": torch.ones(hidden).float(),
        f"{prefix}.1.running_mean": torch.zeros(hidden).float(),
        f"{prefix}.1.num_batches_tracked": torch.tensor(5),
        f"{prefix}.3.weight": torch.randn(dout, hidden, generator=g).float(),
    }


def write_checkpoints(out, model):
    teacher = OrderedDict((k, v.detach().float().clone()) for k, v in model.state_dict().items())
    g = torch.Generator().manual_seed(13)
    AttributeDict = lightning_attribute_dict()
    hp = AttributeDict(arch="small", learning_rate=4e-4, warmup_steps=1950, max_steps=58500,
                       ema=0.997, symmetric=True, pos_type="cut", avg_blocks=0,
                       patch_embed="Linear", anchor_len=10.0, mask_ratio=0.65, mask_len=5,
                       mask_type="static")
    sd = OrderedDict()
    for k, v in teacher.items():
        # The student shares every storage (stored once) but norm_frame.weight, so a loader
        # that took the student instead of the teacher gives other numbers.
        sd["model.student.encoder." + k] = v if k != "norm_frame.weight" else v + 0.5
    sd.update(heads(g, "model.student.projector", 64, 48, 16))
    sd.update(heads(g, "model.student.predictor", 16, 48, 16))
    for k, v in teacher.items():
        sd["model.teacher.encoder." + k] = v
    sd.update(heads(g, "model.teacher.projector", 64, 48, 16))
    torch.save({"epoch": 5, "global_step": 4321, "pytorch-lightning_version": "1.7.7",
                "state_dict": sd, "hparams_name": "kwargs", "hyper_parameters": hp,
                "optimizer_states": [], "lr_schedulers": []}, os.path.join(out, "fa.ckpt"))
    for name, prefix in [("fa_finetuned.ckpt", "encoder.encoder."),
                         ("fa_c2f.ckpt", "encoder.encoder.frame_encoder.")]:
        sd = OrderedDict((prefix + k, v) for k, v in teacher.items())
        sd["head.weight"] = torch.randn(10, 64, generator=g).float()  # heads are ignored
        sd["head.bias"] = torch.zeros(10).float()
        sd["encoder.encoder_proj.weight"] = torch.randn(8, 64, generator=g).float()
        torch.save({"epoch": 1, "state_dict": sd, "hyper_parameters": AttributeDict(lr=1e-4)},
                   os.path.join(out, name))


def main():
    ap = argparse.ArgumentParser(description="Writes the ATST-Frame fixtures.")
    ap.add_argument("--out", default=OUT, help="folder to write (default: fixtures/frame)")
    out = ap.parse_args().out
    os.makedirs(out, exist_ok=True)
    torch.set_default_dtype(torch.float64)
    fa = model_fa()
    write_checkpoints(out, fa)
    refs = {}

    # A padded batch with lengths not divisible by 4; then a masked forward.
    lengths, seeds, width = [131, 97, 42], [30, 31, 32], 131
    xb = torch.zeros(3, 64, width)
    for j, L in enumerate(lengths):
        xb[j, :, :L] = torch.from_numpy(signal(L, seeds[j]).astype(np.float64))
    g = torch.Generator().manual_seed(14)
    mask = torch.rand(3, width // 4, generator=g) < 0.5
    with torch.no_grad():
        outs, _ = fa.intermediate(xb, torch.tensor(lengths), 2)
        masked = fa(xb, torch.tensor(lengths), mask)
    both = torch.cat([torch.stack(outs), masked[None]])
    np.save(os.path.join(out, "batch.npy"), both.numpy().astype(np.float32))
    refs["batch"] = {"lengths": lengths, "seeds": seeds, "width": width,
                     "mask": mask.to(torch.int32).tolist()}

    # The whole pipeline on a 23 s clip: torchaudio log-mel of the whole clip (no crop),
    # then the authors' embedding.py.
    seconds, seed = 23.0, 4
    mel = log_mel(audio(seconds, seed))[None]  # [1, 64, 2301]
    with torch.no_grad():
        ts12, authors_ms = timestamp_embedding(fa, mel, 12)
        ts1, _ = timestamp_embedding(fa, mel, 1)
        scene = scene_embedding(fa, mel)
    assert torch.equal(ts12[0, :, -64:], ts1[0]), "n = 1 is the last block of n = 12"
    np.save(os.path.join(out, "a23_frames.npy"), ts12[0].numpy().astype(np.float32))
    total = mel.shape[-1]
    refs["a23"] = {"seconds": seconds, "seed": seed, "frames": total,
                   "chunks": frame_chunks(total), "tokens": ts12.shape[1],
                   "scene": rounded(scene[0]), "authorsMs": authors_ms.tolist(),
                   "centresMs": true_centres_ms(total)}

    # Feature-level widths: two full chunks and a 1-frame tail (a zero chunk in the scene
    # mean), two exact chunks (the empty third is skipped), one short chunk, no token at all.
    cases = {}
    for j, w in enumerate([2003, 2002, 530, 3]):
        x = torch.from_numpy(signal(w, 40 + j).astype(np.float64))[None]
        with torch.no_grad():
            ts, _ = timestamp_embedding(fa, x, 12)
            cases[str(w)] = {"seed": 40 + j, "tokens": ts.shape[1],
                             "scene": rounded(scene_embedding(fa, x)[0]),
                             "lastToken": rounded(ts[0, -1]) if ts.shape[1] else []}
    refs["widths"] = cases

    with open(os.path.join(out, "refs.json"), "w") as f:
        f.write(json.dumps(refs).replace(", ", ","))
    for name in sorted(os.listdir(out)):
        print(f"{name:18s} {os.path.getsize(os.path.join(out, name)):>9,d} bytes")


if __name__ == "__main__":
    main()
