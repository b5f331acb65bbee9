"""Golden values of the projector head's synchronised BatchNorm (lib/model/heads.ts).

Run: /usr/bin/python3 tools/gen_sync_bn_fixture.py [--out FILE]   (Debian torch 1.13)
Writes fixtures/train/sync_bn.json: one head (Linear -> BatchNorm1d -> ReLU ->
Linear, tools/atst_torch.py) in training mode over a batch of 8 rows whose mean
is far from 0, the loss sum(y * r), and every gradient and running statistic.
torch's SyncBatchNorm needs CUDA, so the golden is what it equals by definition:
one BatchNorm over the ranks' joined batch. tests/sync_batch_norm_test.ts gives
each of 2 ranks its half of the rows and sums the ranks' parameter gradients.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from atst_torch import head  # noqa: E402
from _fixture_io import Draws, arr  # noqa: E402

ap = argparse.ArgumentParser(description="Writes the SyncBatchNorm golden values.")
ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "fixtures", "train", "sync_bn.json"),
                help="file to write (default: fixtures/train/sync_bn.json)")
OUT = ap.parse_args().out
torch.manual_seed(0)
rng = np.random.default_rng(77)
draws = Draws(rng)
randn = draws.randn


N, din, hid, dout = 8, 6, 10, 5
mlp = head(din, hid, dout)
with torch.no_grad():
    mlp[1].weight.copy_(1 + 0.1 * randn(hid))
    mlp[1].bias.copy_(0.1 * randn(hid))
weights = {k: arr(v) for k, v in mlp.state_dict().items() if "num_batches" not in k}
# Rows with a large common offset: a rank that normalised with its own statistics
# instead of the joined batch's would be far off.
x = (3 + randn(N, din) * torch.linspace(0.5, 2, N)[:, None]).requires_grad_(True)
mlp.train()
y = mlp(x)
r = randn(N, dout)
(y * r).sum().backward()
golden = {"generator": "tools/gen_sync_bn_fixture.py", "torch": torch.__version__, "ranks": 2,
          "weights": weights, "x": arr(x), "r": arr(r), "y": arr(y), "grad_x": arr(x.grad),
          "grad": {k: arr(p.grad) for k, p in mlp.named_parameters()},
          "running_mean": arr(mlp[1].running_mean), "running_var": arr(mlp[1].running_var)}
os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as f:
    json.dump(golden, f)
print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes)")
