/*
 gemm_spec.h: the cuBLAS calls of the CUDA layers (matmul.cuh, attention.cuh) as data.
 cuBLAS multiplies column-major matrices; our arrays are row-major, and a row-major
 (R, K) array is the column-major (K, R) matrix. Getting transposes, leading dimensions
 and strides right is where such code goes wrong, so each call's parameters come from a
 function here, the CUDA code passes them to cuBLAS unchanged, and dev/test/test_gemm_spec.c
 runs the same parameters through a plain column-major GEMM on the CPU against the
 layers' row-major definitions. Plain C: no CUDA needed to test it.

 A GemmSpec means, for each batch entry i (pointers advanced by i * stride):
   C = alpha op(A) op(B) + beta C,  op(X) = X or X^T,  C is m x n, op(A) m x k, op(B) k x n,
   all column-major with leading dimensions lda, ldb, ldc.
*/
#ifndef LLMC_GEMM_SPEC_H
#define LLMC_GEMM_SPEC_H

typedef struct {
    int trans_a, trans_b;                   // 1: op(X) = X^T
    int m, n, k;
    int lda, ldb, ldc;
    long long stride_a, stride_b, stride_c; // elements between batch entries
    int batch;
    float alpha, beta;
} GemmSpec;

static inline GemmSpec gemm_spec(int trans_a, int trans_b, int m, int n, int k, int lda, int ldb, int ldc, float alpha,
                                 float beta) {
    GemmSpec s = {trans_a, trans_b, m, n, k, lda, ldb, ldc, 0, 0, 0, 1, alpha, beta};
    return s;
}

// ---- linear layer: inp (N, C), weight (OC, C), out (N, OC), row-major

// out^T (OC x N) = weight^T-as-stored (C x OC, op T) x inp^T (C x N);  A = weight, B = inp
static inline GemmSpec matmul_forward_spec(int N, int C, int OC) { return gemm_spec(1, 0, OC, N, C, C, C, OC, 1.0f, 0.0f); }

// dinp^T (C x N) = weight (C x OC) x dout^T (OC x N);  A = weight, B = dout, dinp overwritten
static inline GemmSpec matmul_backward_dinp_spec(int N, int C, int OC) { return gemm_spec(0, 0, C, N, OC, C, OC, C, 1.0f, 0.0f); }

// dweight^T (C x OC) += inp^T (C x N) x dout (N x OC, op T of the stored OC x N);  A = inp, B = dout
static inline GemmSpec matmul_backward_dweight_spec(int N, int C, int OC) { return gemm_spec(0, 1, C, OC, N, C, OC, C, 1.0f, 1.0f); }

// ---- attention, per head (batch = B * NH): q, k, v, y, dy, dq, dk, dv (T, HS); att, preatt (T, T)

static inline GemmSpec attention_spec(int trans_a, int trans_b, int m, int n, int k, int lda, int ldb, int ldc,
                                      long long sa, long long sb, long long sc, int batch, float alpha) {
    GemmSpec s = gemm_spec(trans_a, trans_b, m, n, k, lda, ldb, ldc, alpha, 0.0f);
    s.stride_a = sa; s.stride_b = sb; s.stride_c = sc; s.batch = batch;
    return s;
}

// preatt[i][j] = scale sum_d q[i][d] k[j][d]:  preatt^T = k^T(op T) x q;  A = k, B = q
static inline GemmSpec attention_preatt_spec(int B, int NH, int T, int HS, float scale) {
    long long s = (long long)T * HS;
    return attention_spec(1, 0, T, T, HS, HS, HS, T, s, s, (long long)T * T, B * NH, scale);
}

// y[i][d] = sum_j att[i][j] v[j][d]:  y^T = v^T-as-stored x att^T-as-stored;  A = v, B = att
static inline GemmSpec attention_y_spec(int B, int NH, int T, int HS) {
    long long s = (long long)T * HS;
    return attention_spec(0, 0, HS, T, T, HS, T, HS, s, (long long)T * T, s, B * NH, 1.0f);
}

// datt[i][j] = sum_d dy[i][d] v[j][d]:  as preatt with (q, k) -> (dy, v);  A = v, B = dy
static inline GemmSpec attention_datt_spec(int B, int NH, int T, int HS) {
    long long s = (long long)T * HS;
    return attention_spec(1, 0, T, T, HS, HS, HS, T, s, s, (long long)T * T, B * NH, 1.0f);
}

// dv[j][d] = sum_i att[i][j] dy[i][d]:  dv^T = dy^T-as-stored x att-as-stored (op T);  A = dy, B = att
static inline GemmSpec attention_dv_spec(int B, int NH, int T, int HS) {
    long long s = (long long)T * HS;
    return attention_spec(0, 1, HS, T, T, HS, T, HS, s, (long long)T * T, s, B * NH, 1.0f);
}

// dq[i][d] = scale sum_j dpreatt[i][j] k[j][d]:  as y with (att, v) -> (dpreatt, k);  A = k, B = dpreatt
static inline GemmSpec attention_dq_spec(int B, int NH, int T, int HS, float scale) {
    GemmSpec s = attention_y_spec(B, NH, T, HS);
    s.alpha = scale;
    return s;
}

// dk[j][d] = scale sum_i dpreatt[i][j] q[i][d]:  as dv with (att, dy) -> (dpreatt, q);  A = q, B = dpreatt
static inline GemmSpec attention_dk_spec(int B, int NH, int T, int HS, float scale) {
    GemmSpec s = attention_dv_spec(B, NH, T, HS);
    s.alpha = scale;
    return s;
}

#endif // LLMC_GEMM_SPEC_H
