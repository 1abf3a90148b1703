#!/usr/bin/python3
"""Predicted strong and weak scaling of generate, the full descriptor set (analyze) and one FEM solve from the counts of
bench/run_scaling.sh and a stated machine model (bench/SCALING.md explains every term). Prints Markdown tables."""
import math

ALPHA = 2e-6      # s per message (latency)
BNET = 10e9       # B/s network injection per node
BMEM = 100e9      # B/s memory bandwidth per node
RPN = 64          # ranks per node
# compute per voxel and rank [s], from bench/RESULTS.md at 400^3 on 2 ranks of this machine (both on one memory bus,
# as the ranks of a node are): generate 1.45 s, analyze 57.7 s, FEM setup + solve 62.9 + 66.2 s
C_GEN, C_AN, C_FEM = 1.45 * 2 / 400**3, 57.7 * 2 / 400**3, (62.9 + 66.2) * 2 / 400**3


def allreduce(p):
    return 2 * math.ceil(math.log2(p)) * ALPHA if p > 1 else 0.0


def transpose(p, v):
    """One all-to-all of v bytes per rank: P - 1 messages; the part leaving the node goes through the NIC shared by the
    node's ranks, the rest through memory."""
    if p == 1:
        return 0.0
    r = min(p, RPN)
    off = 1 - r / p
    return (p - 1) * ALPHA + r * v * off / BNET + r * v * (1 - off) / BMEM


def halo(p, b):
    """One exchange of b bytes with each z neighbour: neighbours share a node except at node boundaries (one rank pair
    per node goes through the NIC)."""
    if p == 1:
        return 0.0
    return ALPHA + (b / BNET if p > RPN else 0.0) + min(p, RPN) * 2 * b / BMEM


def predict(n, p):
    N, A = n**3, n * n
    v8 = 8 * N / p                      # bytes of one double array per rank
    gen = C_GEN * N / p + 3 * transpose(p, v8)
    # analyze: 12 EDT transposes (doubles), 12 path-map transposes (mask + maps, 5.7 bytes per voxel on average),
    # 2 FFT transposes; x and y path maps: rounds ~ P per map (measured), 12 maps, 2 planes of 8 bytes and one
    # reduction per round; components: 2 x 2 propagations of ~P sweeps, a few kB and one reduction per sweep
    paths_rounds = 12 * p if p > 1 else 0
    an_comm = (12 * transpose(p, v8) + 12 * transpose(p, 5.7 * N / p) + 2 * transpose(p, v8)
               + paths_rounds * (halo(p, 8 * A) + allreduce(p)) + 4 * p * (halo(p, 4096) + allreduce(p)))
    an = C_AN * N / p + an_comm
    # FEM solve: 21 CG iterations, each ~30 fine-level halo exchanges of a node plane (matvec + AMG smoothing and
    # transfer) and 3 reductions, plus ~10 coarse levels whose latency grows with log P
    fem_comm = 21 * (30 * halo(p, 8 * A) + 3 * allreduce(p) + 10 * 4 * ALPHA * max(1, math.log2(p)))
    fem = C_FEM * N / p + fem_comm
    paths_share = paths_rounds * (halo(p, 8 * A) + allreduce(p)) / an if p > 1 else 0.0
    return gen, an, fem, paths_share


print("Strong scaling, 400^3 (at most 400 ranks: one z plane each)\n")
print("| ranks | generate [s] | speed-up | analyze [s] | speed-up | FEM solve [s] | speed-up | share of analyze in path-map rounds |")
print("|---|---|---|---|---|---|---|---|")
g1, a1, f1, _ = predict(400, 1)
for p in [1, 2, 4, 8, 16, 32, 64, 128, 256, 400]:
    g, a, f, s = predict(400, p)
    print(f"| {p} | {g:.3g} | {g1 / g:.0f} | {a:.3g} | {a1 / a:.0f} | {f:.3g} | {f1 / f:.0f} | {100 * s:.0f} % |")
print("\nWeak scaling, 8.4 M voxels per rank (203^3 on 1 rank ... 2048^3 on 1024)\n")
print("| ranks | grid | generate [s] | analyze [s] | FEM solve [s] | share of analyze in path-map rounds |")
print("|---|---|---|---|---|---|")
for p in [1, 8, 64, 128, 512, 1024]:
    n = round((2048**3 / 1024 * p) ** (1 / 3))
    g, a, f, s = predict(n, p)
    print(f"| {p} | {n}^3 | {g:.3g} | {a:.3g} | {f:.3g} | {100 * s:.0f} % |")
