#!/usr/bin/python3
"""Reference log-mel features for the audio fixtures, from torchaudio.

Run from the repository root with Debian's python (torch 1.13, torchaudio
0.13): /usr/bin/python3 tools/gen_features.py [--out DIR]
The front end is tools/atst_torch.py's LogMel.

Writes fixtures/features/:
  <key>.ref.npy    torchaudio end to end on the raw file: torchaudio.load,
                   mean over channels, torchaudio.functional.resample to
                   16 kHz, MelSpectrogram, AmplitudeToDB(top_db=80), min-max.
  <key>.same.npy   the same feature pipeline on OUR decoded 16 kHz samples
                   (dumped by tools/gen_features_samples.ts), isolating the
                   feature math from decoder/resampler differences. Omitted
                   when our samples equal torchaudio's bit for bit (then the
                   .ref.npy file is on identical input already).
  resample/<key>.npy  torchaudio's 16 kHz samples (before features) for the
                   resampler agreement test, for a few lossless clips.
  manifest.json    per clip: file, key, rates, lengths, sha256 of our 16 kHz
                   float32 samples (tests check the input is still identical),
                   and which files exist.
<key> is the path under fixtures/audio without extension, "/" -> "-".
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torchaudio

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from atst_torch import MEL, SCALE_MAX, SCALE_MIN, TOP_DB, LogMel  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
AUDIO = os.path.join(ROOT, "fixtures", "audio")
OUT = os.path.join(ROOT, "fixtures", "features")

# Clips with torchaudio resampled samples stored for the resampler test.
RESAMPLE_KEYS = ["stereo_44k", "mono_8k", "codecs-wav_u8", "codecs-wav_s16", "codecs-flac"]
# Lossy codecs: decoders legitimately differ, so .ref.npy is only a loose check.
LOSSY = {".mp3", ".ogg", ".opus", ".m4a", ".webm"}

log_mel = LogMel()


def features(wave16k: torch.Tensor) -> np.ndarray:
    """[n] float32 at 16 kHz -> [64, T] float32, the reference front end."""
    if wave16k.numel() <= MEL["n_fft"] // 2:  # project rule: zero-pad to 513
        wave16k = torch.nn.functional.pad(wave16k, (0, MEL["n_fft"] // 2 + 1 - wave16k.numel()))
    with torch.no_grad():
        x = log_mel(wave16k[None])[0]
    return np.ascontiguousarray(x.numpy(), dtype=np.float32)


def key_of(rel: str) -> str:
    return os.path.splitext(rel)[0].replace("/", "-")


def main() -> None:
    ap = argparse.ArgumentParser(description="Writes the reference log-mel features.")
    ap.add_argument("--out", default=OUT, help="folder to write (default: fixtures/features)")
    out = ap.parse_args().out
    files = sorted(
        os.path.relpath(os.path.join(d, f), AUDIO)
        for d, _, fs in os.walk(AUDIO) for f in fs
        if not os.path.relpath(d, AUDIO).startswith("bad")
    )
    os.makedirs(os.path.join(out, "resample"), exist_ok=True)
    for old in os.listdir(out):
        if old.endswith(".npy"):
            os.remove(os.path.join(out, old))
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            ["deno", "run", "-A", os.path.join(ROOT, "tools", "gen_features_samples.ts"), tmp]
            + [os.path.join(AUDIO, f) for f in files],
            check=True, cwd=ROOT,
        )
        ours_meta = json.load(open(os.path.join(tmp, "meta.json")))
        ours = [np.load(os.path.join(tmp, f"{i}.npy")) for i in range(len(files))]

    clips = []
    for rel, mine, meta in zip(files, ours, ours_meta):
        key = key_of(rel)
        wave, sr = torchaudio.load(os.path.join(AUDIO, rel))
        mono = wave.mean(dim=0)
        ref16 = torchaudio.functional.resample(mono, sr, 16000) if sr != 16000 else mono
        ref_feat = features(ref16)
        np.save(os.path.join(out, f"{key}.ref.npy"), ref_feat)
        same_input = ref16.numel() == mine.size and bool(np.array_equal(ref16.numpy(), mine))
        if not same_input:
            np.save(os.path.join(out, f"{key}.same.npy"), features(torch.from_numpy(mine)))
        if key in RESAMPLE_KEYS:
            np.save(os.path.join(out, "resample", f"{key}.npy"), np.ascontiguousarray(ref16.numpy(), dtype=np.float32))
        n = min(ref16.numel(), mine.size)
        clips.append(dict(
            file=rel, key=key, lossy=os.path.splitext(rel)[1] in LOSSY,
            sourceRate=sr, channels=int(wave.shape[0]), oursSourceRate=meta["sourceRate"],
            oursChannels=meta["channels"], refSamples=int(ref16.numel()), oursSamples=int(mine.size),
            frames=int(ref_feat.shape[1]), sameInput=same_input,
            oursSha256=hashlib.sha256(mine.astype("<f4").tobytes()).hexdigest(),
            inputMaxAbsDiff=float(np.abs(ref16.numpy()[:n] - mine[:n]).max()) if n else 0.0,
            resample=key in RESAMPLE_KEYS,
        ))
        print(f"{key:22s} sr={sr:6d} ch={wave.shape[0]} T={ref_feat.shape[1]:5d} "
              f"same={same_input} input diff={clips[-1]['inputMaxAbsDiff']:.2e}", file=sys.stderr)
    manifest = dict(
        generator="tools/gen_features.py",
        torch=torch.__version__, torchaudio=torchaudio.__version__,
        mel=dict(MEL, top_db=TOP_DB, scale_min=SCALE_MIN, scale_max=SCALE_MAX),
        clips=clips,
    )
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
