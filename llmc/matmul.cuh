/*
 matmul.cuh: the linear layers, out = inp @ weight^T + bias, forward and backward, on cuBLAS.
   inp (N, C), weight (OC, C) as llm.c stores it, bias (OC) or NULL, out (N, OC), row-major.
 cuBLAS is column-major: a row-major (R, K) array is the column-major (K, R) matrix, so
   out^T    = weight^T-as-stored (op T)  x  inp^T                  gemm(T, N, OC, N, C)
   dinp^T   = weight-as-stored           x  dout^T                 gemm(N, N, C, N, OC)
   dweight^T += inp^T                     x  dout                  gemm(N, T, C, OC, N), beta = 1
   dbias    += column sums of dout (column_reduce.cuh: deterministic, no atomics)
 Forward adds the bias in cuBLASLt's epilogue (one pass over out) when the context asks
 for it and the pointers are 16-byte aligned; otherwise cublasGemmEx plus a bias kernel.
 Products of floatX accumulate in fp32 (CUBLAS_COMPUTE_32F); the fp32 build does not use
 TF32, so it matches the CPU reference to fp32 rounding.
*/
#ifndef LLMC_MATMUL_CUH
#define LLMC_MATMUL_CUH

#include <stdint.h>
#include "cuda_common.cuh"
#include "column_reduce.cuh"

// column-major C = alpha op(A) op(B) + beta C, floatX in and out, fp32 accumulation
static inline void gemm_floatx(CudaContext* ctx, cublasOperation_t opa, cublasOperation_t opb, int m, int n, int k,
                               float alpha, const floatX* A, int lda, const floatX* B, int ldb, float beta, floatX* C,
                               int ldc) {
    cublasCheck(cublasGemmEx(ctx->blas, opa, opb, m, n, k, &alpha, A, CUDA_R_FLOATX, lda, B, CUDA_R_FLOATX, ldb, &beta, C,
                             CUDA_R_FLOATX, ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
}

// out[n, oc] += bias[oc]
__global__ void add_bias_kernel(floatX* out, const floatX* bias, size_t N, int OC) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < N * OC) store_float(&out[i], to_float(out[i]) + to_float(bias[i % OC]));
}

static inline int is_aligned16(const void* p) { return ((uintptr_t)p & 15u) == 0; }

// cuBLASLt: out = inp @ weight^T + bias in one call; returns 0 when no algorithm fits
// (the caller then takes the cublasGemmEx path)
static inline int matmul_forward_lt(CudaContext* ctx, floatX* out, const floatX* inp, const floatX* weight,
                                    const floatX* bias, int N, int C, int OC) {
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t la, lb, ld;
    cublasLtMatmulPreference_t pref;
    cublasOperation_t opt = CUBLAS_OP_T, opn = CUBLAS_OP_N;
    cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
    cudaDataType_t bias_type = CUDA_R_FLOATX;
    cublasCheck(cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    cublasCheck(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &opt, sizeof(opt)));
    cublasCheck(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &opn, sizeof(opn)));
    cublasCheck(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof(epi)));
    cublasCheck(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)));
    cublasCheck(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type, sizeof(bias_type)));
    cublasCheck(cublasLtMatrixLayoutCreate(&la, CUDA_R_FLOATX, C, OC, C));  // weight: (C x OC) column-major, op T
    cublasCheck(cublasLtMatrixLayoutCreate(&lb, CUDA_R_FLOATX, C, N, C));   // inp^T
    cublasCheck(cublasLtMatrixLayoutCreate(&ld, CUDA_R_FLOATX, OC, N, OC)); // out^T
    cublasCheck(cublasLtMatmulPreferenceCreate(&pref));
    cublasCheck(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                     &ctx->lt_workspace_bytes, sizeof(ctx->lt_workspace_bytes)));
    cublasLtMatmulHeuristicResult_t heur;
    int found = 0;
    cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(ctx->blaslt, desc, la, lb, ld, ld, pref, 1, &heur, &found);
    if (st == CUBLAS_STATUS_SUCCESS && found > 0) {
        const float alpha = 1.0f, beta = 0.0f;
        cublasCheck(cublasLtMatmul(ctx->blaslt, desc, &alpha, weight, la, inp, lb, &beta, out, ld, out, ld, &heur.algo,
                                   ctx->lt_workspace, ctx->lt_workspace_bytes, ctx->stream));
    }
    cublasCheck(cublasLtMatmulPreferenceDestroy(pref));
    cublasCheck(cublasLtMatrixLayoutDestroy(ld));
    cublasCheck(cublasLtMatrixLayoutDestroy(lb));
    cublasCheck(cublasLtMatrixLayoutDestroy(la));
    cublasCheck(cublasLtMatmulDescDestroy(desc));
    return st == CUBLAS_STATUS_SUCCESS && found > 0;
}

// out (N, OC) = inp (N, C) @ weight (OC, C)^T + bias (OC, or NULL)
static inline void matmul_forward(CudaContext* ctx, floatX* out, const floatX* inp, const floatX* weight,
                                  const floatX* bias, int N, int C, int OC) {
    if (bias != NULL && ctx->use_lt_epilogue && is_aligned16(out) && is_aligned16(inp) && is_aligned16(weight) &&
        is_aligned16(bias) && C % 8 == 0 && OC % 8 == 0 &&
        matmul_forward_lt(ctx, out, inp, weight, bias, N, C, OC))
        return;
    gemm_floatx(ctx, CUBLAS_OP_T, CUBLAS_OP_N, OC, N, C, 1.0f, weight, C, inp, C, 0.0f, out, OC);
    if (bias != NULL) {
        const int block = 256;
        size_t n = (size_t)N * OC;
        add_bias_kernel<<<(unsigned)CEIL_DIV(n, (size_t)block), block, 0, ctx->stream>>>(out, bias, (size_t)N, OC);
        cudaCheckLaunch();
    }
}

// dinp (N, C) = dout @ weight (overwritten); dweight (OC, C) += dout^T @ inp;
// dbias (OC) += column sums of dout (skipped when NULL). scratch: column_reduce_scratch_floats(OC).
static inline void matmul_backward(CudaContext* ctx, floatX* dinp, floatX* dweight, floatX* dbias, const floatX* dout,
                                   const floatX* inp, const floatX* weight, int N, int C, int OC, float* scratch) {
    gemm_floatx(ctx, CUBLAS_OP_N, CUBLAS_OP_N, C, N, OC, 1.0f, weight, C, dout, OC, 0.0f, dinp, C);
    gemm_floatx(ctx, CUBLAS_OP_N, CUBLAS_OP_T, C, OC, N, 1.0f, inp, C, dout, OC, 1.0f, dweight, C);
    if (dbias != NULL) column_reduce(ctx, dbias, NULL, dout, NULL, NULL, NULL, N, OC, scratch);
}

#endif // LLMC_MATMUL_CUH
