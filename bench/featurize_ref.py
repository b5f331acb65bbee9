#!/usr/bin/python3
"""torchaudio side of bench/featurize.ts: the reference front end on the same files.

Usage: /usr/bin/python3 bench/featurize_ref.py REPEATS FILE...
Prints one JSON object: {"audio_seconds", "end_to_end_s", "features_only_s",
"end_to_end_cpu_s", "features_only_cpu_s", "threads", "peak_rss_mb"} (wall and
process CPU). Times are the best of REPEATS passes over all files, measured
inside Python (interpreter start and imports excluded). End to end =
torchaudio.load, mean over channels, resample to 16 kHz
(torchaudio.transforms.Resample, kernel cached per rate), then
tools/atst_torch.py's LogMel (MelSpectrogram, AmplitudeToDB(top_db=80),
min-max scaling). Features only = the same minus load and resample, on
16 kHz tensors in memory.
"""
import sys

import torch
import torchaudio

from _reference import report, time_runs
from atst_torch import LogMel  # tools/, put on sys.path by _reference

LOG_MEL = LogMel()
RESAMPLERS = {}


def features(wave: torch.Tensor) -> torch.Tensor:
    return LOG_MEL(wave[None])[0]


def load16k(path: str) -> torch.Tensor:
    wave, sr = torchaudio.load(path)
    mono = wave.mean(dim=0)
    if sr == 16000:
        return mono
    if sr not in RESAMPLERS:
        RESAMPLERS[sr] = torchaudio.transforms.Resample(sr, 16000)
    return RESAMPLERS[sr](mono)


def best_of(repeats: int, fn) -> tuple:
    """Best wall time and best process CPU time of `repeats` runs."""
    wall, cpu = time_runs(fn, 0, repeats)
    return min(wall), min(cpu)


def main() -> None:
    repeats, files = int(sys.argv[1]), sys.argv[2:]
    with torch.no_grad():
        waves = [load16k(f) for f in files]  # also warms up kernels and caches
        [features(w) for w in waves]
        e2e = best_of(repeats, lambda: [features(load16k(f)) for f in files])
        mel = best_of(repeats, lambda: [features(w) for w in waves])
    report(audio_seconds=sum(w.numel() for w in waves) / 16000,
           end_to_end_s=e2e[0], features_only_s=mel[0],
           end_to_end_cpu_s=e2e[1], features_only_cpu_s=mel[1])


if __name__ == "__main__":
    main()
