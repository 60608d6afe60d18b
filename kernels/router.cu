// Router: softmax over all experts, then the top k, one warp per token (4 tokens per block of
// 128 threads). Lane j holds experts j, j + 32, j + 64, … (coalesced loads), at most
// MAX_EXPERTS in all. Ties go to the lower expert index; the k picks come out in descending
// order of probability; with `renormalize` they are divided by their sum (norm_topk_prob).
//
// logits: [tokens, experts] (f32 or bf16), weights: [tokens, k] f32, ids: [tokens, k] int
#define MAX_EXPERTS 512
#define PER_LANE (MAX_EXPERTS / 32)

template <typename T>
__device__ __forceinline__ void topk_softmax(const T* __restrict__ logits, float* __restrict__ weights,
                                             int* __restrict__ ids, int tokens, int experts, int k,
                                             int renormalize) {
    const int lane = threadIdx.x & 31;
    const int token = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (token >= tokens) return;
    const T* row = logits + (size_t)token * experts;
    float p[PER_LANE];
    float m = -INFINITY;
#pragma unroll
    for (int j = 0; j < PER_LANE; ++j) {
        const int e = lane + 32 * j;
        p[j] = e < experts ? to_f32(row[e]) : -INFINITY;
        m = fmaxf(m, p[j]);
    }
    m = warp_max(m);
    float sum = 0.0f;
#pragma unroll
    for (int j = 0; j < PER_LANE; ++j) {
        const int e = lane + 32 * j;
        p[j] = e < experts ? __expf(p[j] - m) : 0.0f;
        sum += p[j];
    }
    const float inv = 1.0f / warp_sum(sum);
#pragma unroll
    for (int j = 0; j < PER_LANE; ++j) p[j] *= inv;
    // Probabilities are ≥ 0, so -1 marks a slot that is taken or absent.
#pragma unroll
    for (int j = 0; j < PER_LANE; ++j)
        if (lane + 32 * j >= experts) p[j] = -1.0f;
    float picked_sum = 0.0f;
    for (int r = 0; r < k; ++r) {
        // This lane's best (its lowest index among equals: experts rise with j).
        float best = -1.0f;
        int best_e = 0x7fffffff;
#pragma unroll
        for (int j = 0; j < PER_LANE; ++j) {
            if (p[j] > best) {
                best = p[j];
                best_e = lane + 32 * j;
            }
        }
        // The warp's best; equal probabilities go to the lower expert index.
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) {
            const float ob = __shfl_xor_sync(FULL_MASK, best, o);
            const int oe = __shfl_xor_sync(FULL_MASK, best_e, o);
            if (ob > best || (ob == best && oe < best_e)) {
                best = ob;
                best_e = oe;
            }
        }
        if (lane == 0) {
            weights[(size_t)token * k + r] = best;
            ids[(size_t)token * k + r] = best_e;
        }
        picked_sum += best;
        if ((best_e & 31) == lane) {
#pragma unroll
            for (int j = 0; j < PER_LANE; ++j)
                if (lane + 32 * j == best_e) p[j] = -1.0f;
        }
    }
    if (renormalize && lane == 0 && picked_sum > 0.0f) {
        for (int r = 0; r < k; ++r) weights[(size_t)token * k + r] /= picked_sum;
    }
}

extern "C" __global__ void topk_softmax_f32(const float* __restrict__ logits, float* __restrict__ weights,
                                            int* __restrict__ ids, int tokens, int experts, int k, int renormalize) {
    topk_softmax(logits, weights, ids, tokens, experts, k, renormalize);
}

extern "C" __global__ void topk_softmax_bf16(const bf16* __restrict__ logits, float* __restrict__ weights,
                                             int* __restrict__ ids, int tokens, int experts, int k,
                                             int renormalize) {
    topk_softmax(logits, weights, ids, tokens, experts, k, renormalize);
}
