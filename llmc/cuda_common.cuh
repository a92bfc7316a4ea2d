/*
 cuda_common.cuh: what every CUDA file of the trainer shares: error checks that name
 the file and line, the precision switch, conversions, and warp/block reductions.

 Precision (one switch for the whole build):
   default          floatX = bf16 for parameters used in forward/backward, activations
                    and gradients; fp32 master weights and fp32 AdamW moments (the
                    optimizer kernel writes both the fp32 master and its bf16 copy);
                    all reductions and matmul accumulations in fp32.
   -DENABLE_FP32    floatX = float everywhere: the build the tests compare against the
                    CPU reference at tight tolerances.

 CUDA errors are fatal: a failed launch or allocation leaves the device in a state no
 caller can repair, so cudaCheck/cublasCheck print the call's file:line and exit, as
 die() does on the host. Programs catch nothing here.
*/
#ifndef LLMC_CUDA_COMMON_CUH
#define LLMC_CUDA_COMMON_CUH

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <cublas_v2.h>
#include <cublasLt.h>

// the C99 headers of llmc/ (dggr.h, ...) say restrict, which C++ spells __restrict__;
// every .cu file includes this header first
#ifndef restrict
#define restrict __restrict__
#endif

#ifdef ENABLE_FP32
typedef float floatX;
#define FLOATX_NAME "fp32"
#define CUDA_R_FLOATX CUDA_R_32F
#else
typedef __nv_bfloat16 floatX;
#define FLOATX_NAME "bf16"
#define CUDA_R_FLOATX CUDA_R_16BF
#endif

#define CEIL_DIV(a, b) (((a) + (b) - 1) / (b))

// ----------------------------------------------------------------------------
// error checks

static inline void cuda_check_at(cudaError_t err, const char* file, int line) {
    if (err != cudaSuccess) {
        fprintf(stderr, "error: CUDA: %s (%s) [%s:%d]\n", cudaGetErrorString(err), cudaGetErrorName(err), file, line);
        exit(EXIT_FAILURE);
    }
}
#define cudaCheck(call) cuda_check_at((call), __FILE__, __LINE__)
// after a kernel launch: catches bad launch configurations at once
#define cudaCheckLaunch() cuda_check_at(cudaGetLastError(), __FILE__, __LINE__)

static inline void cublas_check_at(cublasStatus_t st, const char* file, int line) {
    if (st != CUBLAS_STATUS_SUCCESS) {
        fprintf(stderr, "error: cuBLAS: %s (status %d) [%s:%d]\n", cublasGetStatusString(st), (int)st, file, line);
        exit(EXIT_FAILURE);
    }
}
#define cublasCheck(call) cublas_check_at((call), __FILE__, __LINE__)

// device allocation that names what it was for when it fails
static inline void* cuda_malloc_at(size_t bytes, const char* what, const char* file, int line) {
    void* p = NULL;
    cudaError_t err = cudaMalloc(&p, bytes ? bytes : 1);
    if (err != cudaSuccess) {
        size_t free_b = 0, total_b = 0;
        cudaMemGetInfo(&free_b, &total_b);
        fprintf(stderr, "error: CUDA: cannot allocate %.1f MiB for %s (%s; %.1f of %.1f MiB free) [%s:%d]\n",
                bytes / 1048576.0, what, cudaGetErrorString(err), free_b / 1048576.0, total_b / 1048576.0, file, line);
        exit(EXIT_FAILURE);
    }
    return p;
}
#define cuda_malloc(bytes, what) cuda_malloc_at((bytes), (what), __FILE__, __LINE__)

// ----------------------------------------------------------------------------
// conversions: every kernel loads floatX, computes in float, stores floatX

__device__ __forceinline__ float to_float(float x) { return x; }
__device__ __forceinline__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ __forceinline__ void store_float(float* p, float x) { *p = x; }
// round to nearest even: deterministic, unlike stochastic rounding
__device__ __forceinline__ void store_float(__nv_bfloat16* p, float x) { *p = __float2bfloat16_rn(x); }

// host-side bf16 <-> fp32 (round to nearest even; NaN kept NaN)
static inline uint16_t host_float_to_bf16(float f) {
    uint32_t bits;
    memcpy(&bits, &f, 4);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((bits >> 16) | 0x40);
    bits += 0x7fffu + ((bits >> 16) & 1u);
    return (uint16_t)(bits >> 16);
}
static inline float host_bf16_to_float(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

// ----------------------------------------------------------------------------
// reductions (blockDim.x a multiple of 32, at most 1024)

__device__ __forceinline__ float warp_sum(float v) {
    for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
    return v;
}
__device__ __forceinline__ float warp_max(float v) {
    for (int off = 16; off > 0; off >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, off));
    return v;
}

// sum over the block, returned to every thread; the order of additions is fixed by
// the launch shape, so results are deterministic run to run. `scratch` holds 32 floats.
__device__ __forceinline__ float block_sum(float v, float* scratch) {
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nwarps = blockDim.x / 32;
    v = warp_sum(v);
    __syncthreads(); // scratch may still be read by a previous call
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < nwarps ? scratch[lane] : 0.0f;
    return warp_sum(v);
}
__device__ __forceinline__ float block_max(float v, float* scratch) {
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nwarps = blockDim.x / 32;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    v = lane < nwarps ? scratch[lane] : -INFINITY;
    return warp_max(v);
}

// ----------------------------------------------------------------------------
// conversions between the fp32 master copy and floatX arrays

__global__ void copy_float_to_floatx_kernel(floatX* dst, const float* src, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) store_float(&dst[i], src[i]);
}
__global__ void copy_floatx_to_float_kernel(float* dst, const floatX* src, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) dst[i] = to_float(src[i]);
}

// ----------------------------------------------------------------------------
// the handles every layer needs, created once and passed explicitly (no globals)

typedef struct {
    cudaStream_t stream;
    cublasHandle_t blas;
    cublasLtHandle_t blaslt;
    void* lt_workspace;        // cuBLASLt workspace
    size_t lt_workspace_bytes;
    int num_sms;
    int use_lt_epilogue;       // 1: matmul forward adds the bias in cuBLASLt's epilogue
    // matmul.cuh's forward paths, counted: cuBLASLt, cublasGemmEx, and how many of the
    // latter ran because cuBLASLt found no algorithm (matmul_paths_print)
    unsigned long long matmul_lt, matmul_plain, matmul_lt_refused;
} CudaContext;

static inline void cuda_context_init(CudaContext* ctx, int device) {
    memset(ctx, 0, sizeof(*ctx));
    cudaCheck(cudaSetDevice(device));
    cudaDeviceProp prop;
    cudaCheck(cudaGetDeviceProperties(&prop, device));
    ctx->num_sms = prop.multiProcessorCount;
    cudaCheck(cudaStreamCreate(&ctx->stream));
    cublasCheck(cublasCreate(&ctx->blas));
    cublasCheck(cublasSetStream(ctx->blas, ctx->stream));
    // fp32 builds compare against the CPU: no TF32 there; bf16 inputs accumulate in fp32 anyway
    cublasCheck(cublasSetMathMode(ctx->blas, CUBLAS_DEFAULT_MATH));
    cublasCheck(cublasLtCreate(&ctx->blaslt));
    ctx->lt_workspace_bytes = 32u << 20; // 32 MiB, what cuBLAS recommends for Hopper
    ctx->lt_workspace = cuda_malloc(ctx->lt_workspace_bytes, "the cuBLASLt workspace");
    cublasCheck(cublasSetWorkspace(ctx->blas, ctx->lt_workspace, ctx->lt_workspace_bytes));
    ctx->use_lt_epilogue = 1;
}

static inline void cuda_context_free(CudaContext* ctx) {
    cudaCheck(cudaStreamSynchronize(ctx->stream));
    cublasCheck(cublasLtDestroy(ctx->blaslt));
    cublasCheck(cublasDestroy(ctx->blas));
    cudaCheck(cudaFree(ctx->lt_workspace));
    cudaCheck(cudaStreamDestroy(ctx->stream));
    memset(ctx, 0, sizeof(*ctx));
}

// number of CUDA devices, 0 when there is no usable one (no driver, no GPU)
static inline int cuda_device_count(void) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) { cudaGetLastError(); return 0; }
    return n;
}

#endif // LLMC_CUDA_COMMON_CUH
