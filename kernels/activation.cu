// SwiGLU's activation: out[row, i] = bf16(silu(gate)) * up, with gate = in[row, i] and
// up = in[row, inter + i] (the fused gate/up projection puts the gate half first).
// Grid: (rows, ceil(inter / blockDim.x)).
extern "C" __global__ void silu_mul_bf16(const bf16* __restrict__ in, bf16* __restrict__ out, int inter) {
    const int i = blockIdx.y * blockDim.x + threadIdx.x;
    if (i >= inter) return;
    const size_t row = blockIdx.x;
    const float gate = to_f32(in[row * 2 * inter + i]);
    const float up = to_f32(in[row * 2 * inter + inter + i]);
    const float silu = round_bf16(gate / (1.0f + __expf(-gate)));
    out[row * inter + i] = to_bf16(silu * up);
}
