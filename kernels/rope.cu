// Per-head q/k RMSNorm (Qwen3) + rotary embedding + KV-cache write, in one pass over the
// fused qkv projection.
//
// qkv:   [rows, (q_heads + 2·kv_heads) · head_dim] bf16, q heads, then k heads, then v heads
// q_norm, k_norm: [head_dim] bf16 weights, or null (Llama, Qwen2: no q/k norm)
// positions: [rows] int, each row's position in its sequence
// rope:  [max_positions, head_dim] f32: cos of the head_dim/2 frequencies, then their sin
// q_out: [rows, q_heads, head_dim] bf16
// k_cache, v_cache: [slots, kv_heads, head_dim] bf16; row r writes slot slots[r]
// interleaved: 0 = rotate-half pairs (i, i + head_dim/2) as Hugging Face; 1 = pairs (2i, 2i+1)
//
// Grid: (rows, q_heads + kv_heads); block: max(head_dim, 32) threads (head_dim even, ≤ 256),
// one element each; threads past head_dim only join the reduction.
// Numerics as Hugging Face in bf16: the norm's f32 result rounded, × weight rounded; cos and
// sin rounded to bf16; x·cos and x'·sin each rounded, then their sum.
extern "C" __global__ void qk_norm_rope_kv_bf16(const bf16* __restrict__ qkv, const bf16* __restrict__ q_norm,
                                                const bf16* __restrict__ k_norm, float eps,
                                                const int* __restrict__ positions, const float* __restrict__ rope,
                                                bf16* __restrict__ q_out, bf16* __restrict__ k_cache,
                                                bf16* __restrict__ v_cache, const int* __restrict__ slots,
                                                int q_heads, int kv_heads, int head_dim, int interleaved) {
    __shared__ float scratch[32];
    __shared__ float vals[256];
    const int row = blockIdx.x, head = blockIdx.y, i = threadIdx.x;
    const bool active = i < head_dim;
    const bool is_q = head < q_heads;
    const int width = (q_heads + 2 * kv_heads) * head_dim;
    const bf16* src = qkv + (size_t)row * width + (size_t)head * head_dim;
    float x = active ? to_f32(src[i]) : 0.0f;
    const bf16* norm = is_q ? q_norm : k_norm;
    if (norm != nullptr) {
        const float inv = rsqrtf(block_sum(x * x, scratch) / (float)head_dim + eps);
        if (active) x = round_bf16(round_bf16(x * inv) * to_f32(norm[i]));
    }
    if (active) vals[i] = x;
    __syncthreads();
    if (!active) return;
    const int half = head_dim / 2;
    int partner, freq;
    float sign;
    if (interleaved) {
        partner = i ^ 1;
        freq = i >> 1;
        sign = (i & 1) ? 1.0f : -1.0f;
    } else {
        partner = i < half ? i + half : i - half;
        freq = i < half ? i : i - half;
        sign = i < half ? -1.0f : 1.0f;
    }
    const float* table = rope + (size_t)positions[row] * head_dim;
    const float c = round_bf16(table[freq]), s = round_bf16(table[half + freq]);
    const float rotated = round_bf16(round_bf16(x * c) + round_bf16(sign * vals[partner] * s));
    if (is_q) {
        q_out[((size_t)row * q_heads + head) * head_dim + i] = to_bf16(rotated);
    } else {
        const int kh = head - q_heads;
        const size_t at = ((size_t)slots[row] * kv_heads + kh) * head_dim + i;
        k_cache[at] = to_bf16(rotated);
        v_cache[at] = src[(size_t)kv_heads * head_dim + i];
    }
}
