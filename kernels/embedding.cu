// Embedding gather: out[row] = table[ids[row]], one block per row.
// An id outside the vocabulary gives a row of zeros (the host rejects such ids first).
extern "C" __global__ void embed_gather_bf16(const bf16* __restrict__ table, const unsigned* __restrict__ ids,
                                             bf16* __restrict__ out, int hidden, unsigned vocab) {
    const unsigned id = ids[blockIdx.x];
    bf16* dst = out + (size_t)blockIdx.x * hidden;
    if (id >= vocab) {
        for (int i = threadIdx.x; i < hidden; i += blockDim.x) dst[i] = to_bf16(0.0f);
        return;
    }
    const bf16* src = table + (size_t)id * hidden;
    if ((hidden & 7) == 0) {
        // 16-byte copies: eight bf16 at a time (rows are 16-byte aligned when hidden % 8 == 0).
        const uint4* s = reinterpret_cast<const uint4*>(src);
        uint4* d = reinterpret_cast<uint4*>(dst);
        for (int i = threadIdx.x; i < hidden / 8; i += blockDim.x) d[i] = s[i];
    } else {
        for (int i = threadIdx.x; i < hidden; i += blockDim.x) dst[i] = src[i];
    }
}
