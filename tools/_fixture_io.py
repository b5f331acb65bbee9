"""Shared by the training fixture generators: arrays as the tests read them (tests/_train_golden.ts
`Arr`), and the seeded draws their miniature models start from."""
import math

import numpy as np
import torch


def arr(t):
    """{"shape", "data"}; float32 values written with the shortest repr that round-trips in
    float32, other dtypes as Python floats."""
    if isinstance(t, torch.Tensor):
        t = t.detach().cpu().numpy()
    a = np.asarray(t)
    data = [float(np.format_float_positional(np.float32(v), unique=True, trim="-")) if a.dtype == np.float32
            else float(v) for v in a.ravel()]
    return {"shape": list(a.shape), "data": data}


class Draws:
    """Seeded float32 draws from one numpy Generator, in call order."""

    def __init__(self, rng):
        self.rng = rng

    def randn(self, *shape):
        return torch.tensor(self.rng.standard_normal(shape), dtype=torch.float32)

    def tn(self, *shape):
        """The reference's trunc_normal_(std=.02): a normal clipped at +-2."""
        return torch.clamp(self.randn(*shape) * 0.02, -2, 2)

    def uni(self, out_f, in_f):
        """nn.Linear's default weight init, U(-1/sqrt(in), 1/sqrt(in))."""
        b = 1 / math.sqrt(in_f)
        return torch.tensor(self.rng.uniform(-b, b, (out_f, in_f)), dtype=torch.float32)
