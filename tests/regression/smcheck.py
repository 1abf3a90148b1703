"""Shared helpers of the regression scripts (imported by their Python parts; common.sh puts this directory on
PYTHONPATH)."""
import json
import struct
import sys

import numpy as np


class Checks:
    """Failed conditions, collected so that a script reports all of them at once:
        check = Checks()
        check(M < eps, "M = %s above eps" % M)
        check.done()  # prints every failure, exits with status 1 if there was one, else 0"""

    def __init__(self):
        self.errors = []

    def __call__(self, cond, what):
        if not cond:
            self.errors.append(what)

    def done(self):
        for e in self.errors:
            print(e)
        sys.exit(1 if self.errors else 0)


def text(v):
    """An HDF5 string attribute as str (h5py gives bytes for fixed-length strings, str for variable-length ones)."""
    return v.decode() if isinstance(v, bytes) else str(v)


def same_json(path_a, path_b, ignore=("input",)):
    """Whether two JSON reports hold the same values, keys ignore aside (by default the input file, whose name differs
    between the runs compared)."""
    a, b = (json.load(open(p)) for p in (path_a, path_b))
    for key in ignore:  # a report without the key fails here: the key is part of the format
        a.pop(key)
        b.pop(key)
    return a == b


def transport_M(path, direction):
    """D_eff / D of one direction of a transport JSON report."""
    return json.load(open(path))["directions"][direction]["D_eff_over_D"]


def write_tiff(path, pages, rgb=False, dtype=np.uint8):
    """Classic little-endian TIFF, one uncompressed strip per page, written byte by byte (independent of libtiff):
    baseline tags, uint8 samples (three per pixel with rgb) or float32 samples (dtype "<f4": SampleFormat 3)."""
    flt = np.dtype(dtype).kind == "f"
    out = bytearray(b"II*\x00" + struct.pack("<I", 0))
    next_pos = 4
    for page in pages:
        data = np.ascontiguousarray(page, dtype="<f4" if flt else np.uint8).tobytes()
        data_off = len(out)
        out += data
        if len(out) % 2:
            out += b"\x00"
        h, w = page.shape[:2]
        spp = 3 if rgb else 1
        bps_val = 32 if flt else 8
        if rgb:
            bps_val = len(out)
            out += struct.pack("<3H", 8, 8, 8)
        entries = [(256, 3, 1, w), (257, 3, 1, h), (258, 3, spp, bps_val), (259, 3, 1, 1), (262, 3, 1, 2 if rgb else 1),
                   (273, 4, 1, data_off), (277, 3, 1, spp), (278, 3, 1, h), (279, 4, 1, len(data))]
        if flt:
            entries.append((339, 3, 1, 3))
        ifd = len(out)
        struct.pack_into("<I", out, next_pos, ifd)
        out += struct.pack("<H", len(entries))
        for tag, typ, cnt, val in entries:
            if typ == 3 and cnt == 1:
                out += struct.pack("<HHIHH", tag, typ, cnt, val, 0)
            else:
                out += struct.pack("<HHII", tag, typ, cnt, val)
        next_pos = len(out)
        out += struct.pack("<I", 0)
    with open(path, "wb") as f:
        f.write(out)
