/*
 column_reduce.cuh: deterministic sums over the rows of an (N, C) matrix, the shape of
 every bias and LayerNorm-parameter gradient:
   dbias[c]   += sum_n dout[n,c]
   dweight[c] += sum_n dout[n,c] * xhat[n,c]     (LayerNorm: xhat = (x - mean[n]) * rstd[n])
 Two passes, no atomics: pass 1 gives each of R row-slices of the matrix a block per
 32 columns and writes per-slice partial sums (fp32) to scratch; pass 2 adds the R
 partials of each column in slice order and adds the total to the gradient. The
 result is identical from run to run and independent of scheduling.
*/
#ifndef LLMC_COLUMN_REDUCE_CUH
#define LLMC_COLUMN_REDUCE_CUH

#include "cuda_common.cuh"

#define COLREDUCE_COLS 32  // columns per block (one warp wide)
#define COLREDUCE_ROWS 8   // rows in flight per block (blockDim.y)
#define COLREDUCE_SLICES 32 // R: row slices, so the grid has C/32 * 32 blocks

// scratch floats that column_reduce needs for C columns
static inline size_t column_reduce_scratch_floats(int C) { return (size_t)2 * COLREDUCE_SLICES * C; }

// pass 1: grid (ceil(C/32), R), block (32, 8). Thread (tx, ty) of slice s adds rows
// n = s*8 + ty + k*(R*8), k = 0, 1, ... of column c; a warp reads 32 adjacent columns.
__global__ void column_reduce_partial_kernel(float* partial_b /* (R, C) */, float* partial_w /* (R, C) or NULL */,
                                             const floatX* dout /* (N, C) */, const floatX* inp /* (N, C) or NULL */,
                                             const float* mean, const float* rstd, int N, int C) {
    __shared__ float sb[COLREDUCE_ROWS][COLREDUCE_COLS];
    __shared__ float sw[COLREDUCE_ROWS][COLREDUCE_COLS];
    int c = blockIdx.x * COLREDUCE_COLS + threadIdx.x;
    int s = blockIdx.y, R = gridDim.y;
    float accb = 0.0f, accw = 0.0f;
    if (c < C) {
        for (int n = s * COLREDUCE_ROWS + threadIdx.y; n < N; n += R * COLREDUCE_ROWS) {
            float d = to_float(dout[(size_t)n * C + c]);
            accb += d;
            if (inp != NULL) accw += d * ((to_float(inp[(size_t)n * C + c]) - mean[n]) * rstd[n]);
        }
    }
    sb[threadIdx.y][threadIdx.x] = accb;
    sw[threadIdx.y][threadIdx.x] = accw;
    __syncthreads();
    if (threadIdx.y == 0 && c < C) {
        float tb = 0.0f, tw = 0.0f;
        for (int y = 0; y < COLREDUCE_ROWS; y++) { tb += sb[y][threadIdx.x]; tw += sw[y][threadIdx.x]; }
        partial_b[(size_t)s * C + c] = tb;
        if (partial_w != NULL) partial_w[(size_t)s * C + c] = tw;
    }
}

// pass 2: one thread per column adds the R partials in slice order
__global__ void column_reduce_final_kernel(float* dbias, float* dweight, const float* partial_b, const float* partial_w,
                                           int C, int R) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    float tb = 0.0f, tw = 0.0f;
    for (int s = 0; s < R; s++) {
        tb += partial_b[(size_t)s * C + c];
        if (dweight != NULL) tw += partial_w[(size_t)s * C + c];
    }
    if (dbias != NULL) dbias[c] += tb;
    if (dweight != NULL) dweight[c] += tw;
}

// dbias += column sums of dout; if dweight != NULL also dweight += column sums of
// dout * xhat with xhat from inp, mean, rstd. scratch: column_reduce_scratch_floats(C).
static inline void column_reduce(CudaContext* ctx, float* dbias, float* dweight, const floatX* dout, const floatX* inp,
                                 const float* mean, const float* rstd, int N, int C, float* scratch) {
    float* partial_b = scratch;
    float* partial_w = dweight != NULL ? scratch + (size_t)COLREDUCE_SLICES * C : NULL;
    dim3 grid((unsigned)CEIL_DIV(C, COLREDUCE_COLS), COLREDUCE_SLICES);
    dim3 block(COLREDUCE_COLS, COLREDUCE_ROWS);
    column_reduce_partial_kernel<<<grid, block, 0, ctx->stream>>>(partial_b, partial_w, dout,
                                                                   dweight != NULL ? inp : NULL, mean, rstd, N, C);
    cudaCheckLaunch();
    column_reduce_final_kernel<<<(unsigned)CEIL_DIV(C, 256), 256, 0, ctx->stream>>>(dbias, dweight, partial_b, partial_w,
                                                                                    C, COLREDUCE_SLICES);
    cudaCheckLaunch();
}

#endif // LLMC_COLUMN_REDUCE_CUH
