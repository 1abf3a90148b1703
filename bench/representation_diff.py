#!/usr/bin/env python3
"""Where does a rasterised sub-particle representation differ from its twin, and how much of the change of the specific
surface area does each kind of difference make? (issue 15; bench/RESULTS.md, "Where C900's extra surface came from")

Usage: /usr/bin/python3 bench/representation_diff.py twin.h5 rasterised.h5
Both are stochmorph volumes (/labels, 1 = solid) of the same grid, e.g. `shape` then `rasterize` of the twin at its own
voxel size. Needs numpy, h5py and scipy.

Voxels: "missing" = solid in the twin, pore in the representation; "extra" = the other way round. Missing voxels are
split by their distance to the twin's pore (on its surface: a dent of the fitted surface; deeper: a hole or a crack
inside the solid), extra voxels by whether they touch the twin's solid (a bump) or not. Enclosed voids: components of
the representation's pore (6-connected) without a single pore voxel of the twin.

Surface area: the Ohser-Schladitz estimator of src/morph/surface.c (13 directions, Voronoi weights, non-periodic: a
pair of voxels weighted by the 2x2x2 cells of the box that hold it), re-implemented here so that hybrid volumes can be
measured: the representation with a class of missing voxels restored (or extra voxels removed). dS of a hybrid says
what the representation's surface area would be without that class of differences. The direction weights are
estimated by Monte Carlo (10^7 directions): S agrees with `analyze` to ~1e-5 relative.
"""
import sys

import h5py
import numpy as np
from scipy import ndimage as ndi

DIRS = [(1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 0), (-1, 1, 0), (1, 0, 1), (-1, 0, 1), (0, 1, 1), (0, -1, 1),
        (1, 1, 1), (-1, 1, 1), (1, -1, 1), (-1, -1, 1)]


def voronoi_weights(samples=10_000_000, seed=1):
    """Fraction of the unit sphere nearer to +-d_i than to any other of the 26 lattice directions (cubic voxels)."""
    u = np.array(DIRS + [tuple(-x for x in d) for d in DIRS], float)
    u /= np.linalg.norm(u, axis=1)[:, None]
    rng, count = np.random.default_rng(seed), np.zeros(26)
    for _ in range(samples // 500_000):
        x = rng.normal(size=(500_000, 3))
        count += np.bincount(np.argmax(x @ u.T, axis=1), minlength=26)
    w = count / count.sum()
    return w[:13] + w[13:]


W = voronoi_weights()


def pairs(a, d):
    """The two ends of every voxel pair (p, p + d) inside the box; a is [z][y][x], d = (dx, dy, dz)."""
    def cut(s, n):
        return (slice(0, n - s), slice(s, n)) if s >= 0 else (slice(-s, n), slice(0, n + s))
    z0, z1 = cut(d[2], a.shape[0])
    y0, y1 = cut(d[1], a.shape[1])
    x0, x1 = cut(d[0], a.shape[2])
    return a[z0, y0, x0], a[z1, y1, x1]


def surface_area(a, h):
    """Specific surface area [1/um] of the True voxels of a (cubic voxels of side h um), non-periodic."""
    n = a.shape
    cells = (n[0] - 1) * (n[1] - 1) * (n[2] - 1)
    s = 0.0
    for w, d in zip(W, DIRS):
        p, q = pairs(a, d)
        diff = (p != q).astype(np.float32)
        for axis, comp in ((0, d[2]), (1, d[1]), (2, d[0])):
            if comp == 0:  # along this axis a pair lies in 2 cells, 1 on the box's faces
                cw = np.ones(diff.shape[axis], np.float32)
                cw[0] = cw[-1] = 0.5
                shape = [1, 1, 1]
                shape[axis] = -1
                diff *= cw.reshape(shape)
        s += 2 * w * float(diff.sum(dtype=np.float64)) / (cells * h * np.linalg.norm(d))
    return s


def load(path):
    with h5py.File(path, "r") as f:
        lab = f["/labels"]
        h = np.asarray(lab.attrs["voxel_size"], float)
        if not np.allclose(h, h[0]):
            sys.exit("%s: voxels are not cubic" % path)
        return lab[...] == 1, float(h[0])


def main(twin_path, rep_path):
    T, h = load(twin_path)
    R, hr = load(rep_path)
    if T.shape != R.shape or abs(h - hr) > 1e-12 * h:
        sys.exit("the twin and the representation have different grids")
    s6, s26 = ndi.generate_binary_structure(3, 1), ndi.generate_binary_structure(3, 3)
    ST = surface_area(T, h)

    def ds(a):
        return 100 * (surface_area(a, h) / ST - 1)

    nsol = T.sum()
    M, E = T & ~R, ~T & R
    depth = ndi.distance_transform_edt(T)  # voxels: 1 on the twin's surface (a 6-neighbour in the pore)
    Ms, Md = M & (depth <= 1.01), M & (depth > 1.01)
    Md2 = M & ~ndi.binary_dilation(~T, s26)  # no 26-neighbour in the pore
    lab, nl = ndi.label(~R, s6)
    void = np.bincount(lab.ravel(), weights=(~T).ravel().astype(float), minlength=nl + 1) == 0
    void[0] = False
    V = void[lab]
    Eb = E & ndi.binary_dilation(T, s6)
    print("eps twin %.4f, representation %.4f (d eps %+.4f); S twin %.4f 1/um, representation %.4f (dS %+.2f %%)" % (
        T.mean(), R.mean(), R.mean() - T.mean(), ST, surface_area(R, h), ds(R)))
    print("missing voxels (solid in the twin only): %d = %.4f of the solid" % (M.sum(), M.sum() / nsol))
    print("  on the twin's surface (dents)     %8d   restored alone: dS %+.2f %%" % (Ms.sum(), ds(R | Ms)))
    print("  deeper (holes, cracks)            %8d   restored alone: dS %+.2f %%" % (Md.sum(), ds(R | Md)))
    print("    of which no 26-neighbour in the pore %d   restored alone: dS %+.2f %%" % (Md2.sum(), ds(R | Md2)))
    print("  enclosed voids: %d components, %d voxels   filled: dS %+.2f %%" % (void.sum(), V.sum(), ds(R | V)))
    print("  all restored (= twin + extra voxels): dS %+.2f %%" % ds(R | M))
    print("extra voxels (solid in the representation only): %d = %.4f of the solid" % (E.sum(), E.sum() / nsol))
    print("  touching the twin's solid (bumps) %8d; not touching %d" % (Eb.sum(), (E & ~Eb).sum()))
    print("  all removed (= twin - missing voxels): dS %+.2f %%" % ds(R & ~E))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(*sys.argv[1:])
