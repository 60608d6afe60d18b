#!/usr/bin/env python3
"""Dev-only check of kernels/moe_gemm.cu without a GPU: emulates one 64x64 block's index math
(the cp.async chunk mapping, ldmatrix.x4 addressing and register contents, the mma.sync
m16n8k16 fragment layouts as the PTX ISA documents them, and the epilogue's row/column
mapping) and checks that the block computes A @ B.T. Needs numpy (pip install numpy).
It checks the translation of the layouts, not the hardware: a GPU run is still needed."""
import numpy as np
rng = np.random.default_rng(0)
BM=BN=64; BK=32
K=64
A = rng.standard_normal((BM, K)).astype(np.float32)   # the block's 64 gathered rows
B = rng.standard_normal((BN, K)).astype(np.float32)   # expert rows n0..n0+63
C = np.zeros((BM, BN), np.float32)

def ldmatrix_x4(smem, addr):  # addr(lane) -> (row, col) in smem
    regs = [[None]*4 for _ in range(32)]
    for i in range(4):
        rows = [smem[addr(8*i+r)[0], addr(8*i+r)[1]:addr(8*i+r)[1]+8] for r in range(8)]
        for t in range(32):
            regs[t][i] = (rows[t//4][2*(t%4)], rows[t//4][2*(t%4)+1])
    return regs

acc = np.zeros((4, 32, 2, 4, 4), np.float32)  # warp, lane, mi, ni, r
for kt in range(K//BK):
    As = A[:, kt*BK:(kt+1)*BK]; Bs = B[:, kt*BK:(kt+1)*BK]
    # chunk mapping check: every 16-byte chunk loaded exactly once
    seen=set()
    for tid in range(128):
        for j in range(2):
            c = tid + 128*j; seen.add((c>>2, (c&3)*8))
    assert len(seen)==256
    for warp in range(4):
        wm, wn = warp>>1, warp&1
        for kk in (0, 16):
            af = [ldmatrix_x4(As, lambda l, mi=mi: (wm*32+mi*16+(l&15), kk+(l>>4)*8)) for mi in range(2)]
            bf = [ldmatrix_x4(Bs, lambda l, nj=nj: (wn*32+nj*16+(l&7)+((l>>4)<<3), kk+((l>>3)&1)*8)) for nj in range(2)]
            for mi in range(2):
                for ni in range(4):
                    # reconstruct fragments into matrices, per PTX layout
                    Am = np.zeros((16,16)); Bm = np.zeros((16,8))
                    for t in range(32):
                        g, tt = t>>2, t&3
                        a = af[mi][t]
                        Am[g, 2*tt:2*tt+2] = a[0]; Am[g+8, 2*tt:2*tt+2] = a[1]
                        Am[g, 2*tt+8:2*tt+10] = a[2]; Am[g+8, 2*tt+8:2*tt+10] = a[3]
                        b0 = bf[ni>>1][t][(ni&1)*2]; b1 = bf[ni>>1][t][(ni&1)*2+1]
                        Bm[2*tt:2*tt+2, g] = b0; Bm[2*tt+8:2*tt+10, g] = b1
                    D = Am @ Bm
                    for t in range(32):
                        g, tt = t>>2, t&3
                        acc[warp, t, mi, ni] += [D[g,2*tt], D[g,2*tt+1], D[g+8,2*tt], D[g+8,2*tt+1]]
for warp in range(4):
    wm, wn = warp>>1, warp&1
    for t in range(32):
        g, tt = t>>2, t&3
        for mi in range(2):
            for h in range(2):
                row = wm*32+mi*16+g+8*h
                for ni in range(4):
                    n = wn*32+ni*8+2*tt
                    C[row, n] = acc[warp,t,mi,ni,2*h]; C[row, n+1] = acc[warp,t,mi,ni,2*h+1]
print("max |C - A Bt| =", np.abs(C - A @ B.T).max())
