// The mixture's output: out[t] = Σ_slot in[t, slot] over a token's top-k expert outputs (the
// router weights were applied by the down projection's grouped GEMM), summed in f32 and
// rounded once. Grid: (tokens, ceil(hidden / blockDim.x)).
extern "C" __global__ void moe_combine_bf16(const bf16* __restrict__ in, bf16* __restrict__ out, int top_k,
                                            int hidden) {
    const int h = blockIdx.y * blockDim.x + threadIdx.x;
    if (h >= hidden) return;
    const size_t t = blockIdx.x;
    float sum = 0.0f;
    for (int s = 0; s < top_k; ++s) sum += to_f32(in[(t * top_k + s) * hidden + h]);
    out[t * hidden + h] = to_bf16(sum);
}
