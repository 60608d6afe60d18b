// Expert alignment (vLLM's moe_align_block_size contract), in two launches.
//
// The (token, slot) pairs of topk_ids [tokens · k] are numbered i = token · k + slot
// (numel = tokens · k). The caller allocates:
//   sorted_ids  [numel + experts · (block_m − 1)] int, filled here with the pad id `numel`
//   expert_ids  [that / block_m] int, zero-filled by the caller
//   cumsum      [experts + 1] int, cursor [experts] int, total_padded [1] int
// Each expert's count is rounded up to a multiple of block_m (an unused expert gets no
// block); cumsum is the exclusive scan of the rounded counts; expert_ids[b] is the expert of
// M-block b; total_padded = cumsum[experts] is where the grouped GEMM stops.

// Launch 1: one block of 1024 threads (experts ≤ 1024): count, scan, expert ids, pad ids.
extern "C" __global__ void __launch_bounds__(1024)
    moe_align_count_scan(const int* __restrict__ topk_ids, int numel, int experts, int block_m,
                         int* __restrict__ cumsum, int* __restrict__ cursor, int* __restrict__ expert_ids,
                         int* __restrict__ total_padded, int* __restrict__ sorted_ids, int sorted_len) {
    __shared__ int counts[1024];
    __shared__ int warp_totals[32];
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    counts[tid] = 0;
    for (int i = tid; i < sorted_len; i += blockDim.x) sorted_ids[i] = numel;
    __syncthreads();
    for (int i = tid; i < numel; i += blockDim.x) {
        const int e = topk_ids[i];
        if (e >= 0 && e < experts) atomicAdd(&counts[e], 1);
    }
    __syncthreads();
    const int padded = tid < experts ? (counts[tid] + block_m - 1) / block_m * block_m : 0;
    // Inclusive scan within the warp, then of the warps' totals.
    int incl = padded;
#pragma unroll
    for (int o = 1; o < 32; o <<= 1) {
        const int v = __shfl_up_sync(FULL_MASK, incl, o);
        if (lane >= o) incl += v;
    }
    if (lane == 31) warp_totals[warp] = incl;
    __syncthreads();
    if (warp == 0) {
        int t = warp_totals[lane];
#pragma unroll
        for (int o = 1; o < 32; o <<= 1) {
            const int v = __shfl_up_sync(FULL_MASK, t, o);
            if (lane >= o) t += v;
        }
        warp_totals[lane] = t;
    }
    __syncthreads();
    const int excl = incl - padded + (warp > 0 ? warp_totals[warp - 1] : 0);
    if (tid < experts) {
        cumsum[tid] = excl;
        cursor[tid] = excl;
        for (int b = excl / block_m; b < (excl + padded) / block_m; ++b) expert_ids[b] = tid;
        if (tid == experts - 1) {
            cumsum[experts] = excl + padded;
            *total_padded = excl + padded;
        }
    }
}

// Launch 2: any grid; each pair takes the next free place in its expert's segment. The order
// within a segment is not deterministic (atomics); rows are independent, so results are.
extern "C" __global__ void moe_align_scatter(const int* __restrict__ topk_ids, int numel, int experts,
                                             int* __restrict__ cursor, int* __restrict__ sorted_ids) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < numel; i += gridDim.x * blockDim.x) {
        const int e = topk_ids[i];
        if (e >= 0 && e < experts) sorted_ids[atomicAdd(&cursor[e], 1)] = i;
    }
}
