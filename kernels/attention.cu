// Attention for the judge's layout: every query row attends to one contiguous range of KV
// slots, [kv_start[row], kv_start[row] + kv_len[row]), chosen by the host. Causal
// variable-length prefill and the shared prefix are both ranges:
//   pass over the prefix: a suffix row sees the prefix's slots (all of them, no mask);
//   pass over its own tokens: token i of a sequence sees its sequence's slots 0..=i.
// Each pass writes an f32 partial output and its log-sum-exp; `merge_attention_bf16` joins
// two partials (the prefix/suffix merge of cascade attention) into the bf16 output.
//
// q: [rows, q_heads, D] bf16; k_cache, v_cache: [slots, kv_heads, D] bf16 (GQA: q head h reads
// kv head h / (q_heads / kv_heads)); o: [rows, q_heads, D] f32; lse: [q_heads, rows] f32,
// natural log (−inf for an empty range, whose o is 0).
// Grid: (rows, ceil(q_heads / 4)); block: 128 threads, one warp per (row, q head). Lane j
// holds elements j, j + 32, … of the head (coalesced loads); a key's dot product is one warp
// reduction; online softmax. PER = ceil(head_dim / 32) is fixed per entry point: d64 and d128
// for the model sizes, `any` (head_dim ≤ 256, e.g. the test fixtures' 16).

template <int PER>
__device__ __forceinline__ void attention_partial(const bf16* __restrict__ q, const bf16* __restrict__ k_cache,
                                                  const bf16* __restrict__ v_cache,
                                                  const int* __restrict__ kv_start, const int* __restrict__ kv_len,
                                                  float* __restrict__ o, float* __restrict__ lse, int rows,
                                                  int q_heads, int kv_heads, float scale, int head_dim) {
    const int lane = threadIdx.x & 31;
    const int head = blockIdx.y * 4 + (threadIdx.x >> 5);
    const int row = blockIdx.x;
    if (head >= q_heads) return;
    const int kvh = head / (q_heads / kv_heads);
    float qv[PER], acc[PER];
    const bf16* qrow = q + ((size_t)row * q_heads + head) * head_dim;
#pragma unroll
    for (int j = 0; j < PER; ++j) {
        const int e = lane + 32 * j;
        qv[j] = e < head_dim ? to_f32(qrow[e]) * scale : 0.0f;
        acc[j] = 0.0f;
    }
    float m = -INFINITY, s = 0.0f;
    const int start = kv_start[row], len = kv_len[row];
    for (int t = 0; t < len; ++t) {
        const size_t at = ((size_t)(start + t) * kv_heads + kvh) * head_dim;
        float dot = 0.0f;
#pragma unroll
        for (int j = 0; j < PER; ++j) {
            const int e = lane + 32 * j;
            if (e < head_dim) dot += qv[j] * to_f32(k_cache[at + e]);
        }
        dot = warp_sum(dot);
        const float m_new = fmaxf(m, dot);
        const float correction = __expf(m - m_new);
        const float p = __expf(dot - m_new);
        s = s * correction + p;
#pragma unroll
        for (int j = 0; j < PER; ++j) {
            const int e = lane + 32 * j;
            if (e < head_dim) acc[j] = acc[j] * correction + p * to_f32(v_cache[at + e]);
        }
        m = m_new;
    }
    float* orow = o + ((size_t)row * q_heads + head) * head_dim;
    const float inv = len > 0 ? 1.0f / s : 0.0f;
#pragma unroll
    for (int j = 0; j < PER; ++j) {
        const int e = lane + 32 * j;
        if (e < head_dim) orow[e] = acc[j] * inv;
    }
    if (lane == 0) lse[(size_t)head * rows + row] = len > 0 ? m + __logf(s) : -INFINITY;
}

extern "C" __global__ void __launch_bounds__(128)
    attention_partial_d64(const bf16* __restrict__ q, const bf16* __restrict__ k_cache,
                          const bf16* __restrict__ v_cache, const int* __restrict__ kv_start,
                          const int* __restrict__ kv_len, float* __restrict__ o, float* __restrict__ lse, int rows,
                          int q_heads, int kv_heads, float scale) {
    attention_partial<2>(q, k_cache, v_cache, kv_start, kv_len, o, lse, rows, q_heads, kv_heads, scale, 64);
}

extern "C" __global__ void __launch_bounds__(128)
    attention_partial_d128(const bf16* __restrict__ q, const bf16* __restrict__ k_cache,
                           const bf16* __restrict__ v_cache, const int* __restrict__ kv_start,
                           const int* __restrict__ kv_len, float* __restrict__ o, float* __restrict__ lse, int rows,
                           int q_heads, int kv_heads, float scale) {
    attention_partial<4>(q, k_cache, v_cache, kv_start, kv_len, o, lse, rows, q_heads, kv_heads, scale, 128);
}

extern "C" __global__ void __launch_bounds__(128)
    attention_partial_any(const bf16* __restrict__ q, const bf16* __restrict__ k_cache,
                          const bf16* __restrict__ v_cache, const int* __restrict__ kv_start,
                          const int* __restrict__ kv_len, float* __restrict__ o, float* __restrict__ lse, int rows,
                          int q_heads, int kv_heads, float scale, int head_dim) {
    attention_partial<8>(q, k_cache, v_cache, kv_start, kv_len, o, lse, rows, q_heads, kv_heads, scale, head_dim);
}

// out = w_a · o_a + w_b · o_b with w_x = e^{lse_x − m} / (e^{lse_a − m} + e^{lse_b − m}),
// m = max(lse_a, lse_b), in f32, rounded to bf16 once. o_b/lse_b may be null (one partial:
// a plain cast). Both ranges empty gives 0. One thread per element; grid covers
// rows · q_heads · head_dim.
extern "C" __global__ void merge_attention_bf16(const float* __restrict__ o_a, const float* __restrict__ lse_a,
                                                const float* __restrict__ o_b, const float* __restrict__ lse_b,
                                                bf16* __restrict__ out, int rows, int q_heads, int head_dim) {
    const size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    const size_t total = (size_t)rows * q_heads * head_dim;
    if (idx >= total) return;
    if (o_b == nullptr) {
        out[idx] = to_bf16(o_a[idx]);
        return;
    }
    const int head = (int)((idx / head_dim) % q_heads);
    const int row = (int)(idx / ((size_t)head_dim * q_heads));
    const float la = lse_a[(size_t)head * rows + row], lb = lse_b[(size_t)head * rows + row];
    const float m = fmaxf(la, lb);
    if (m == -INFINITY) {
        out[idx] = to_bf16(0.0f);
        return;
    }
    const float ea = __expf(la - m), eb = __expf(lb - m);
    out[idx] = to_bf16((ea * o_a[idx] + eb * o_b[idx]) / (ea + eb));
}
