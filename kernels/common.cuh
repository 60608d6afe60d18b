// Shared by every kernel: the host puts this file in front of each kernel's source before
// NVRTC compiles it (see host/clinalign-infer/src/cuda/kernels.rs), so each .cu file can use
// these helpers without an #include of its own.
//
// Conventions of the whole kernel set:
// - activations and weights are bf16 in memory, all arithmetic is f32;
// - a value is rounded to bf16 where Hugging Face transformers rounds it in a bf16 model
//   (after each op of the model dtype), so the GPU matches the reference, not only itself;
// - every kernel is `extern "C"` (unmangled names the host loads by name);
// - no CUB, no libcu++: the headers NVRTC ships with do not have them.
#include <cuda_bf16.h>

typedef __nv_bfloat16 bf16;

#define FULL_MASK 0xffffffffu
// No <math.h> under NVRTC: infinity from its bits.
#ifndef INFINITY
#define INFINITY __int_as_float(0x7f800000)
#endif

__device__ __forceinline__ float to_f32(bf16 v) { return __bfloat162float(v); }
__device__ __forceinline__ float to_f32(float v) { return v; }
__device__ __forceinline__ bf16 to_bf16(float v) { return __float2bfloat16(v); }
// `v` rounded to bf16 and back: where the reference rounds an intermediate.
__device__ __forceinline__ float round_bf16(float v) { return __bfloat162float(__float2bfloat16(v)); }

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(FULL_MASK, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(FULL_MASK, v, o));
    return v;
}

// The sum of `v` over the block (any size up to 1024 threads), broadcast to every thread.
// `scratch` holds 32 floats of shared memory; every thread of the block must call this.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    const int warps = (blockDim.x + 31) >> 5;
    v = warp_sum(v);
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    if (warp == 0) {
        float t = lane < warps ? scratch[lane] : 0.0f;
        t = warp_sum(t);
        if (lane == 0) scratch[0] = t;
    }
    __syncthreads();
    const float total = scratch[0];
    __syncthreads();
    return total;
}

// Online log-sum-exp state: running maximum `m` and the sum `s` of exp(x - m).
struct LseState {
    float m;
    float s;
};

__device__ __forceinline__ LseState lse_push(LseState a, float x) {
    if (x == -INFINITY) return a;
    if (x > a.m) {
        a.s = a.s * __expf(a.m - x) + 1.0f;
        a.m = x;
    } else {
        a.s += __expf(x - a.m);
    }
    return a;
}

__device__ __forceinline__ LseState lse_merge(LseState a, LseState b) {
    if (b.m == -INFINITY) return a;
    if (a.m == -INFINITY) return b;
    const float m = fmaxf(a.m, b.m);
    LseState r;
    r.m = m;
    r.s = a.s * __expf(a.m - m) + b.s * __expf(b.m - m);
    return r;
}
