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
#define TOL_STEP_LOSS 1e-4
#define TOL_PARAMS 1e-2  // ||w_gpu - w_cpu|| / ||w_cpu - w_0||: the difference against the training's own change
#define TOL_NU 1e-4
#define TOL_RATE 1e-4    // relative
#define TOL_ZERO_FRAC 1e-3
#else
// bf16: one rounding is a relative error of 2^-9 = 0.2%; activations pass through ~10 of them per layer
#define TOL_LOGITS 3e-2
#define TOL_LOSS 2e-2
#define TOL_GRAD 1.5e-1
#define TOL_GRAD_COS 0.99
#define TOL_STEP_LOSS 3e-2
#define TOL_PARAMS 2.5e-1
#define TOL_NU 2e-2
#define TOL_RATE 1e-2
#define TOL_ZERO_FRAC 2e-2
#endif

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

// a GPU training run of `steps` steps on one batch, reporting like cpuref_train
static void gpu_train(CudaContext* ctx, const GPT2Config* c, const float* params0, const int* inputs, const int* targets,
                      int B, int T, int steps, const RefHyper* hp, const DGGRConfig* dc, float grad_clip, CpuRefStep* info,
                      float* params_out) {
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
    }
    gpt2cuda_get_params(&model, params_out);
    gpt2cuda_free(&model);
}

// A run of 4 steps against 2 steps, a checkpoint through the trainers' files
// (train_checkpoint.h: weights, AdamW moments, BackSlash's moments), a new model from
// those files, and 2 more steps: the weights must be bit-identical.
static void check_resume(CudaContext* ctx, const GPT2Config* c, const float* params0, const int* inputs,
                         const int* targets, int B, int T, const DGGRConfig* dc) {
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
        for (int t = 1; t <= 4; t++) {
            if (pass == 1 && t == 3) { // checkpoint after step 2, then continue in a new model
                TrainProgress pr;
                memset(&pr, 0, sizeof(pr));
                pr.step = 2; pr.batch_size = B; pr.seq_len = T;
                gpt2cuda_get_params(&model, resumed);
                gpt2cuda_get_opt_state(&model, m, v);
                if (train_checkpoint_save(dir, c, resumed, m, v, &pr, &model.dggr, NULL) != BS_OK) die("%s", bs_error());
                gpt2cuda_free(&model);
                char path[1024];
                snprintf(path, sizeof(path), "%s/state_%08d.bin", dir, 2);
                TrainCheckpoint ck;
                if (train_checkpoint_load(path, &ck) != BS_OK) die("%s", bs_error());
                gpt2cuda_init(&model, ctx, &ck.config, ck.params, B, T, dc);
                gpt2cuda_set_opt_state(&model, ck.m, ck.v);
                if (dggr_state_read(&model.dggr, ck.dggr_section, ck.dggr_size, path) != BS_OK) die("%s", bs_error());
                train_checkpoint_free(&ck);
                snprintf(path, sizeof(path), "%s/state_%08d.bin", dir, 2);
                remove(path);
                snprintf(path, sizeof(path), "%s/model_%08d.bin", dir, 2);
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
    printf("resume through the checkpoint files after step 2 of 4:\n");
    report("weights: max |straight - resumed| (bit-identical)", max_abs_diff(straight, resumed, n), 0.0, 1);
    free(straight); free(resumed); free(m); free(v);
}

static void compare_training(CudaContext* ctx, const GPT2Config* c, const float* params0, const int* inputs,
                             const int* targets, int B, int T, const DGGRConfig* dc, const char* name) {
    const int steps = 10;
    // weight decay 0.1 (dggr.h applies it to the matrices and embeddings only)
    const RefHyper hp = {1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f};
    const float grad_clip = 1.0f;
    size_t n = gpt2_num_params(c);
    float* cpu_params = (float*)malloc_or_die(n * sizeof(float));
    float* gpu_params = (float*)malloc_or_die(n * sizeof(float));
    memcpy(cpu_params, params0, n * sizeof(float));
    CpuRefStep cpu[10], gpu[10];
    if (cpuref_train(c, cpu_params, inputs, targets, B, T, steps, &hp, dc, grad_clip, cpu) != BS_OK)
        die("cpu reference training: %s", bs_error());
    gpu_train(ctx, c, params0, inputs, targets, B, T, steps, &hp, dc, grad_clip, gpu, gpu_params);
    printf("%s: 10 steps, lambda %g, lr %g, clip %g\n", name, (double)dc->lambda, (double)hp.lr, (double)grad_clip);
    printf("  step  cpu loss   gpu loss   cpu nu   gpu nu   cpu R      gpu R\n");
    double worst_loss = 0.0;
    for (int t = 0; t < steps; t++) {
        printf("  %4d  %.6f  %.6f  %.4f   %.4f   %.4e %.4e\n", t + 1, cpu[t].loss, gpu[t].loss, cpu[t].nu, gpu[t].nu,
               cpu[t].rate, gpu[t].rate);
        worst_loss = fmax(worst_loss, fabs((double)cpu[t].loss - gpu[t].loss));
    }
    report("loss, worst step |diff|", worst_loss, TOL_STEP_LOSS, 1);
    // the loss must have moved: the comparison is of a real training run
    report("loss decrease over the run (cpu)", (double)cpu[0].loss - cpu[steps - 1].loss, 1e-3, 0);
    double diff2 = 0.0, change2 = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)gpu_params[i] - cpu_params[i], ch = (double)cpu_params[i] - params0[i];
        diff2 += d * d;
        change2 += ch * ch;
    }
    report("weights: ||gpu - cpu|| / ||cpu - initial||", sqrt(diff2 / (change2 + 1e-300)), TOL_PARAMS, 1);
    const CpuRefStep *a = &cpu[steps - 1], *b = &gpu[steps - 1];
    report("nu after the last step |diff|", fabs(a->nu - b->nu), TOL_NU, 1);
    report("rate R after the last step, relative diff", fabs(a->rate - b->rate) / fmax(fabs(a->rate), 1e-30), TOL_RATE, 1);
    report("zero fraction after the last step |diff|", fabs(a->zero_frac - b->zero_frac), TOL_ZERO_FRAC, 1);
    free(cpu_params); free(gpu_params);
}

int main(void) {
    int devices = cuda_device_count();
    if (devices == 0) {
        printf("test_gpt2cu (%s): no CUDA device (cudaGetDeviceCount found none): needs a GPU\n", FLOATX_NAME);
        return 77;
    }
    CudaContext ctx;
    cuda_context_init(&ctx, 0);
    cudaDeviceProp prop;
    cudaCheck(cudaGetDeviceProperties(&prop, 0));
    printf("test_gpt2cu: %s build on %s (sm_%d%d)\n", FLOATX_NAME, prop.name, prop.major, prop.minor);

    // a small GPT-2: 2 layers, 128 wide, 4 heads, vocabulary 1000 (padded to 1024), T = 64
    GPT2Config c = {64, 1000, 1024, 2, 4, 128};
    const int B = 4, T = 64, BT = B * T;
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
    gpt2cuda_init(&model, &ctx, &c, params, B, T, &dc);
    float* gpu_logits = (float*)malloc_or_die(nlogits * sizeof(float));
    printf("forward and backward, B=%d T=%d, L=%d C=%d NH=%d V=%d\n", B, T, c.num_layers, c.channels, c.num_heads, c.vocab_size);
    for (int lt = 1; lt >= 0; lt--) {
        ctx.use_lt_epilogue = lt;
        float loss = gpt2cuda_forward(&model, inputs, targets, B, T, 0.0f);
        gpt2cuda_get_logits(&model, gpu_logits);
        char what[96];
        snprintf(what, sizeof(what), "logits (%s), max |diff| / max|ref|", lt ? "cuBLASLt bias epilogue" : "cuBLAS + bias kernel");
        report(what, logits_error(gpu_logits, cpu_logits, BT, c.vocab_size, c.padded_vocab_size), TOL_LOGITS, 1);
        snprintf(what, sizeof(what), "loss |diff| (cpu %.6f, gpu %.6f)", cpu_loss, loss);
        report(what, fabs((double)loss - cpu_loss), TOL_LOSS, 1);
    }
    ctx.use_lt_epilogue = 1;
    // a smaller batch without targets, as sampling runs it: B' = 1, T' = 17 of the allocated (4, 64)
    {
        const int Ts = 17;
        float* cpu_small = (float*)malloc_or_die((size_t)Ts * c.padded_vocab_size * sizeof(float));
        if (cpuref_logits(&c, params, inputs, 1, Ts, cpu_small) != BS_OK) die("cpu reference: %s", bs_error());
        gpt2cuda_forward(&model, inputs, NULL, 1, Ts, 0.0f);
        gpt2cuda_get_logits(&model, gpu_logits);
        report("logits of a (1, 17) batch without targets", logits_error(gpu_logits, cpu_small, Ts, c.vocab_size,
               c.padded_vocab_size), TOL_LOGITS, 1);
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
    for (int g = 0; g < GPT2_NUM_PARAM_TENSORS; g++) {
        const float* a = cpu_grads + offs[g];
        const float* b = gpu_grads + offs[g];
        char what[96];
        snprintf(what, sizeof(what), "grad %-8s max |diff| / max|ref|", gpt2_param_names[g]);
        report(what, max_abs_diff(a, b, sizes[g]) / fmax(max_abs(a, sizes[g]), 1e-30), TOL_GRAD, 1);
        snprintf(what, sizeof(what), "grad %-8s cosine similarity", gpt2_param_names[g]);
        report(what, cosine(a, b, sizes[g]), TOL_GRAD_COS, 0);
    }
    report("gradients of a repeated pass: max |diff| (deterministic)", max_abs_diff(gpu_grads, gpu_grads2, n), 0.0, 1);
    gpt2cuda_free(&model);

    // --- training with BackSlash: both variants, global and per-tensor shapes
    DGGRConfig coupled = dggr_config_default();
    coupled.lambda = 1000.0f;
    coupled.variant = DGGR_COUPLED;
    coupled.shape_mode = DGGR_SHAPE_GLOBAL;
    compare_training(&ctx, &c, params, inputs, targets, B, T, &coupled, "coupled, global nu");
    DGGRConfig decoupled = dggr_config_default();
    decoupled.lambda = 1000.0f;
    decoupled.variant = DGGR_DECOUPLED;
    decoupled.shape_mode = DGGR_SHAPE_TENSOR;
    compare_training(&ctx, &c, params, inputs, targets, B, T, &decoupled, "decoupled, per-tensor nu");
    check_resume(&ctx, &c, params, inputs, targets, B, T, &coupled);

    free(params); free(inputs); free(targets); free(cpu_logits); free(cpu_grads); free(gpu_logits); free(gpu_grads);
    free(gpu_grads2);
    cuda_context_free(&ctx);
    if (failures) {
        printf("test_gpt2cu (%s): %d checks FAILED\n", FLOATX_NAME, failures);
        return 1;
    }
    printf("test_gpt2cu (%s): all checks passed\n", FLOATX_NAME);
    return 0;
}
