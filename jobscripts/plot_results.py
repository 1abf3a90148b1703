#!/usr/bin/python3
"""Figures (PNG) from stochmorph results. Uses Debian's python3-matplotlib, python3-numpy and python3-h5py.

  plot_results.py study  DIR/study.json [DIR2/study.json ...] -o FIGDIR   M computed vs M^ predicted (all tasks of all
                 [--refit refit.json]                                     studies), with the refitted M^ of
                                                                          `stochmorph refit` if given; for a sweep,
                                                                          the sweep curves
  plot_results.py fit    fitted.json -o FIGDIR                            model vs data centred two-point functions
  plot_results.py slices a.h5 [b.h5 ...] -o FIGDIR [--labels A,B]         middle z slices side by side
  plot_results.py threshold A/study.json B/study.json -o FIGDIR           one phase's percolating fraction in one
                 [--labels 6,26] [--phase pore] [--direction z]           direction against the swept value for
                                                                          several sweeps (e.g. one per connectivity),
                                                                          each threshold interval marked
  plot_results.py nmc    OUT_DIR -o FIGDIR                                the six NMC models: M and M^ against
                                                                          calcination temperature and particle size
                                                                          (OUT_DIR/refit.json, if there, adds the
                                                                          refitted M^ to the scatter)
Every figure is written as FIGDIR/<name>.png; the names are printed.
"""
import argparse
import json
import math
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _save(fig, figdir, name):
    os.makedirs(figdir, exist_ok=True)
    path = os.path.join(figdir, name + ".png")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(path)
    return path


def _num(v):
    return float("nan") if v is None else float(v)


def _phases(results, prefix, suffix):
    """Phase names p with results[prefix + p + suffix]."""
    out = []
    for k in results:
        if k.startswith(prefix) and k.endswith(suffix):
            out.append(k[len(prefix):len(k) - len(suffix)])
    return sorted(set(out))


def _refit_predictor(refit, r, ph):
    """M^ of the refit pooled over all phases ('all' in refit.json) for the results r of one twin and phase."""
    f = [g for g in refit["fits"] if g["phases"] == "all"][0]
    e, b, t = (_num(r.get("phases.%s.%s" % (ph, k))) for k in ("volume_fraction", "constrictivity_mean",
                                                                 "geodesic_tortuosity_mean"))
    if not f["defined"] or not (e > 0 and b > 0 and t > 0):
        return float("nan")
    return math.exp(f["log_k"]) * e ** f["a"] * b ** f["b"] / t ** f["c"]


def plot_study(paths, figdir, refit=None):
    """M computed (mean over the solved directions) against M^ predicted, one point per task and phase: filled markers
    for the published exponents, open markers for the refit of `stochmorph refit` (refit.json) if given."""
    fig, ax = plt.subplots(figsize=(5, 5))
    markers = "osD^v<>p*h"
    top = 0.0
    for si, path in enumerate(paths):
        s = json.load(open(path))
        label = os.path.basename(os.path.dirname(os.path.abspath(path)))
        for pi, ph in enumerate(_phases(s["tasks"][0]["results"], "transport.", ".M_mean")):
            x = [_num(t["results"].get("phases.%s.M_predicted" % ph)) for t in s["tasks"]]
            y = [_num(t["results"].get("transport.%s.M_mean" % ph)) for t in s["tasks"]]
            ax.plot(x, y, markers[pi % len(markers)], color="C%d" % (si % 10), label="%s %s" % (label, ph))
            top = max([top] + [v for v in x + y if math.isfinite(v)])
            if refit:
                xr = [_refit_predictor(refit, t["results"], ph) for t in s["tasks"]]
                ax.plot(xr, y, markers[pi % len(markers)], mfc="none", color="C%d" % (si % 10))
                top = max([top] + [v for v in xr if math.isfinite(v)])
    top = top * 1.1 if top > 0 else 1.0
    ax.plot([0, top], [0, top], "k--", lw=0.8, label="M = M^")
    if refit:
        f = [g for g in refit["fits"] if g["phases"] == "all"][0]
        if f["defined"]:
            ax.plot([], [], "o", mfc="none", color="gray",
                    label="refit: %.3g eps^%.2f beta^%.2f / tau^%.2f (R^2 %.3f; published %.3f)"
                    % (math.exp(f["log_k"]), f["a"], f["b"], f["c"], f["r2"], f["r2_published"]))
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel("M^ = eps^1.15 beta^0.35 / tau^4.39" + (" (filled), refit (open)" if refit else ""))
    ax.set_ylabel("computed M (mean over directions)")
    ax.set_title("M-factor: computed vs predicted")
    ax.legend(fontsize=7)
    written = [_save(fig, figdir, "M_computed_vs_predicted")]
    for path in paths:
        s = json.load(open(path))
        if s.get("parameter"):
            written += plot_sweep(s, figdir)
    return written


def plot_sweep(s, figdir):
    """Sweep curves: summary means (error bars: standard deviation over realisations) against the swept value."""
    param = s["parameter"]
    rows = s["summary"]
    x = np.array([float(r["value"]) for r in rows])
    keys = list(rows[0]["mean"].keys())
    groups = [
        ("interfaces", [k for k in keys if k.startswith("interfaces.")], "specific interface area [1/um]"),
        ("geodesic_tortuosity", [k for k in keys if k.endswith(".geodesic_tortuosity_mean")], "mean geodesic tortuosity"),
        ("M_predicted", [k for k in keys if k.endswith(".M_predicted")], "predicted M^"),
        ("M_computed", [k for k in keys if k.startswith("transport.") and k.endswith(".M_mean")], "computed M"),
        ("percolation", [k for k in keys if ".percolating_fraction_" in k and k.startswith("phases.")],
         "percolating fraction"),
        ("volume_fraction", [k for k in keys if k.endswith(".volume_fraction")], "volume fraction"),
    ]
    written = []
    for name, ks, ylabel in groups:
        if not ks:
            continue
        fig, ax = plt.subplots(figsize=(5.5, 4))
        for k in ks:
            m = np.array([_num(r["mean"].get(k)) for r in rows])
            e = np.array([_num(r["std"].get(k)) for r in rows])
            e = np.where(np.isfinite(e), e, 0.0)
            ax.errorbar(x, m, yerr=e, marker="o", capsize=3, label=k.replace("phases.", "").replace("transport.", ""))
        if name == "percolation":  # the threshold intervals of the study table, one marked band per phase and direction
            for i, p in enumerate(q for q in s.get("percolation", []) if "interval" in q):
                lo, hi = float(p["interval"][0]), float(p["interval"][1])
                ax.axvspan(min(lo, hi), max(lo, hi), color="C%d" % (i % 10), alpha=0.12)
                ax.axvline(0.5 * (lo + hi), color="C%d" % (i % 10), ls=":", lw=1,
                           label="%s %s %s in [%g, %g]" % (p["phase"], p["direction"], p["change"], min(lo, hi), max(lo, hi)))
        ax.set_xlabel(param)
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=7)
        ax.set_title("%s against %s" % (ylabel, param), fontsize=9)
        written.append(_save(fig, figdir, "sweep_" + name))
    return written


def plot_threshold(paths, figdir, labels=None, phase="pore", direction="z"):
    """The percolating fraction of one phase in one direction against the swept value, one curve per sweep, with the
    interval of the study table's percolation threshold marked as a band; when the sweeps computed the M-factor of that
    phase and direction, a second panel shows it (logarithmic axis, zeros drawn on the axis)."""
    studies = [json.load(open(path)) for path in paths]
    mkey = "transport.%s.%s.M" % (phase, direction)
    with_m = any(mkey in r["mean"] for s in studies for r in s["summary"])
    mpos = [_num(t.get("results", {}).get(mkey)) for s in studies for t in s.get("tasks", [])]
    mpos = [v for v in mpos if np.isfinite(v) and v > 0]
    mzero = min(mpos) / 3 if mpos else 1e-6  # where a twin with M = 0 is drawn on the logarithmic axis
    fig, axes = plt.subplots(1, 2 if with_m else 1, figsize=(11 if with_m else 5.5, 4), squeeze=False)
    ax = axes[0][0]
    param = ""
    for i, (path, s) in enumerate(zip(paths, studies)):
        param = s["parameter"]
        label = labels[i] if labels else os.path.basename(os.path.dirname(os.path.abspath(path)))
        key = "phases.%s.percolating_fraction_%s" % (phase, direction)
        x = np.array([float(r["value"]) for r in s["summary"]])
        m = np.array([_num(r["mean"].get(key)) for r in s["summary"]])
        e = np.array([_num(r["std"].get(key)) for r in s["summary"]])
        ax.errorbar(x, m, yerr=np.where(np.isfinite(e), e, 0.0), marker="o", capsize=3, color="C%d" % i,
                    label="%s: %s, %s" % (label, phase, direction))
        for p in s.get("percolation", []):
            if p["phase"] == phase and p["direction"] == direction and "interval" in p:
                lo, hi = sorted(float(v) for v in p["interval"])
                for a in axes[0]:
                    a.axvspan(lo, hi, color="C%d" % i, alpha=0.15,
                              label="%s: %s in [%g, %g]" % (label, p["change"], lo, hi) if a is ax else None)
        if with_m:
            # every twin's M, so that a twin with M = 0 next to one that conducts shows as such
            xs, ms = [], []
            for t in s.get("tasks", []):
                v = _num(t.get("results", {}).get(mkey))
                if np.isfinite(v):
                    xs.append(float(t["value"]))
                    ms.append(v)
            xs, ms = np.array(xs), np.array(ms)
            pos = ms > 0
            axm = axes[0][1]
            axm.semilogy(xs[pos], ms[pos], "o", color="C%d" % i, label="%s: M of each twin" % label)
            if np.any(~pos):
                axm.plot(xs[~pos], np.full(np.sum(~pos), mzero * 0.7**i), "x",
                         color="C%d" % i, label="%s: M = 0 (does not span)" % label)
    ax.set_xlabel(param)
    ax.set_ylabel("percolating fraction of %s (%s)" % (phase, direction))
    ax.legend(fontsize=7)
    if with_m:
        axes[0][1].set_xlabel(param)
        axes[0][1].set_ylabel("M of %s (%s)" % (phase, direction))
        axes[0][1].legend(fontsize=7)
    return [_save(fig, figdir, "threshold_%s_%s" % (phase, direction))]


def plot_fit(path, figdir):
    """Model vs data centred two-point functions C(h) - p^2 (C_ij - eps_i eps_j for pluri)."""
    f = json.load(open(path))
    fig, ax = plt.subplots(figsize=(5.5, 4))
    curves = f.get("curves") or {}
    if "C_data" in curves:
        items = [("", curves, f.get("volume_fraction"), f.get("volume_fraction"))]
    else:
        items = [(k, v, None, None) for k, v in curves.items() if isinstance(v, dict) and "C_data" in v]
    for i, (name, c, pi, pj) in enumerate(items):
        h = np.array(c["h"], dtype=float)
        centre = c.get("p2")
        if centre is None:
            centre = (pi * pj) if (pi is not None and pj is not None) else 0.0
        d = np.array([_num(v) for v in c["C_data"]]) - centre
        m = np.array([_num(v) for v in c["C_model"]]) - centre
        ax.plot(h, d, "o", ms=3, color="C%d" % i, label="data %s" % name)
        ax.plot(h, m, "-", color="C%d" % i, label="model %s" % name)
    ax.axhline(0, color="k", lw=0.5)
    ax.set_xlabel("h [um]")
    ax.set_ylabel("centred two-point function")
    ax.set_title("%s fit: model vs data" % f.get("model", "?"))
    ax.legend(fontsize=7)
    return [_save(fig, figdir, "two_point_fit")]


def plot_slices(paths, figdir, labels=None):
    import h5py

    n = len(paths)
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 3.4), squeeze=False)
    for i, p in enumerate(paths):
        with h5py.File(p, "r") as f:
            lab = f["labels"]
            z = lab.shape[0] // 2
            img = lab[z, :, :]
            h = f["labels"].attrs.get("voxel_size", [1, 1, 1])
        ny, nx = img.shape
        ax = axes[0][i]
        ax.imshow(img, cmap="gray", origin="lower", interpolation="nearest", extent=[0, nx * h[0], 0, ny * h[1]])
        ax.set_title(labels[i] if labels and i < len(labels) else os.path.basename(p), fontsize=9)
        ax.set_xlabel("x [um]")
        ax.set_ylabel("y [um]")
    return [_save(fig, figdir, "slices")]


NMC = {"F850": ("fine", 850), "F900": ("fine", 900), "M850": ("medium", 850), "M900": ("medium", 900),
       "C850": ("coarse", 850), "C900": ("coarse", 900)}


def plot_nmc(outdir, figdir):
    """The six NMC models: M computed and M^ predicted of solid and pores against calcination temperature, one line
    per particle size; also the M vs M^ scatter of all six."""
    studies = {k: os.path.join(outdir, k, "study.json") for k in NMC if os.path.exists(os.path.join(outdir, k, "study.json"))}
    if not studies:
        sys.exit("no NMC study.json found under %s" % outdir)
    refit_path = os.path.join(outdir, "refit.json")
    refit = json.load(open(refit_path)) if os.path.exists(refit_path) else None
    written = plot_study([studies[k] for k in sorted(studies)], figdir, refit)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.8))
    for ai, ph in enumerate(["solid", "pore"]):
        ax = axes[ai]
        for si, size in enumerate(["fine", "medium", "coarse"]):
            xs, m, mh = [], [], []
            for k, (sz, temp) in sorted(NMC.items(), key=lambda kv: kv[1][1]):
                if sz != size or k not in studies:
                    continue
                s = json.load(open(studies[k]))["summary"][0]["mean"]
                xs.append(temp)
                m.append(_num(s.get("transport.%s.M_mean" % ph)))
                mh.append(_num(s.get("phases.%s.M_predicted" % ph)))
            if xs:
                ax.plot(xs, m, "o-", color="C%d" % si, label="%s: M computed" % size)
                ax.plot(xs, mh, "s--", color="C%d" % si, label="%s: M^ predicted" % size)
        ax.set_xlabel("calcination temperature [deg C]")
        ax.set_ylabel("M-factor")
        ax.set_title(ph)
        ax.legend(fontsize=7)
    written.append(_save(fig, figdir, "nmc_M_vs_temperature"))
    return written


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("kind", choices=["study", "fit", "slices", "nmc", "threshold"])
    ap.add_argument("inputs", nargs="+")
    ap.add_argument("-o", "--out", default="figures", help="directory of the PNG files")
    ap.add_argument("--labels", default=None, help="slices, threshold: comma-separated panel titles / curve labels")
    ap.add_argument("--phase", default="pore", help="threshold: the phase")
    ap.add_argument("--direction", default="z", help="threshold: the direction")
    ap.add_argument("--refit", default=None, help="study: refit.json of `stochmorph refit`, drawn next to the published M^")
    a = ap.parse_args(argv)
    if a.kind == "study":
        plot_study(a.inputs, a.out, json.load(open(a.refit)) if a.refit else None)
    elif a.kind == "fit":
        for p in a.inputs:
            plot_fit(p, a.out)
    elif a.kind == "threshold":
        plot_threshold(a.inputs, a.out, a.labels.split(",") if a.labels else None, a.phase, a.direction)
    elif a.kind == "slices":
        plot_slices(a.inputs, a.out, a.labels.split(",") if a.labels else None)
    else:
        plot_nmc(a.inputs[0], a.out)


if __name__ == "__main__":
    main()
