// Grouped expert GEMM over the aligned token order (after moe_align): for each M-block of
// 64 rows of sorted_ids, all of one expert e = expert_ids[block],
//   C[id, n] = (weights ? weights[id] : 1) · Σ_k A[id / a_div, k] · B[e, n, k]
// for every id < numel in the block (pad ids ≥ numel are skipped). bf16 in, f32 accumulate
// on tensor cores (mma.sync m16n8k16), bf16 out.
//   Gate/up projection: A = the tokens [tokens, H], a_div = top_k, B = w13 [E, 2I, H].
//   Down projection:    A = silu_mul's output [tokens·k, I], a_div = 1, B = w2 [E, H, I],
//                       weights = the router's top-k weights (applied to the f32 sum).
//
// Tile 64×64×32, 128 threads as 2×2 warps of 32×32; A and B tiles double-buffered in shared
// memory with cp.async (zero-fill for pad rows and rows past N); ldmatrix.x4 fragments.
// Requires K % 32 == 0 (16-byte rows of the tiles) and 16-byte aligned A and B; the host
// checks both. Grid: (ceil(N / 64), len(sorted_ids) / 64); blocks past total_padded exit.
#define BM 64
#define BN 64
#define BK 32
#define PAD 8
#define LDS (BK + PAD)

__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, bool valid) {
    const unsigned s = (unsigned)__cvta_generic_to_shared(smem);
    const int bytes = valid ? 16 : 0;
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(bytes));
}

__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }

__device__ __forceinline__ void cp_async_wait_1() { asm volatile("cp.async.wait_group 1;\n" ::); }

__device__ __forceinline__ void ldmatrix_x4(unsigned (&r)[4], const bf16* smem) {
    const unsigned s = (unsigned)__cvta_generic_to_shared(smem);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(s));
}

__device__ __forceinline__ void mma_bf16(float (&c)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

extern "C" __global__ void __launch_bounds__(128)
    moe_grouped_gemm_bf16(const bf16* __restrict__ a, const bf16* __restrict__ b, bf16* __restrict__ c,
                          const int* __restrict__ sorted_ids, const int* __restrict__ expert_ids,
                          const int* __restrict__ total_padded, const float* __restrict__ weights, int numel,
                          int a_div, int n_dim, int k_dim) {
    __shared__ __align__(16) bf16 as[2][BM][LDS];
    __shared__ __align__(16) bf16 bs[2][BN][LDS];
    const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
    if (m0 >= *total_padded) return;
    const int expert = expert_ids[blockIdx.y];
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int wm = warp >> 1, wn = warp & 1;

    // This thread's two 16-byte chunks of each tile: chunk = tid + 128·j, row = chunk / 4,
    // column = (chunk % 4) · 8.
    const bf16* a_src[2];
    const bf16* b_src[2];
    bool a_ok[2], b_ok[2];
    int ld_row[2], ld_col[2];
#pragma unroll
    for (int j = 0; j < 2; ++j) {
        const int chunk = tid + 128 * j;
        ld_row[j] = chunk >> 2;
        ld_col[j] = (chunk & 3) * 8;
        const int id = sorted_ids[m0 + ld_row[j]];
        a_ok[j] = id < numel;
        a_src[j] = a + (size_t)(a_ok[j] ? id / a_div : 0) * k_dim + ld_col[j];
        const int n = n0 + ld_row[j];
        b_ok[j] = n < n_dim;
        b_src[j] = b + ((size_t)expert * n_dim + (b_ok[j] ? n : 0)) * k_dim + ld_col[j];
    }
    auto load_tile = [&](int kt, int stage) {
        const int k0 = kt * BK;
#pragma unroll
        for (int j = 0; j < 2; ++j) {
            cp_async16(&as[stage][ld_row[j]][ld_col[j]], a_src[j] + k0, a_ok[j]);
            cp_async16(&bs[stage][ld_row[j]][ld_col[j]], b_src[j] + k0, b_ok[j]);
        }
    };

    float acc[2][4][4];
#pragma unroll
    for (int mi = 0; mi < 2; ++mi)
#pragma unroll
        for (int ni = 0; ni < 4; ++ni)
#pragma unroll
            for (int r = 0; r < 4; ++r) acc[mi][ni][r] = 0.0f;

    const int k_tiles = k_dim / BK;
    load_tile(0, 0);
    cp_async_commit();
    for (int kt = 0; kt < k_tiles; ++kt) {
        const int stage = kt & 1;
        if (kt + 1 < k_tiles) load_tile(kt + 1, stage ^ 1);
        cp_async_commit();
        cp_async_wait_1();
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < BK; kk += 16) {
            unsigned af[2][4], bfr[2][4];
#pragma unroll
            for (int mi = 0; mi < 2; ++mi)
                ldmatrix_x4(af[mi], &as[stage][wm * 32 + mi * 16 + (lane & 15)][kk + (lane >> 4) * 8]);
#pragma unroll
            for (int nj = 0; nj < 2; ++nj)
                ldmatrix_x4(bfr[nj],
                            &bs[stage][wn * 32 + nj * 16 + (lane & 7) + ((lane >> 4) << 3)][kk + ((lane >> 3) & 1) * 8]);
#pragma unroll
            for (int mi = 0; mi < 2; ++mi)
#pragma unroll
                for (int ni = 0; ni < 4; ++ni)
                    mma_bf16(acc[mi][ni], af[mi], bfr[ni >> 1][(ni & 1) * 2], bfr[ni >> 1][(ni & 1) * 2 + 1]);
        }
        __syncthreads();
    }

    const int g = lane >> 2, t = lane & 3;
#pragma unroll
    for (int mi = 0; mi < 2; ++mi) {
#pragma unroll
        for (int h = 0; h < 2; ++h) {
            const int id = sorted_ids[m0 + wm * 32 + mi * 16 + g + 8 * h];
            if (id >= numel) continue;
            const float w = weights != nullptr ? weights[id] : 1.0f;
#pragma unroll
            for (int ni = 0; ni < 4; ++ni) {
                const int n = n0 + wn * 32 + ni * 8 + 2 * t;
                if (n >= n_dim) continue;
                __nv_bfloat162 v = __floats2bfloat162_rn(acc[mi][ni][2 * h] * w, acc[mi][ni][2 * h + 1] * w);
                *reinterpret_cast<__nv_bfloat162*>(c + (size_t)id * n_dim + n) = v;
            }
        }
    }
}
