// The judge's answer scoring: per logits row, log p(id) = logit[id] − logsumexp(row) for a
// few candidate token ids ("yes", "Yes", " no", …). One block per row; each thread keeps an
// online (max, sum) over its stride of the vocabulary, merged across the block.
//
// logits: [rows, vocab] f32, ids: [n_ids] int, out: [rows, n_ids] f32
extern "C" __global__ void logsumexp_gather_f32(const float* __restrict__ logits, int vocab,
                                                const int* __restrict__ ids, int n_ids, float* __restrict__ out) {
    __shared__ float ms[32];
    __shared__ float ss[32];
    const float* row = logits + (size_t)blockIdx.x * vocab;
    LseState st = {-INFINITY, 0.0f};
    for (int v = threadIdx.x; v < vocab; v += blockDim.x) st = lse_push(st, row[v]);
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        LseState other = {__shfl_xor_sync(FULL_MASK, st.m, o), __shfl_xor_sync(FULL_MASK, st.s, o)};
        st = lse_merge(st, other);
    }
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    if (lane == 0) {
        ms[warp] = st.m;
        ss[warp] = st.s;
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        LseState all = {-INFINITY, 0.0f};
        for (int w = 0; w < warps; ++w) {
            LseState part = {ms[w], ss[w]};
            all = lse_merge(all, part);
        }
        ms[0] = all.m + __logf(all.s);
    }
    __syncthreads();
    const float lse = ms[0];
    for (int j = threadIdx.x; j < n_ids; j += blockDim.x) {
        const int id = ids[j];
        out[(size_t)blockIdx.x * n_ids + j] = (id >= 0 && id < vocab) ? row[id] - lse : -INFINITY;
    }
}
