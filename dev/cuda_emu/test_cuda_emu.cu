/*
 test_cuda_emu.cu: the CPU emulation (cuda_emu.h) catches what doc/cuda.md says it catches.
 Built only through the emulator (make build/emu/test_cuda_emu); case 68 runs each scenario:
   test_cuda_emu ok          block and warp reductions give the exact sums; memory nothing
                             wrote reads as NaN; out-of-range copies and GEMMs are refused
   test_cuda_emu SCENARIO    a bug the emulator must stop with exit status 3 (divergence):
     sync_divergent   half the block at a __syncthreads the other half never reaches
     sync_exited      a thread returns before a __syncthreads the others wait at
     shfl_exited      a lane returns before a full-mask __shfl_xor_sync
     shfl_different   the lanes of a warp at two different shuffles
   test_cuda_emu race        prints the result of a kernel missing a __syncthreads: NaN in
                             forward order (the read comes first), a number in reverse order
*/
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "llmc/cuda_common.cuh"

__global__ void block_sum_kernel(float* out, const float* in) {
    __shared__ float scratch[32];
    float v = in[blockIdx.x * blockDim.x + threadIdx.x];
    float s = block_sum(v, scratch);
    if (threadIdx.x == 0) out[blockIdx.x] = s;
}

__global__ void read_kernel(float* out, const float* in, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = in[i] + 1.0f;
}

__global__ void sync_divergent_kernel(float* out) {
    if (threadIdx.x < 16) __syncthreads();
    out[threadIdx.x] = 1.0f;
}

__global__ void sync_exited_kernel(float* out) {
    if (threadIdx.x == 3) return;
    __syncthreads();
    out[threadIdx.x] = 1.0f;
}

__global__ void shfl_exited_kernel(float* out) {
    if (threadIdx.x == 5) return;
    out[threadIdx.x] = warp_sum(1.0f);
}

__global__ void shfl_different_kernel(float* out) {
    float v = 1.0f;
    if (threadIdx.x % 2 == 0) v = __shfl_xor_sync(0xffffffffu, v, 1);
    else v = __shfl_xor_sync(0xffffffffu, v, 1) + 1.0f;
    out[threadIdx.x] = v;
}

// thread i writes s[i] and reads s[i + 1] with no barrier between: a race
__global__ void race_kernel(float* out) {
    __shared__ float s[64];
    s[threadIdx.x] = (float)threadIdx.x;
    out[threadIdx.x] = s[(threadIdx.x + 1) % 64];
}

static int failures = 0;
static void check(int ok, const char* what) {
    printf("  %-4s %s\n", ok ? "ok" : "FAIL", what);
    if (!ok) failures++;
}

int main(int argc, char** argv) {
    const char* sc = argc > 1 ? argv[1] : "ok";
    float* d = NULL;
    float* e = NULL;
    cudaCheck(cudaMalloc((void**)&d, 4096 * sizeof(float)));
    cudaCheck(cudaMalloc((void**)&e, 4096 * sizeof(float)));
    float h[4096];
    if (strcmp(sc, "ok") == 0) {
        for (int i = 0; i < 4096; i++) h[i] = (float)(i % 7);
        cudaCheck(cudaMemcpy(d, h, sizeof(h), cudaMemcpyHostToDevice));
        block_sum_kernel<<<4, 1024>>>(e, d);
        cudaCheckLaunch();
        float sums[4];
        cudaCheck(cudaMemcpy(sums, e, sizeof(sums), cudaMemcpyDeviceToHost));
        int exact = 1;
        for (int b = 0; b < 4; b++) {
            double want = 0.0;
            for (int i = 0; i < 1024; i++) want += (double)h[b * 1024 + i];
            exact &= sums[b] == (float)want;
        }
        check(exact, "block_sum over 4 blocks of 1024 threads: exact sums");
        // the first 100 floats of a fresh allocation were never written: NaN
        float* fresh = NULL;
        cudaCheck(cudaMalloc((void**)&fresh, 100 * sizeof(float)));
        read_kernel<<<1, 128>>>(e, fresh, 100);
        cudaCheckLaunch();
        cudaCheck(cudaMemcpy(h, e, 100 * sizeof(float), cudaMemcpyDeviceToHost));
        int nans = 0;
        for (int i = 0; i < 100; i++) nans += isnan(h[i]) ? 1 : 0;
        check(nans == 100, "reads of memory nothing wrote are NaN");
        check(cudaMemcpy(h, fresh, 101 * sizeof(float), cudaMemcpyDeviceToHost) == cudaErrorInvalidValue,
              "a copy past the end of an allocation is refused");
        cudaGetLastError();
        block_sum_kernel<<<1, 2048>>>(e, d);
        check(cudaGetLastError() == cudaErrorInvalidConfiguration, "a launch of 2048 threads per block is refused");
        cublasHandle_t blas;
        cublasCheck(cublasCreate(&blas));
        const float one = 1.0f, zero = 0.0f;
        // 64 x 64 times 64 x 64 into the 100-float allocation: C leaves it
        check(cublasGemmEx(blas, CUBLAS_OP_N, CUBLAS_OP_N, 64, 64, 64, &one, d, CUDA_R_32F, 64, d, CUDA_R_32F, 64, &zero,
                           fresh, CUDA_R_32F, 64, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT) == CUBLAS_STATUS_INVALID_VALUE,
              "a GEMM whose output leaves its allocation is refused");
        cublasCheck(cublasDestroy(blas));
        cudaCheck(cudaFree(fresh));
    } else if (strcmp(sc, "sync_divergent") == 0) {
        sync_divergent_kernel<<<1, 64>>>(e);
    } else if (strcmp(sc, "sync_exited") == 0) {
        sync_exited_kernel<<<1, 64>>>(e);
    } else if (strcmp(sc, "shfl_exited") == 0) {
        shfl_exited_kernel<<<1, 32>>>(e);
    } else if (strcmp(sc, "shfl_different") == 0) {
        shfl_different_kernel<<<1, 32>>>(e);
    } else if (strcmp(sc, "race") == 0) {
        race_kernel<<<1, 64>>>(e);
        cudaCheck(cudaMemcpy(h, e, 64 * sizeof(float), cudaMemcpyDeviceToHost));
        printf("race: out[0] = %g\n", (double)h[0]);
    } else {
        fprintf(stderr, "unknown scenario %s\n", sc);
        return 2;
    }
    cudaCheck(cudaFree(d));
    cudaCheck(cudaFree(e));
    if (failures) { printf("test_cuda_emu: %d checks FAILED\n", failures); return 1; }
    printf("test_cuda_emu %s: done\n", sc);
    return 0;
}
