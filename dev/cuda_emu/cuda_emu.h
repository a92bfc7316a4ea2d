/*
 cuda_emu.h: the CUDA runtime, cuBLAS and cuBLASLt as this project's CUDA code uses them,
 emulated on the CPU, so that test_gpt2.cu's logic runs under g++ without a GPU (doc/cuda.md).
 The sources are first passed through dev/cuda_emu/translate.py, which turns each launch
 `k<<<grid, block, shmem, stream>>>(args)` into emu_launch(...) with a lambda calling k(args),
 and each `__shared__ T x[..];` into a static array that is refilled with 0xFF per block.

 Execution model (cuda_emu.cpp):
   - a launch runs its blocks one after another (in reverse order with CUDA_EMU_REVERSE=1),
     so a kernel's __shared__ arrays can be function statics;
   - each thread of a block is a fiber with its own stack (a hand-written x86-64 context
     switch); a thread runs until it finishes or reaches __syncthreads or a warp shuffle;
     the scheduler then resumes the next thread (threads in reverse order with the same flag);
   - __syncthreads releases when every thread of the block waits at the same call site;
     __shfl_xor_sync when every lane of its mask waits at the same site (source line). A thread that
     exits while others wait, different call sites, or a deadlock: the emulator prints
     the kernel, the block and the threads, and exits with status 3 (divergence);
   - cudaMalloc memory starts as 0xFF bytes: fp32 and bf16 reads of unwritten memory are
     NaN, int reads are -1; cudaMemcpy/cudaMemset check that device ranges lie inside one
     allocation;
   - everything is synchronous: streams and events are accepted and ignored;
   - cuBLAS/cuBLASLt GEMMs are reference column-major loops: floatX inputs widened to
     fp32, fp32 accumulation, one rounding to the output type (bf16 round-to-nearest-even);
     beta == 0 does not read C. cuBLASLt's algorithm assumes the pointer alignment the
     preference allows (256 bytes unless CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_*_BYTES say
     less): a matmul on less aligned pointers fails with CUBLAS_STATUS_NOT_SUPPORTED, as
     the library's documentation allows.
 It checks logic, indexing and synchronisation; it says nothing about speed, and nothing
 about the GPU's memory model (no concurrent warps: a missing __syncthreads between a write
 and another thread's read of shared memory is only caught when the order of threads
 matters, hence the reverse order).
*/
#ifndef CUDA_EMU_H
#define CUDA_EMU_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <type_traits>

// ----------------------------------------------------------------------------
// language

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __launch_bounds__(...)
static const int warpSize = 32;

struct uint3 { unsigned x, y, z; };
struct dim3 {
    unsigned x, y, z;
    dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

// a call site: the source line (the optimizer may duplicate one barrier in machine code)
struct EmuSite { const char* file; int line; };

// the running thread (set by the scheduler before it resumes a fiber)
struct EmuThread {
    uint3 tid;
    int lane, warp, state;
    void* sp;
    char* stack;
    struct EmuSite site;
    unsigned mask;
    int shfl_arg;
    uint64_t shfl_val, shfl_out;
};
extern EmuThread* emu_thread;
extern uint3 emu_block_idx;
extern dim3 emu_block_dim, emu_grid_dim;
#define threadIdx (emu_thread->tid)
#define blockIdx emu_block_idx
#define blockDim emu_block_dim
#define gridDim emu_grid_dim

void emu_syncthreads_at(EmuSite site);
uint64_t emu_shfl_xor_at(unsigned mask, uint64_t bits, int lane_mask, EmuSite site);
#define __syncthreads() emu_syncthreads_at(EmuSite{__FILE__, __LINE__})
template <class T> static inline T emu_shfl_xor_sync(EmuSite site, unsigned mask, T v, int lane_mask, int width = 32) {
    static_assert(sizeof(T) <= 8 && std::is_trivially_copyable<T>::value, "shuffle of a type wider than 8 bytes");
    uint64_t bits = 0;
    memcpy(&bits, &v, sizeof(T));
    bits = emu_shfl_xor_at(mask, bits, width == 32 ? lane_mask : -1, site);
    memcpy(&v, &bits, sizeof(T));
    return v;
}
#define __shfl_xor_sync(...) emu_shfl_xor_sync(EmuSite{__FILE__, __LINE__}, __VA_ARGS__)
// a __shared__ array: refilled with 0xFF by the first thread of each block that declares it
void emu_shared_poison(void* p, size_t bytes);

static inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }

// ----------------------------------------------------------------------------
// bf16

struct __nv_bfloat16 { uint16_t bits; };
static inline __nv_bfloat16 __float2bfloat16_rn(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    __nv_bfloat16 h;
    if ((u & 0x7fffffffu) > 0x7f800000u) { h.bits = (uint16_t)((u >> 16) | 0x40); return h; }
    u += 0x7fffu + ((u >> 16) & 1u);
    h.bits = (uint16_t)(u >> 16);
    return h;
}
static inline float __bfloat162float(__nv_bfloat16 h) {
    uint32_t u = (uint32_t)h.bits << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

// ----------------------------------------------------------------------------
// runtime

typedef enum {
    cudaSuccess = 0, cudaErrorInvalidValue = 1, cudaErrorMemoryAllocation = 2, cudaErrorInvalidConfiguration = 9,
    cudaErrorInvalidDevicePointer = 17, cudaErrorNoDevice = 100, cudaErrorInvalidDevice = 101
} cudaError_t;
typedef enum {
    cudaMemcpyHostToHost = 0, cudaMemcpyHostToDevice = 1, cudaMemcpyDeviceToHost = 2, cudaMemcpyDeviceToDevice = 3,
    cudaMemcpyDefault = 4
} cudaMemcpyKind;
typedef struct EmuStream* cudaStream_t;
typedef struct EmuEvent* cudaEvent_t;
typedef struct {
    char name[256];
    size_t totalGlobalMem;
    int major, minor, multiProcessorCount, maxThreadsPerBlock;
    int warpSize;
    size_t sharedMemPerBlock;
} cudaDeviceProp;

cudaError_t cudaGetDeviceCount(int* n);
cudaError_t cudaSetDevice(int device);
cudaError_t cudaGetDevice(int* device);
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device);
cudaError_t cudaDriverGetVersion(int* v);
cudaError_t cudaRuntimeGetVersion(int* v);
cudaError_t cudaGetLastError(void);
const char* cudaGetErrorString(cudaError_t e);
const char* cudaGetErrorName(cudaError_t e);
cudaError_t cudaMalloc(void** p, size_t bytes);
template <class T> static inline cudaError_t cudaMalloc(T** p, size_t bytes) { return cudaMalloc((void**)p, bytes); }
cudaError_t cudaFree(void* p);
cudaError_t cudaMallocHost(void** p, size_t bytes);
cudaError_t cudaFreeHost(void* p);
cudaError_t cudaMemGetInfo(size_t* free_b, size_t* total_b);
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind);
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t s = 0);
cudaError_t cudaMemset(void* p, int value, size_t bytes);
cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t s = 0);
cudaError_t cudaStreamCreate(cudaStream_t* s);
cudaError_t cudaStreamDestroy(cudaStream_t s);
cudaError_t cudaStreamSynchronize(cudaStream_t s);
cudaError_t cudaDeviceSynchronize(void);
cudaError_t cudaEventCreate(cudaEvent_t* e);
cudaError_t cudaEventDestroy(cudaEvent_t e);
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s = 0);
cudaError_t cudaEventSynchronize(cudaEvent_t e);
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t a, cudaEvent_t b);
cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned flags = 0);

// the emulator's own: is [p, p + bytes) inside one device allocation? (0 yes, else -1)
int emu_device_range(const void* p, size_t bytes);

// a translated launch (translate.py): runs fn() once per thread of the grid
void emu_launch_impl(const char* kernel, dim3 grid, dim3 block, size_t shmem, void (*invoke)(void*), void* fn);
template <class F>
static inline void emu_launch(const char* kernel, dim3 grid, dim3 block, size_t shmem, cudaStream_t stream, F&& fn) {
    (void)stream;
    typedef typename std::remove_reference<F>::type Fn;
    emu_launch_impl(kernel, grid, block, shmem, [](void* p) { (*static_cast<Fn*>(p))(); }, (void*)&fn);
}
template <class F> static inline void emu_launch(const char* kernel, dim3 grid, dim3 block, size_t shmem, F&& fn) {
    emu_launch(kernel, grid, block, shmem, (cudaStream_t)0, fn);
}
template <class F> static inline void emu_launch(const char* kernel, dim3 grid, dim3 block, F&& fn) {
    emu_launch(kernel, grid, block, 0, (cudaStream_t)0, fn);
}

// ----------------------------------------------------------------------------
// cuBLAS and cuBLASLt

typedef enum { CUDA_R_32F = 0, CUDA_R_16F = 2, CUDA_R_16BF = 14 } cudaDataType_t;
typedef cudaDataType_t cudaDataType;
typedef enum {
    CUBLAS_STATUS_SUCCESS = 0, CUBLAS_STATUS_NOT_INITIALIZED = 1, CUBLAS_STATUS_ALLOC_FAILED = 3,
    CUBLAS_STATUS_INVALID_VALUE = 7, CUBLAS_STATUS_ARCH_MISMATCH = 8, CUBLAS_STATUS_MAPPING_ERROR = 11,
    CUBLAS_STATUS_EXECUTION_FAILED = 13, CUBLAS_STATUS_INTERNAL_ERROR = 14, CUBLAS_STATUS_NOT_SUPPORTED = 15
} cublasStatus_t;
typedef enum { CUBLAS_OP_N = 0, CUBLAS_OP_T = 1, CUBLAS_OP_C = 2 } cublasOperation_t;
typedef enum { CUBLAS_COMPUTE_32F = 68, CUBLAS_COMPUTE_32F_FAST_TF32 = 77 } cublasComputeType_t;
typedef enum { CUBLAS_GEMM_DEFAULT = -1 } cublasGemmAlgo_t;
typedef enum { CUBLAS_DEFAULT_MATH = 0, CUBLAS_TF32_TENSOR_OP_MATH = 3 } cublasMath_t;
typedef struct EmuBlas* cublasHandle_t;
typedef struct EmuBlas* cublasLtHandle_t;

cublasStatus_t cublasCreate(cublasHandle_t* h);
cublasStatus_t cublasDestroy(cublasHandle_t h);
cublasStatus_t cublasSetStream(cublasHandle_t h, cudaStream_t s);
cublasStatus_t cublasSetMathMode(cublasHandle_t h, cublasMath_t mode);
cublasStatus_t cublasSetWorkspace(cublasHandle_t h, void* ws, size_t bytes);
cublasStatus_t cublasGetVersion(cublasHandle_t h, int* v);
const char* cublasGetStatusString(cublasStatus_t st);
cublasStatus_t cublasGemmEx(cublasHandle_t h, cublasOperation_t opa, cublasOperation_t opb, int m, int n, int k,
                            const void* alpha, const void* A, cudaDataType_t ta, int lda, const void* B,
                            cudaDataType_t tb, int ldb, const void* beta, void* C, cudaDataType_t tc, int ldc,
                            cublasComputeType_t compute, cublasGemmAlgo_t algo);
cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t h, cublasOperation_t opa, cublasOperation_t opb, int m, int n,
                                          int k, const void* alpha, const void* A, cudaDataType_t ta, int lda,
                                          long long sa, const void* B, cudaDataType_t tb, int ldb, long long sb,
                                          const void* beta, void* C, cudaDataType_t tc, int ldc, long long sc,
                                          int batch, cublasComputeType_t compute, cublasGemmAlgo_t algo);

typedef enum {
    CUBLASLT_MATMUL_DESC_TRANSA = 3, CUBLASLT_MATMUL_DESC_TRANSB = 4, CUBLASLT_MATMUL_DESC_EPILOGUE = 7,
    CUBLASLT_MATMUL_DESC_BIAS_POINTER = 8, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE = 26
} cublasLtMatmulDescAttributes_t;
typedef enum {
    CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES = 1, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES = 5,
    CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES = 6, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES = 7,
    CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES = 8
} cublasLtMatmulPreferenceAttributes_t;
typedef enum { CUBLASLT_EPILOGUE_DEFAULT = 1, CUBLASLT_EPILOGUE_BIAS = 4 } cublasLtEpilogue_t;
typedef struct EmuLtDesc* cublasLtMatmulDesc_t;
typedef struct EmuLtLayout* cublasLtMatrixLayout_t;
typedef struct EmuLtPref* cublasLtMatmulPreference_t;
typedef struct { uint64_t data[8]; } cublasLtMatmulAlgo_t;
typedef struct {
    cublasLtMatmulAlgo_t algo;
    size_t workspaceSize;
    cublasStatus_t state;
    float wavesCount;
    int reserved[4];
} cublasLtMatmulHeuristicResult_t;

cublasStatus_t cublasLtCreate(cublasLtHandle_t* h);
cublasStatus_t cublasLtDestroy(cublasLtHandle_t h);
cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t* d, cublasComputeType_t compute, cudaDataType_t scale);
cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t d);
cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t a, const void* v,
                                              size_t bytes);
cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t* l, cudaDataType_t type, uint64_t rows, uint64_t cols,
                                          int64_t ld);
cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t l);
cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t* p);
cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t p);
cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t p, cublasLtMatmulPreferenceAttributes_t a,
                                                    const void* v, size_t bytes);
cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t h, cublasLtMatmulDesc_t d, cublasLtMatrixLayout_t a,
                                              cublasLtMatrixLayout_t b, cublasLtMatrixLayout_t c,
                                              cublasLtMatrixLayout_t dl, cublasLtMatmulPreference_t p, int requested,
                                              cublasLtMatmulHeuristicResult_t* results, int* found);
cublasStatus_t cublasLtMatmul(cublasLtHandle_t h, cublasLtMatmulDesc_t d, const void* alpha, const void* A,
                              cublasLtMatrixLayout_t la, const void* B, cublasLtMatrixLayout_t lb, const void* beta,
                              const void* C, cublasLtMatrixLayout_t lc, void* D, cublasLtMatrixLayout_t ld,
                              const cublasLtMatmulAlgo_t* algo, void* ws, size_t ws_bytes, cudaStream_t s);

#endif // CUDA_EMU_H
