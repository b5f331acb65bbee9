"""Writes fixtures/demo/pca_*.npy: two small data sets and sklearn's 2-D PCA of
each, the reference for tests/demo_test.ts (lib/demo/pca.ts).

  tall: 60 rows x 12 features, three clusters plus anisotropic noise
  wide: 20 rows x 40 features (fewer rows than features, as with few clips)

and of each after StandardScaler (pca_*_std_*.npy).

Run: /usr/bin/python3 tools/gen_pca_fixture.py
"""
import os

import numpy as np
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

OUT = os.path.join(os.path.dirname(__file__), "..", "fixtures", "demo")


def make(rng, n, d):
    centers = rng.normal(0, 3, size=(3, d))
    scale = np.linspace(2.0, 0.2, d)
    return centers[rng.integers(0, 3, size=n)] + rng.normal(size=(n, d)) * scale


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(7)
    for name, (n, d) in {"tall": (60, 12), "wide": (20, 40)}.items():
        x = make(rng, n, d).astype(np.float64)
        p = PCA(n_components=2, svd_solver="full").fit(x)
        np.save(os.path.join(OUT, f"pca_{name}_x.npy"), x)
        np.save(os.path.join(OUT, f"pca_{name}_components.npy"), p.components_)
        np.save(os.path.join(OUT, f"pca_{name}_projected.npy"), p.transform(x))
        np.save(os.path.join(OUT, f"pca_{name}_ratio.npy"), p.explained_variance_ratio_)
        print(name, x.shape, p.explained_variance_ratio_)
        # Correlation PCA (pca(rows, { standardize: true })): StandardScaler, then PCA.
        xs = StandardScaler().fit_transform(x)
        ps = PCA(n_components=2, svd_solver="full").fit(xs)
        np.save(os.path.join(OUT, f"pca_{name}_std_projected.npy"), ps.transform(xs))
        np.save(os.path.join(OUT, f"pca_{name}_std_ratio.npy"), ps.explained_variance_ratio_)


if __name__ == "__main__":
    main()
