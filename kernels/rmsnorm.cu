// Fused residual add + RMSNorm, one block per row (Hugging Face's Qwen3/Llama numerics):
//   residual += delta            (rounded to bf16: the model adds in its dtype)
//   out = bf16(residual * rsqrt(mean(residual²) + eps)) * weight   (the product rounded too)
// `delta` may be null: then the residual is only normed (the first layer's input norm).
extern "C" __global__ void add_rmsnorm_bf16(bf16* __restrict__ residual, const bf16* __restrict__ delta,
                                            const bf16* __restrict__ weight, bf16* __restrict__ out, int hidden,
                                            float eps) {
    __shared__ float scratch[32];
    const size_t base = (size_t)blockIdx.x * hidden;
    float squares = 0.0f;
    for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
        float x = to_f32(residual[base + i]);
        if (delta != nullptr) {
            const bf16 sum = to_bf16(x + to_f32(delta[base + i]));
            residual[base + i] = sum;
            x = to_f32(sum);
        }
        squares += x * x;
    }
    const float inv = rsqrtf(block_sum(squares, scratch) / (float)hidden + eps);
    for (int i = threadIdx.x; i < hidden; i += blockDim.x) {
        const float normed = round_bf16(to_f32(residual[base + i]) * inv);
        out[base + i] = to_bf16(normed * to_f32(weight[i]));
    }
}
