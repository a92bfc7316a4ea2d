/*
 matmul.cuh: the linear layers, out = inp @ weight^T + bias, forward and backward, on cuBLAS.
   inp (N, C), weight (OC, C) as llm.c stores it, bias (OC) or NULL, out (N, OC), row-major.
 The GEMM parameters come from gemm_spec.h (tested on the CPU by test_gemm_spec.c):
   out = inp weight^T, dinp = dout weight, dweight += dout^T inp,
   dbias += column sums of dout (column_reduce.cuh: deterministic, no atomics)
 Forward adds the bias in cuBLASLt's epilogue (one pass over out) when the context asks
 for it and the pointers are 16-byte aligned; otherwise cublasGemmEx plus a bias kernel.
 cuBLASLt's heuristic assumes 256-byte aligned matrices unless told otherwise, so each call
 tells it the alignment of its real pointers (a layer's slice of a (L, ...) array is often
 only 16- or 128-byte aligned). The context counts which path each forward took
 (matmul_lt, matmul_plain, matmul_lt_refused: cuBLASLt found no algorithm and the plain
 path ran instead); tests and benchmarks print the counts (matmul_paths_print).
 Products of floatX accumulate in fp32 (CUBLAS_COMPUTE_32F); the fp32 build does not use
 TF32, so it matches the CPU reference to fp32 rounding.
*/
#ifndef LLMC_MATMUL_CUH
#define LLMC_MATMUL_CUH

#include <stdint.h>
#include "cuda_common.cuh"
#include "column_reduce.cuh"
#include "gemm_spec.h"

// runs a GemmSpec (gemm_spec.h): floatX A and B, C of type ctype (floatX or fp32),
// fp32 accumulation; batched when spec->batch > 1
static inline void gemm_run(CudaContext* ctx, const GemmSpec* g, const floatX* A, const floatX* B, void* C,
                            cudaDataType_t ctype) {
    cublasOperation_t opa = g->trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, opb = g->trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    if (g->batch == 1) {
        cublasCheck(cublasGemmEx(ctx->blas, opa, opb, g->m, g->n, g->k, &g->alpha, A, CUDA_R_FLOATX, g->lda, B,
                                 CUDA_R_FLOATX, g->ldb, &g->beta, C, ctype, g->ldc, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    } else {
        cublasCheck(cublasGemmStridedBatchedEx(ctx->blas, opa, opb, g->m, g->n, g->k, &g->alpha, A, CUDA_R_FLOATX, g->lda,
                                               g->stride_a, B, CUDA_R_FLOATX, g->ldb, g->stride_b, &g->beta, C, ctype,
                                               g->ldc, g->stride_c, g->batch, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    }
}

// out[n, oc] += bias[oc]
__global__ void add_bias_kernel(floatX* out, const floatX* bias, size_t N, int OC) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < N * OC) store_float(&out[i], to_float(out[i]) + to_float(bias[i % OC]));
}

static inline int is_aligned16(const void* p) { return ((uintptr_t)p & 15u) == 0; }

// the largest power of two that divides the address, at most 256 (what cuBLASLt asks about)
static inline uint32_t pointer_alignment(const void* p) {
    uint32_t a = 256;
    while (a > 1 && ((uintptr_t)p & (a - 1)) != 0) a >>= 1;
    return a;
}

// cuBLASLt: out = inp @ weight^T + bias in one call; returns 0 when no algorithm fits
// (the caller then takes the cublasGemmEx path)
static inline int matmul_forward_lt(CudaContext* ctx, floatX* out, const floatX* inp, const floatX* weight,
                                    const floatX* bias, int N, int C, int OC) {
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t la, lb, ld;
    cublasLtMatmulPreference_t pref;
    cublasOperation_t opt = CUBLAS_OP_T, opn = CUBLAS_OP_N; // matmul_forward_spec: trans_a = 1, trans_b = 0
    cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
    cudaDataType_t bias_type = CUDA_R_FLOATX;
    cublasCheck(cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    cublasCheck(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &opt, sizeof(opt)));
    cublasCheck(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &opn, sizeof(opn)));
    cublasCheck(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof(epi)));
    cublasCheck(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)));
    cublasCheck(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type, sizeof(bias_type)));
    // the stored shapes of matmul_forward_spec's operands: A (k x m, op T), B (k x n), D (m x n)
    GemmSpec g = matmul_forward_spec(N, C, OC);
    cublasCheck(cublasLtMatrixLayoutCreate(&la, CUDA_R_FLOATX, g.k, g.m, g.lda)); // weight
    cublasCheck(cublasLtMatrixLayoutCreate(&lb, CUDA_R_FLOATX, g.k, g.n, g.ldb)); // inp
    cublasCheck(cublasLtMatrixLayoutCreate(&ld, CUDA_R_FLOATX, g.m, g.n, g.ldc)); // out
    cublasCheck(cublasLtMatmulPreferenceCreate(&pref));
    cublasCheck(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                     &ctx->lt_workspace_bytes, sizeof(ctx->lt_workspace_bytes)));
    // A = weight, B = inp, C = D = out
    const uint32_t align_w = pointer_alignment(weight), align_in = pointer_alignment(inp), align_out = pointer_alignment(out);
    cublasCheck(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &align_w, sizeof(align_w)));
    cublasCheck(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &align_in, sizeof(align_in)));
    cublasCheck(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &align_out, sizeof(align_out)));
    cublasCheck(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &align_out, sizeof(align_out)));
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
        is_aligned16(bias) && C % 8 == 0 && OC % 8 == 0) {
        if (matmul_forward_lt(ctx, out, inp, weight, bias, N, C, OC)) {
            ctx->matmul_lt++;
            return;
        }
        ctx->matmul_lt_refused++;
    }
    ctx->matmul_plain++;
    GemmSpec g = matmul_forward_spec(N, C, OC);
    gemm_run(ctx, &g, weight, inp, out, CUDA_R_FLOATX);
    if (bias != NULL) {
        const int block = 256;
        size_t n = (size_t)N * OC;
        add_bias_kernel<<<(unsigned)CEIL_DIV(n, (size_t)block), block, 0, ctx->stream>>>(out, bias, (size_t)N, OC);
        cudaCheckLaunch();
    }
}

// dinp (N, C) = dout @ weight (overwritten); dweight (OC, C) += dout^T @ inp;
// dbias (OC) += column sums of dout (skipped when NULL). scratch: column_reduce_scratch_floats(OC).
static inline void matmul_backward(CudaContext* ctx, floatX* dinp, float* dweight, float* dbias, const floatX* dout,
                                   const floatX* inp, const floatX* weight, int N, int C, int OC, float* scratch) {
    GemmSpec gi = matmul_backward_dinp_spec(N, C, OC), gw = matmul_backward_dweight_spec(N, C, OC);
    gemm_run(ctx, &gi, weight, dout, dinp, CUDA_R_FLOATX);
    gemm_run(ctx, &gw, inp, dout, dweight, CUDA_R_32F);
    if (dbias != NULL) column_reduce(ctx, dbias, NULL, dout, NULL, NULL, NULL, N, OC, scratch);
}

// which path the forward matmuls took since the context was created (or the counts reset)
static inline void matmul_paths_print(const CudaContext* ctx, const char* what) {
    printf("%s: matmul forward paths: %llu cuBLASLt with bias epilogue, %llu cublasGemmEx (+ bias kernel), of which "
           "%llu because cuBLASLt found no algorithm\n", what, ctx->matmul_lt, ctx->matmul_plain, ctx->matmul_lt_refused);
}

#endif // LLMC_MATMUL_CUH
