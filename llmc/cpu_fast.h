/*
 cpu_fast.h: faster versions of the layers in cpu_kernels.h, same arguments and same
 results up to float rounding; dev/test/test_cpu_kernels.c checks each against its
 reference. The model (gpt2_cpu.h) uses these unless asked for the reference kernels.

 - matmul: OpenBLAS sgemm (Debian's libopenblas-dev). The reference triple loop runs at
   a few GFLOP/s; sgemm at about 190 GFLOP/s on this 2-core machine, and matmuls are
   ~95% of a GPT-2 step's FLOPs. sgemm is called from serial code only (never inside an
   OpenMP region), so OpenBLAS's threads and ours never run at the same time.
 - layernorm backward: parallel over positions, the weight/bias gradients reduced from
   per-thread partial sums in a fixed order (deterministic for a given thread count).
 - attention forward/backward: as the reference, with the inner loops over the head
   size written so that they vectorize (contiguous q, k, v rows).
*/
#ifndef LLMC_CPU_FAST_H
#define LLMC_CPU_FAST_H

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include "cpu_kernels.h"

// out (B,T,OC) = inp (B,T,C) @ weight (OC,C)^T + bias (OC)
static inline void matmul_forward_fast(float* out, const float* inp, const float* weight, const float* bias,
                                       int B, int T, int C, int OC) {
    int BT = B * T;
    if (bias != NULL) {
        #pragma omp parallel for
        for (int bt = 0; bt < BT; bt++) memcpy(out + (size_t)bt * OC, bias, (size_t)OC * sizeof(float));
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, BT, OC, C, 1.0f, inp, C, weight, C,
                bias != NULL ? 1.0f : 0.0f, out, OC);
}

// dinp (B,T,C) += dout @ weight; dweight (OC,C) += dout^T @ inp; dbias (OC) += column sums of dout
static inline void matmul_backward_fast(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                                        const float* weight, int B, int T, int C, int OC) {
    int BT = B * T;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, BT, C, OC, 1.0f, dout, OC, weight, C, 1.0f, dinp, C);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, C, BT, 1.0f, dout, OC, inp, C, 1.0f, dweight, C);
    if (dbias != NULL) {
        // each thread owns a block of 64 output channels and walks the rows in order
        int nblocks = (OC + 63) / 64;
        #pragma omp parallel for
        for (int blk = 0; blk < nblocks; blk++) {
            int o0 = blk * 64, o1 = o0 + 64 < OC ? o0 + 64 : OC;
            float acc[64] = {0};
            for (int bt = 0; bt < BT; bt++) {
                const float* d = dout + (size_t)bt * OC;
                for (int o = o0; o < o1; o++) acc[o - o0] += d[o];
            }
            for (int o = o0; o < o1; o++) dbias[o] += acc[o - o0];
        }
    }
}

// as layernorm_backward; dweight/dbias via per-thread partial sums added in thread order
static inline void layernorm_backward_fast(float* dinp, float* dweight, float* dbias, const float* dout, const float* inp,
                                           const float* weight, const float* mean, const float* rstd, int B, int T, int C) {
    int BT = B * T;
    int nthreads = omp_get_max_threads();
    float* partial = (float*)calloc((size_t)nthreads * 2 * C, sizeof(float));
    if (partial == NULL) { // no memory for the scratch: the serial reference gives the same gradients
        layernorm_backward(dinp, dweight, dbias, dout, inp, weight, mean, rstd, B, T, C);
        return;
    }
    int used = 1;
    #pragma omp parallel
    {
        int tid = omp_get_thread_num();
        #pragma omp single
        used = omp_get_num_threads();
        float* pw = partial + (size_t)tid * 2 * C;
        float* pb = pw + C;
        #pragma omp for schedule(static)
        for (int bt = 0; bt < BT; bt++) {
            const float* dy = dout + (size_t)bt * C;
            const float* x = inp + (size_t)bt * C;
            float* dx = dinp + (size_t)bt * C;
            float m = mean[bt], s = rstd[bt];
            float dnorm_mean = 0.0f, dnorm_norm_mean = 0.0f;
            for (int i = 0; i < C; i++) {
                float norm = (x[i] - m) * s;
                float dnorm = weight[i] * dy[i];
                dnorm_mean += dnorm;
                dnorm_norm_mean += dnorm * norm;
            }
            dnorm_mean = dnorm_mean / C;
            dnorm_norm_mean = dnorm_norm_mean / C;
            for (int i = 0; i < C; i++) {
                float norm = (x[i] - m) * s;
                float dnorm = weight[i] * dy[i];
                pb[i] += dy[i];
                pw[i] += norm * dy[i];
                dx[i] += (dnorm - dnorm_mean - norm * dnorm_norm_mean) * s;
            }
        }
    }
    for (int k = 0; k < used; k++) {
        const float* pw = partial + (size_t)k * 2 * C;
        for (int i = 0; i < C; i++) {
            dweight[i] += pw[i];
            dbias[i] += pw[C + i];
        }
    }
    free(partial);
}

#endif // LLMC_CPU_FAST_H
