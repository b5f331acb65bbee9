#!/usr/bin/env python3
"""Golden values for the events probe's metrics (tests/event_metrics_test.ts).

Random reference and estimated event lists for a few files; their 1 s
segment rolls (sed_eval's rule: a segment is active when an event overlaps
it, floor(onset) to ceil(offset), as many segments as the last offset of
either list needs), and scikit-learn's micro F1 / precision / recall on the
stacked binary matrices. Also random frame scores and targets with
scikit-learn's macro average precision (the frame-level mAP).

Run with Debian's python3-sklearn: /usr/bin/python3 tools/gen_event_fixtures.py
Writes fixtures/events/sklearn.json.
"""
import json
import math
import os

import numpy as np
import sklearn
from sklearn.metrics import average_precision_score, f1_score, precision_score, recall_score

CLASSES = ["alarm", "dog", "speech"]
rng = np.random.default_rng(15)


def events(n, length):
    out = []
    for _ in range(n):
        onset = round(float(rng.uniform(0, length - 0.2)), 3)
        offset = round(min(length, onset + float(rng.uniform(0.1, 3.0))), 3)
        out.append({"label": CLASSES[int(rng.integers(0, len(CLASSES)))], "onset": onset, "offset": offset})
    return out


def roll(evs, segments):
    r = np.zeros((segments, len(CLASSES)), dtype=np.int64)
    for e in evs:
        c = CLASSES.index(e["label"])
        r[int(math.floor(e["onset"])):int(math.ceil(e["offset"])), c] = 1
    return r


files = []
refs, ests = [], []
for k in range(8):
    length = float(rng.uniform(4, 12))
    ref = events(int(rng.integers(0, 6)), length)
    est = events(int(rng.integers(0, 6)), length)
    last = max([e["offset"] for e in ref + est] + [0.0])
    n = int(math.ceil(last))
    r, s = roll(ref, n), roll(est, n)
    refs.append(r)
    ests.append(s)
    files.append({"reference": ref, "estimated": est, "segments": n,
                  "ref_roll": r.ravel().tolist(), "est_roll": s.ravel().tolist()})
R, S = np.concatenate(refs), np.concatenate(ests)

scores = rng.uniform(0, 1, size=(300, len(CLASSES)))
targets = (rng.uniform(0, 1, size=(300, len(CLASSES))) < np.array([0.1, 0.3, 0.5])).astype(np.int64)
# Ties, as post-processed scores often have.
scores[::7] = np.round(scores[::7], 1)

out = {
    "generator": "tools/gen_event_fixtures.py",
    "sklearn": sklearn.__version__,
    "classes": CLASSES,
    "files": files,
    "segment": {
        "f1_micro": float(f1_score(R, S, average="micro")),
        "precision_micro": float(precision_score(R, S, average="micro")),
        "recall_micro": float(recall_score(R, S, average="micro")),
    },
    "frames": {
        "scores": scores.ravel().tolist(),
        "targets": targets.ravel().tolist(),
        "mAP_macro": float(average_precision_score(targets, scores, average="macro")),
    },
}
path = os.path.join(os.path.dirname(__file__), "..", "fixtures", "events", "sklearn.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
print(path, out["segment"], out["frames"]["mAP_macro"])
