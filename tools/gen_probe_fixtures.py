#!/usr/bin/python3
"""Golden values for the probe (lib/probe/) from scikit-learn.

Writes fixtures/probe/:
- metrics.json: multi-label targets and tied scores with scikit-learn's
  per-class average_precision_score, roc_auc_score, macro mAP, d-prime
  (sqrt(2) * norm.ppf(auc)) and norm.ppf at a few points.
- single_{x,y}_{train,valid,test}.npy + single_reference.json: a 5-class
  Gaussian problem and the test accuracy of LogisticRegression on the
  same standardised features (StandardScaler fitted on train).
- multi_{x,y}_{train,valid,test}.npy + multi_reference.json: a 4-label
  problem and the macro mAP of one-vs-rest LogisticRegression.
- steps.json: the probe protocols written in PyTorch (BatchNorm1d without
  affine + Linear + SGD momentum + CosineAnnealingLR; standardise + Adam
  with weight decay; softmax CE and BCE) run full-batch from given initial
  weights; the weights and BatchNorm running statistics after training.

Run: /usr/bin/python3 tools/gen_probe_fixtures.py   (sklearn 1.2, scipy)
"""
import json
import os

import numpy as np
from scipy.stats import norm
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, average_precision_score, roc_auc_score
from sklearn.multiclass import OneVsRestClassifier
from sklearn.preprocessing import StandardScaler

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "probe")
os.makedirs(OUT, exist_ok=True)
rng = np.random.default_rng(20220412)


def save(name, arr):
    np.save(os.path.join(OUT, name + ".npy"), arr)


def dump(name, obj):
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")


# 1. Metrics on fixed scores (rounded to 1 decimal so many scores tie).
n, c = 60, 5
y = (rng.random((n, c)) < 0.3).astype(np.int32)
y[0, :] = 1  # every class has a positive
y[1, :] = 0  # ... and a negative
s = np.round(np.clip(y * 0.3 + rng.random((n, c)) * 0.8, 0, 1), 1)
ap = average_precision_score(y, s, average=None)
auc = roc_auc_score(y, s, average=None)
ps = [1e-6, 0.01, 0.024, 0.3, 0.5, 0.77, 0.976, 0.999999]
dump("metrics", {
    "n": n, "classes": c,
    "targets": y.ravel().tolist(), "scores": s.ravel().tolist(),
    "ap": ap.tolist(), "mAP": float(average_precision_score(y, s, average="macro")),
    "auc": auc.tolist(), "meanAuc": float(np.mean(auc)),
    "dPrime": float(np.sqrt(2) * norm.ppf(np.mean(auc))),
    "ppf": {"p": ps, "x": [float(norm.ppf(p)) for p in ps]},
    "accuracy": float(accuracy_score(y.argmax(1), s.argmax(1))),
})


# 2. Single-label: Gaussian classes that overlap (accuracy well below 100 %).
def gaussian_set(count, centers, scale, shift):
    k = len(centers)
    labels = rng.integers(0, k, count).astype(np.int32)
    x = centers[labels] + rng.normal(0, 1, (count, centers.shape[1])) * scale + shift
    return x.astype(np.float32), labels


dim, k = 24, 5
centers = rng.normal(0, 0.55, (k, dim))
scale = rng.uniform(0.5, 2.0, dim)  # unequal feature scales: standardisation matters
shift = rng.normal(0, 3, dim)
sets = {name: gaussian_set(m, centers, scale, shift) for name, m in (("train", 2000), ("valid", 300), ("test", 1000))}
for name, (x, lab) in sets.items():
    save(f"single_x_{name}", x)
    save(f"single_y_{name}", lab)
scaler = StandardScaler().fit(sets["train"][0])
lr = LogisticRegression(max_iter=5000).fit(scaler.transform(sets["train"][0]), sets["train"][1])
acc = accuracy_score(sets["test"][1], lr.predict(scaler.transform(sets["test"][0])))
dump("single_reference", {"classes": k, "dim": dim, "logisticRegressionTestAccuracy": float(acc)})


# 3. Multi-label: each label is a noisy linear function of the features.
dim, k = 24, 4
proj = rng.normal(0, 1, (dim, k))
thresh = np.array([0.8, 0.0, -0.5, 1.2])


def multi_set(count):
    x = rng.normal(0, 1, (count, dim)) * scale + shift
    z = ((x - shift) / scale) @ proj / np.sqrt(dim) * 2.0 + rng.normal(0, 0.8, (count, k))
    return x.astype(np.float32), (z > thresh).astype(np.int32)


msets = {name: multi_set(m) for name, m in (("train", 1500), ("valid", 300), ("test", 800))}
for name, (x, lab) in msets.items():
    save(f"multi_x_{name}", x)
    save(f"multi_y_{name}", lab)
scaler = StandardScaler().fit(msets["train"][0])
ovr = OneVsRestClassifier(LogisticRegression(max_iter=5000)).fit(scaler.transform(msets["train"][0]), msets["train"][1])
prob = ovr.predict_proba(scaler.transform(msets["test"][0]))
dump("multi_reference", {
    "classes": k, "dim": dim,
    "oneVsRestLogisticRegressionTestMAP": float(average_precision_score(msets["test"][1], prob, average="macro")),
})


# 4. The protocols step by step in PyTorch, full batch (40 rows < batch size), fixed init.
import torch  # noqa: E402  (only this section needs it)

torch.set_default_dtype(torch.float32)
n, dim, k, epochs = 40, 6, 3, 20
xs = (rng.normal(0, 1, (n, dim)) * rng.uniform(0.5, 3, dim) + rng.normal(0, 2, dim)).astype(np.float32)
ys = (np.arange(n) % k).astype(np.int64)
xs[np.arange(n), ys] += 2.0  # some signal
ym = (rng.random((n, k)) < 0.4).astype(np.float32)
w0 = (rng.normal(0, 0.01, (dim, k))).astype(np.float32)  # our layout [E, C]


def run(protocol, multi):
    lin = torch.nn.Linear(dim, k)
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(w0.T))
        lin.bias.zero_()
    x = torch.from_numpy(xs)
    bn = None
    if protocol == "reference":
        bn = torch.nn.BatchNorm1d(dim, affine=False)
        bn.train()
        opt = torch.optim.SGD(lin.parameters(), lr=0.002 * 1024 / 256, momentum=0.9, weight_decay=0)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    else:
        mean, std = xs.mean(0), xs.std(0)  # population std, like StandardScaler
        x = (x - torch.from_numpy(mean)) / torch.from_numpy(std)
        opt = torch.optim.Adam(lin.parameters(), lr=3e-4, weight_decay=1e-8)
        sched = None
    loss_fn = torch.nn.BCEWithLogitsLoss() if multi else torch.nn.CrossEntropyLoss()
    target = torch.from_numpy(ym) if multi else torch.from_numpy(ys)
    losses = []
    for _ in range(epochs):
        opt.zero_grad()
        z = lin(bn(x) if bn is not None else x)
        loss = loss_fn(z, target)
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
        losses.append(float(loss))
    out = {
        "weight": lin.weight.detach().numpy().T.ravel().tolist(),
        "bias": lin.bias.detach().numpy().tolist(),
        "losses": losses,
    }
    if bn is not None:
        out["runningMean"] = bn.running_mean.numpy().tolist()
        out["runningVar"] = bn.running_var.numpy().tolist()
    return out


dump("steps", {
    "n": n, "dim": dim, "classes": k, "epochs": epochs,
    "x": xs.ravel().tolist(), "y": ys.tolist(), "yMulti": ym.ravel().tolist(), "init": w0.ravel().tolist(),
    "reference": run("reference", False),
    "referenceMulti": run("reference", True),
    "evar": run("evar", False),
    "evarMulti": run("evar", True),
})
print("wrote", OUT, "single acc", acc, "multi mAP", average_precision_score(msets["test"][1], prob, average="macro"))
