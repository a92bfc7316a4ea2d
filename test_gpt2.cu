/*
 test_gpt2.cu: the CUDA model against the CPU reference (llmc/gpt2_cpu.h with its plain C
 kernels, and llmc/dggr.h's update), on the same small GPT-2, the same parameters and the
 same batch. It compares
   - the logits and the loss of one forward pass, with the cuBLASLt bias epilogue and
     with the plain cuBLAS path, and the logits of a smaller batch without targets (the
     shape sampling uses);
   - every parameter gradient of one backward pass (16 tensors), and that a second
     forward/backward gives bit-identical gradients (no atomics anywhere);
   - 10 training steps with BackSlash on (lambda > 0): coupled with one global nu, and
     decoupled with per-tensor nu, with clipping and weight decay: the loss of every step,
     the final weights, and dggr.h's shape, rate and zero fraction after the last step;
   - a resume through the checkpoint files (llmc/train_checkpoint.h) continues bit for bit.
 Tolerances depend on the build: the fp32 build (test_gpt2fp32cu) runs every layer in
 fp32 and must agree to float rounding; the default bf16 build (test_gpt2cu) rounds
 weights, activations and gradients to 8 mantissa bits. Each check prints its measured
 error beside its tolerance. Without a CUDA device it says so and exits 77 (skipped).

 Shapes (--shape NAME, default all): besides the small default one, shapes on which each
 kernel's loops run more than once and the rarer paths are taken (TEST_SHAPES below).
 Gradient accumulation: two micro-steps of B/2 rows against one of B. --quick (the CPU
 emulation's case in make test, dev/cuda_emu): the default shape with 3 training steps
 and a 2-step resume, and the irregular shape's forward, gradients and accumulation.

 The training comparison: the first update from the same weights must agree closely; the
 10-step run amplifies rounding differences (the decoupled rate term flips signs at zero),
 so its tolerance is K times what the CPU reference itself moves when its initial weights
 are nudged by one ulp (every third weight): measured in the same run, printed beside it.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "llmc/gpt2_cuda.cuh"
#include "llmc/train_checkpoint.h"
#include "dev/test/gpt2_cpu_reference.h"

#ifdef ENABLE_FP32
// fp32: differences come from summation order (cuBLAS vs. the reference loops) only
#define TOL_LOGITS 1e-4  // max |diff| / max(1, max |ref|)
#define TOL_LOSS 1e-5    // |diff| of the mean loss
#define TOL_GRAD 2e-3    // max |diff| / max |ref| per tensor
#define TOL_GRAD_COS 0.99999 // cosine similarity per tensor
#define TOL_UPDATE 1e-3  // first step: ||w_gpu - w_cpu|| / ||w_cpu - w_0||
#define TOL_STEP_LOSS 1e-4 // the floors of the 10-step tolerances; K * the CPU's own sensitivity when larger
#define TOL_PARAMS 1e-2  // ||w_gpu - w_cpu|| / ||w_cpu - w_0||: the difference against the training's own change
#define TOL_NU 1e-4
#define TOL_RATE 1e-4    // relative
#define TOL_ZERO_FRAC 1e-3
#else
// bf16: about 2-3x the errors measured under the CPU emulation (doc/cuda.md), largest over the
// shapes: logits 6e-3, gradients 9e-3 of their max, first update 3.1e-2, 10-step loss 1.9e-3, weights 2.8e-2
#define TOL_LOGITS 1.5e-2
#define TOL_LOSS 2e-3
#define TOL_GRAD 2e-2
#define TOL_GRAD_COS 0.9995
#define TOL_UPDATE 8e-2
#define TOL_STEP_LOSS 5e-3
#define TOL_PARAMS 6e-2
#define TOL_NU 2e-4
#define TOL_RATE 1e-5
#define TOL_ZERO_FRAC 1e-3
#endif
#define TOL_ACCUM 1e-5   // two accumulated micro-steps vs one: the same products, other summation order
#define SENSITIVITY_K 3.0 // 10-step tolerance: K * the CPU-vs-nudged-CPU difference (when above the floor)

static int failures = 0;

static void report(const char* what, double value, double tol, int pass_if_below) {
    int ok = pass_if_below ? (value <= tol) : (value >= tol);
    if (!(value == value)) ok = 0; // NaN
    printf("  %-4s %-44s %12.3e  (%s %.1e)\n", ok ? "ok" : "FAIL", what, value, pass_if_below ? "<=" : ">=", tol);
    if (!ok) failures++;
}

static double max_abs(const float* a, size_t n) {
    double m = 0.0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i]));
    return m;
}

static double max_abs_diff(const float* a, const float* b, size_t n) {
    double m = 0.0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - (double)b[i]));
    return m;
}

static double cosine(const float* a, const float* b, size_t n) {
    double ab = 0.0, aa = 0.0, bb = 0.0;
    for (size_t i = 0; i < n; i++) { ab += (double)a[i] * b[i]; aa += (double)a[i] * a[i]; bb += (double)b[i] * b[i]; }
    return (aa == 0.0 && bb == 0.0) ? 1.0 : ab / sqrt(aa * bb + 1e-300);
}

// the real-vocabulary columns of (BT, Vp) logits
static double logits_error(const float* gpu, const float* cpu, int BT, int V, int Vp) {
    double m = 0.0, scale = 1.0;
    for (int r = 0; r < BT; r++)
        for (int v = 0; v < V; v++) {
            size_t i = (size_t)r * Vp + v;
            m = fmax(m, fabs((double)gpu[i] - cpu[i]));
            scale = fmax(scale, fabs((double)cpu[i]));
        }
    return m / scale;
}

// a GPU training run of `steps` steps on one batch, reporting like cpuref_train;
// params_first: the weights after the first step (or NULL)
static void gpu_train(CudaContext* ctx, const GPT2Config* c, const float* params0, const int* inputs, const int* targets,
                      int B, int T, int steps, const RefHyper* hp, const DGGRConfig* dc, float grad_clip, CpuRefStep* info,
                      float* params_out, float* params_first) {
    GPT2Cuda model;
    gpt2cuda_init(&model, ctx, c, params0, B, T, dc);
    for (int t = 1; t <= steps; t++) {
        gpt2cuda_zero_grad(&model);
        gpt2cuda_forward(&model, inputs, targets, B, T, 1.0f / (float)(B * T));
        float loss = gpt2cuda_backward(&model);
        float norm = gpt2cuda_update(&model, hp->lr, hp->beta1, hp->beta2, hp->eps, hp->weight_decay, grad_clip, t, 1);
        CpuRefStep* s = &info[t - 1];
        s->loss = loss;
        s->grad_norm = norm;
        s->nu = model.dggr.nu;
        s->rate = model.dggr.rate;
        s->zero_frac = model.dggr.zero_frac;
        s->bits_per_param = model.dggr.bits_per_param;
        if (t == 1 && params_first != NULL) gpt2cuda_get_params(&model, params_first);
    }
    gpt2cuda_get_params(&model, params_out);
    gpt2cuda_free(&model);
}

// A run of `steps` steps against steps/2, a checkpoint through the trainers' files
// (train_checkpoint.h: weights, AdamW moments, BackSlash's moments), a new model from
// those files, and the rest: the weights must be bit-identical.
static void check_resume(CudaContext* ctx, const GPT2Config* c, const float* params0, const int* inputs,
                         const int* targets, int B, int T, const DGGRConfig* dc, int steps) {
    const int half = steps / 2;
    const RefHyper hp = {1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f};
    size_t n = gpt2_num_params(c);
    float* straight = (float*)malloc_or_die(n * sizeof(float));
    float* resumed = (float*)malloc_or_die(n * sizeof(float));
    float* m = (float*)malloc_or_die(n * sizeof(float));
    float* v = (float*)malloc_or_die(n * sizeof(float));
    char dir[] = "/tmp/test_gpt2cu.XXXXXX";
    if (mkdtemp(dir) == NULL) die("mkdtemp: %s", strerror(errno));
    for (int pass = 0; pass < 2; pass++) {
        GPT2Cuda model;
        gpt2cuda_init(&model, ctx, c, params0, B, T, dc);
        for (int t = 1; t <= steps; t++) {
            if (pass == 1 && t == half + 1) { // checkpoint after step half, then continue in a new model
                TrainProgress pr;
                memset(&pr, 0, sizeof(pr));
                pr.step = half; pr.batch_size = B; pr.seq_len = T;
                gpt2cuda_get_params(&model, resumed);
                gpt2cuda_get_opt_state(&model, m, v);
                if (train_checkpoint_save(dir, c, resumed, m, v, &pr, &model.dggr, NULL) != BS_OK) die("%s", bs_error());
                gpt2cuda_free(&model);
                char path[1024];
                snprintf(path, sizeof(path), "%s/state_%08d.bin", dir, half);
                TrainCheckpoint ck;
                if (train_checkpoint_load(path, &ck) != BS_OK) die("%s", bs_error());
                gpt2cuda_init(&model, ctx, &ck.config, ck.params, B, T, dc);
                gpt2cuda_set_opt_state(&model, ck.m, ck.v);
                if (dggr_state_read(&model.dggr, ck.dggr_section, ck.dggr_size, path) != BS_OK) die("%s", bs_error());
                train_checkpoint_free(&ck);
                snprintf(path, sizeof(path), "%s/state_%08d.bin", dir, half);
                remove(path);
                snprintf(path, sizeof(path), "%s/model_%08d.bin", dir, half);
                remove(path);
            }
            gpt2cuda_zero_grad(&model);
            gpt2cuda_forward(&model, inputs, targets, B, T, 1.0f / (float)(B * T));
            gpt2cuda_backward(&model);
            gpt2cuda_update(&model, hp.lr, hp.beta1, hp.beta2, hp.eps, hp.weight_decay, 1.0f, t, 1);
        }
        gpt2cuda_get_params(&model, pass == 0 ? straight : resumed);
        gpt2cuda_free(&model);
    }
    rmdir(dir);
    printf("resume through the checkpoint files after step %d of %d:\n", half, steps);
    report("weights: max |straight - resumed| (bit-identical)", max_abs_diff(straight, resumed, n), 0.0, 1);
    free(straight); free(resumed); free(m); free(v);
}

// ||a - b|| / ||b - w0||
static double relative_change_diff(const float* a, const float* b, const float* w0, size_t n) {
    double diff2 = 0.0, change2 = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - b[i], ch = (double)b[i] - w0[i];
        diff2 += d * d;
        change2 += ch * ch;
    }
    return sqrt(diff2 / (change2 + 1e-300));
}

#define MAX_STEPS 10

static void compare_training(CudaContext* ctx, const GPT2Config* c, const float* params0, const int* inputs,
                             const int* targets, int B, int T, const DGGRConfig* dc, const char* name, int steps) {
    // weight decay 0.1 (dggr.h applies it to the matrices and embeddings only)
    const RefHyper hp = {1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f};
    const float grad_clip = 1.0f;
    size_t n = gpt2_num_params(c);
    float* cpu_params = (float*)malloc_or_die(n * sizeof(float));
    float* cpu_first = (float*)malloc_or_die(n * sizeof(float));
    float* nudged = (float*)malloc_or_die(n * sizeof(float));
    float* gpu_params = (float*)malloc_or_die(n * sizeof(float));
    float* gpu_first = (float*)malloc_or_die(n * sizeof(float));
    CpuRefStep cpu[MAX_STEPS], cpu1[1], nud[MAX_STEPS], gpu[MAX_STEPS];
    memcpy(cpu_params, params0, n * sizeof(float));
    if (cpuref_train(c, cpu_params, inputs, targets, B, T, steps, &hp, dc, grad_clip, cpu) != BS_OK)
        die("cpu reference training: %s", bs_error());
    memcpy(cpu_first, params0, n * sizeof(float));
    if (cpuref_train(c, cpu_first, inputs, targets, B, T, 1, &hp, dc, grad_clip, cpu1) != BS_OK)
        die("cpu reference training: %s", bs_error());
    // the CPU reference's own sensitivity: the same run from weights of which every third is one ulp larger
    for (size_t i = 0; i < n; i++) nudged[i] = i % 3 == 0 ? nextafterf(params0[i], INFINITY) : params0[i];
    if (cpuref_train(c, nudged, inputs, targets, B, T, steps, &hp, dc, grad_clip, nud) != BS_OK)
        die("cpu reference training: %s", bs_error());
    gpu_train(ctx, c, params0, inputs, targets, B, T, steps, &hp, dc, grad_clip, gpu, gpu_params, gpu_first);
    printf("%s: %d steps, lambda %g, lr %g, clip %g\n", name, steps, (double)dc->lambda, (double)hp.lr, (double)grad_clip);
    printf("  step  cpu loss   gpu loss   nudged cpu   cpu nu   gpu nu   cpu R      gpu R\n");
    double worst_loss = 0.0, sens_loss = 0.0;
    for (int t = 0; t < steps; t++) {
        printf("  %4d  %.6f  %.6f  %.6f     %.4f   %.4f   %.4e %.4e\n", t + 1, cpu[t].loss, gpu[t].loss, nud[t].loss,
               cpu[t].nu, gpu[t].nu, cpu[t].rate, gpu[t].rate);
        worst_loss = fmax(worst_loss, fabs((double)cpu[t].loss - gpu[t].loss));
        sens_loss = fmax(sens_loss, fabs((double)cpu[t].loss - nud[t].loss));
    }
    report("first update: ||gpu - cpu|| / ||cpu - initial||", relative_change_diff(gpu_first, cpu_first, params0, n),
           TOL_UPDATE, 1);
    double sens_params = relative_change_diff(nudged, cpu_params, params0, n);
    double tol_loss = fmax(TOL_STEP_LOSS, SENSITIVITY_K * sens_loss);
    double tol_params = fmax(TOL_PARAMS, SENSITIVITY_K * sens_params);
    printf("  the CPU against itself from nudged weights: loss %.3e, weights %.3e (tolerances: the larger of %g x "
           "these and the floors)\n", sens_loss, sens_params, SENSITIVITY_K);
    report("loss, worst step |diff|", worst_loss, tol_loss, 1);
    // the loss must have moved: the comparison is of a real training run
    report("loss decrease over the run (cpu)", (double)cpu[0].loss - cpu[steps - 1].loss, 1e-3, 0);
    report("weights: ||gpu - cpu|| / ||cpu - initial||", relative_change_diff(gpu_params, cpu_params, params0, n),
           tol_params, 1);
    const CpuRefStep *a = &cpu[steps - 1], *b = &gpu[steps - 1], *z = &nud[steps - 1];
    report("nu after the last step |diff|", fabs(a->nu - b->nu), fmax(TOL_NU, SENSITIVITY_K * fabs(a->nu - z->nu)), 1);
    report("rate R after the last step, relative diff", fabs(a->rate - b->rate) / fmax(fabs(a->rate), 1e-30),
           fmax(TOL_RATE, SENSITIVITY_K * fabs(a->rate - z->rate) / fmax(fabs(a->rate), 1e-30)), 1);
    report("zero fraction after the last step |diff|", fabs(a->zero_frac - b->zero_frac),
           fmax(TOL_ZERO_FRAC, SENSITIVITY_K * fabs(a->zero_frac - z->zero_frac)), 1);
    free(cpu_params); free(cpu_first); free(nudged); free(gpu_params); free(gpu_first);
}

// per-tensor max |a - b| / max |ref| and cosine(ref, b), reported as "grad NAME ..."
static void compare_grads(const GPT2Config* c, const float* ref, const float* b, double tol, double tol_cos,
                          const char* what_prefix) {
    size_t sizes[GPT2_NUM_PARAM_TENSORS], offs[GPT2_NUM_PARAM_TENSORS];
    gpt2_param_sizes(c, sizes);
    gpt2_param_offsets(c, offs);
    for (int g = 0; g < GPT2_NUM_PARAM_TENSORS; g++) {
        const float* x = ref + offs[g];
        const float* y = b + offs[g];
        char what[96];
        snprintf(what, sizeof(what), "%s %-8s max |diff| / max|ref|", what_prefix, gpt2_param_names[g]);
        report(what, max_abs_diff(x, y, sizes[g]) / fmax(max_abs(x, sizes[g]), 1e-30), tol, 1);
        if (tol_cos > 0.0) {
            snprintf(what, sizeof(what), "%s %-8s 1 - cosine similarity", what_prefix, gpt2_param_names[g]);
            report(what, 1.0 - cosine(x, y, sizes[g]), 1.0 - tol_cos, 1);
        }
    }
}

// the shapes: each names what it exercises. GPT2Config: max T, V, padded V, L, NH, C
typedef struct {
    const char* name;
    GPT2Config config;
    int B, T;
    int train; // also the training, accumulation and resume checks
    const char* why;
} TestShape;

static const TestShape TEST_SHAPES[] = {
    {"default", {64, 1000, 1024, 2, 4, 128}, 4, 64, 1, "2 layers, 128 wide, 4 heads, V 1000 (padded 1024)"},
    {"irregular", {80, 2500, 2560, 2, 4, 264}, 5, 77, 1,
     "V 2500: 2-3 logits per classifier thread (the online softmax rescales); C 264: two block columns in the "
     "embedding backward; B*T 385 rows: the column reduction's second row batch; T 77 < max T 80"},
    {"hs33", {64, 1000, 1024, 2, 3, 99}, 3, 64, 0, "C 99, head size 33: C % 8 != 0 takes the cublasGemmEx path"},
    {"tall", {128, 1000, 1024, 1, 4, 128}, 8, 128, 0,
     "B*T 1024: the column reduction loops 4 times per slice; accumulation of 2 x B 4"},
};
#define NUM_TEST_SHAPES ((int)(sizeof(TEST_SHAPES) / sizeof(TEST_SHAPES[0])))

// everything for one shape; quick: fewer training steps (the CPU emulation's quick mode)
static void run_shape(CudaContext* ctx, const TestShape* sh, int quick, int with_training) {
    const GPT2Config c = sh->config;
    const int B = sh->B, T = sh->T, BT = B * T;
    printf("=== shape %s: %s\n", sh->name, sh->why);
    size_t n = gpt2_num_params(&c);
    float* params = (float*)malloc_or_die(n * sizeof(float));
    if (cpuref_init_params(&c, 1337, params) != BS_OK) die("init: %s", bs_error());
    // GPT-2's init leaves biases 0 and LayerNorm weights 1, which would hide a wrong bias
    // or scale: give every non-matrix tensor (the real rows) some spread
    size_t sizes[GPT2_NUM_PARAM_TENSORS], offs[GPT2_NUM_PARAM_TENSORS];
    gpt2_param_sizes(&c, sizes);
    gpt2_param_offsets(&c, offs);
    uint64_t s = 0x9E3779B97F4A7C15ull;
    for (int g = 0; g < GPT2_NUM_PARAM_TENSORS; g++) {
        if (gpt2_param_is_matrix(g)) continue;
        for (size_t i = 0; i < sizes[g]; i++) {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            params[offs[g] + i] += 0.1f * ((float)(s >> 40) / 16777216.0f - 0.5f);
        }
    }
    int* inputs = (int*)malloc_or_die(BT * sizeof(int));
    int* targets = (int*)malloc_or_die(BT * sizeof(int));
    for (int i = 0; i < BT; i++) {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        inputs[i] = (int)((s >> 33) % (uint64_t)c.vocab_size);
        // a learnable pattern: the target depends on the input, so 10 steps lower the loss
        targets[i] = (inputs[i] * 7 + 3) % c.vocab_size;
    }

    // --- reference: one forward and backward on the CPU
    size_t nlogits = (size_t)BT * c.padded_vocab_size;
    float* cpu_logits = (float*)malloc_or_die(nlogits * sizeof(float));
    float* cpu_grads = (float*)malloc_or_die(n * sizeof(float));
    float cpu_loss = 0.0f;
    if (cpuref_forward_backward(&c, params, inputs, targets, B, T, cpu_logits, &cpu_loss, cpu_grads) != BS_OK)
        die("cpu reference: %s", bs_error());

    // --- the GPU: forward only (logits intact), on both matmul paths
    DGGRConfig dc = dggr_config_default();
    GPT2Cuda model;
    gpt2cuda_init(&model, ctx, &c, params, B, T, &dc);
    float* gpu_logits = (float*)malloc_or_die(nlogits * sizeof(float));
    printf("forward and backward, B=%d T=%d, L=%d C=%d NH=%d V=%d\n", B, T, c.num_layers, c.channels, c.num_heads, c.vocab_size);
    for (int lt = 1; lt >= 0; lt--) {
        ctx->use_lt_epilogue = lt;
        ctx->matmul_lt = ctx->matmul_plain = ctx->matmul_lt_refused = 0;
        float loss = gpt2cuda_forward(&model, inputs, targets, B, T, 0.0f);
        matmul_paths_print(ctx, lt ? "  forward asking for cuBLASLt" : "  forward without cuBLASLt");
        if (lt && c.channels % 8 == 0) // every layer's matmul has a bias and 8-divisible sizes
            report("forward matmuls that ran on cuBLASLt (of 4 per layer)", (double)ctx->matmul_lt, 4.0 * c.num_layers, 0);
        else
            report("forward matmuls that ran on cuBLASLt (expected none)", (double)ctx->matmul_lt, 0.0, 1);
        gpt2cuda_get_logits(&model, gpu_logits);
        char what[96];
        snprintf(what, sizeof(what), "logits (%s), max |diff| / max|ref|", lt ? "cuBLASLt bias epilogue" : "cuBLAS + bias kernel");
        report(what, logits_error(gpu_logits, cpu_logits, BT, c.vocab_size, c.padded_vocab_size), TOL_LOGITS, 1);
        snprintf(what, sizeof(what), "loss |diff| (cpu %.6f, gpu %.6f)", cpu_loss, loss);
        report(what, fabs((double)loss - cpu_loss), TOL_LOSS, 1);
    }
    ctx->use_lt_epilogue = 1;
    // a smaller batch without targets, as sampling runs it: B' = 1, T' = 17 of the allocated (B, T)
    {
        const int Ts = 17;
        float* cpu_small = (float*)malloc_or_die((size_t)Ts * c.padded_vocab_size * sizeof(float));
        if (cpuref_logits(&c, params, inputs, 1, Ts, cpu_small) != BS_OK) die("cpu reference: %s", bs_error());
        gpt2cuda_forward(&model, inputs, NULL, 1, Ts, 0.0f);
        gpt2cuda_get_logits(&model, gpu_logits);
        report("logits of a (1, 17) batch without targets", logits_error(gpu_logits, cpu_small, Ts, c.vocab_size,
               c.padded_vocab_size), TOL_LOGITS, 1);
        // what sampling copies per token: the last position's row, through the buffer allocated once
        float* last = (float*)malloc_or_die((size_t)c.padded_vocab_size * sizeof(float));
        gpt2cuda_get_last_logits(&model, 0, last);
        report("last position's logits (sampling's copy) against the full copy", max_abs_diff(last,
               gpu_logits + (size_t)(Ts - 1) * c.padded_vocab_size, c.vocab_size), 0.0, 1);
        free(last);
        free(cpu_small);
    }

    // --- gradients
    float* gpu_grads = (float*)malloc_or_die(n * sizeof(float));
    float* gpu_grads2 = (float*)malloc_or_die(n * sizeof(float));
    for (int rep = 0; rep < 2; rep++) {
        gpt2cuda_zero_grad(&model);
        gpt2cuda_forward(&model, inputs, targets, B, T, 1.0f / (float)BT);
        gpt2cuda_backward(&model);
        gpt2cuda_get_grads(&model, rep == 0 ? gpu_grads : gpu_grads2);
    }
    compare_grads(&c, cpu_grads, gpu_grads, TOL_GRAD, TOL_GRAD_COS, "grad");
    report("gradients of a repeated pass: max |diff| (deterministic)", max_abs_diff(gpu_grads, gpu_grads2, n), 0.0, 1);
    // --- gradient accumulation: two micro-steps of B/2 rows each (dloss 1/(B T)) add up to the one of B rows
    if (B % 2 == 0) {
        int half = B / 2;
        gpt2cuda_zero_grad(&model);
        for (int part = 0; part < 2; part++) {
            gpt2cuda_forward(&model, inputs + (size_t)part * half * T, targets + (size_t)part * half * T, half, T,
                             1.0f / (float)BT);
            gpt2cuda_backward(&model);
        }
        gpt2cuda_get_grads(&model, gpu_grads2);
        printf("2 accumulated micro-steps of B=%d against one of B=%d:\n", half, B);
        compare_grads(&c, gpu_grads, gpu_grads2, TOL_ACCUM, 0.0, "accumulated");
    }
    gpt2cuda_free(&model);

    // --- training with BackSlash: both variants, global and per-tensor shapes
    if (with_training) {
        int steps = quick ? 3 : MAX_STEPS;
        DGGRConfig coupled = dggr_config_default();
        coupled.lambda = 1000.0f;
        coupled.variant = DGGR_COUPLED;
        coupled.shape_mode = DGGR_SHAPE_GLOBAL;
        compare_training(ctx, &c, params, inputs, targets, B, T, &coupled, "coupled, global nu", steps);
        DGGRConfig decoupled = dggr_config_default();
        decoupled.lambda = 1000.0f;
        decoupled.variant = DGGR_DECOUPLED;
        decoupled.shape_mode = DGGR_SHAPE_TENSOR;
        compare_training(ctx, &c, params, inputs, targets, B, T, &decoupled, "decoupled, per-tensor nu", steps);
        check_resume(ctx, &c, params, inputs, targets, B, T, &coupled, quick ? 2 : 4);
    }

    free(params); free(inputs); free(targets); free(cpu_logits); free(cpu_grads); free(gpu_logits); free(gpu_grads);
    free(gpu_grads2);
}

static void usage(void) {
    printf("usage: test_gpt2cu [--quick] [--shape NAME]\n"
           "  --quick        the default shape with 3 training steps, the irregular one without training\n"
           "  --shape NAME   one shape (all of them by default):");
    for (int i = 0; i < NUM_TEST_SHAPES; i++) printf(" %s", TEST_SHAPES[i].name);
    printf("\n");
}

int main(int argc, char** argv) {
    int quick = 0;
    const char* only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) quick = 1;
        else if (strcmp(argv[i], "--shape") == 0 && i + 1 < argc) only = argv[++i];
        else { usage(); fprintf(stderr, "error: unknown argument %s\n", argv[i]); return 2; }
    }
    if (only != NULL) {
        int found = 0;
        for (int i = 0; i < NUM_TEST_SHAPES; i++) found |= strcmp(TEST_SHAPES[i].name, only) == 0;
        if (!found) { usage(); fprintf(stderr, "error: --shape %s: no such shape\n", only); return 2; }
    }
    int devices = cuda_device_count();
    if (devices == 0) {
        printf("test_gpt2cu (%s): no CUDA device (cudaGetDeviceCount found none): needs a GPU\n", FLOATX_NAME);
        return 77;
    }
    CudaContext ctx;
    cuda_context_init(&ctx, 0);
    cudaDeviceProp prop;
    cudaCheck(cudaGetDeviceProperties(&prop, 0));
    int blas_version = 0;
    cublasCheck(cublasGetVersion(ctx.blas, &blas_version));
    printf("test_gpt2cu: %s build on %s (sm_%d%d), cuBLAS %d%s\n", FLOATX_NAME, prop.name, prop.major, prop.minor,
           blas_version, quick ? ", quick mode" : "");
    for (int i = 0; i < NUM_TEST_SHAPES; i++) {
        const TestShape* sh = &TEST_SHAPES[i];
        if (only != NULL && strcmp(sh->name, only) != 0) continue;
        if (quick && i > 1) continue; // the default and the irregular shape
        run_shape(&ctx, sh, quick, sh->train && !(quick && i > 0));
    }
    cuda_context_free(&ctx);
    if (failures) {
        printf("test_gpt2cu (%s): %d checks FAILED\n", FLOATX_NAME, failures);
        return 1;
    }
    printf("test_gpt2cu (%s): all checks passed\n", FLOATX_NAME);
    return 0;
}
