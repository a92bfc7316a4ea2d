/*
 test_gpt2.c: the CPU model against PyTorch. Usage: ./test_gpt2 DIR, where DIR holds
 model.bin and debug.bin from dev/test/gpt2_reference.py (float64 PyTorch: the format is
 described there). Checks, for the fast kernels (OpenBLAS) and for the reference kernels:
   logits         max |ours - ref|                   <= 2e-5   (logits are O(1))
                  (the fast path overwrites its logits with the probabilities, so there
                  the log-probabilities log p are compared with log_softmax(ref logits))
   loss           |ours - ref|                       <= 2e-6   (loss ~7.2)
   each gradient  max |ours - ref| / max |ref|       <= 1e-5   per grouped tensor
 and, fast kernels only, the loss at each of 10 AdamW steps with clipping on the same
 batch (gpt2_adamw_step, as the trainer): |ours - ref| <= 2e-5 (the loss falls from 7.2
 to 4.3 over the steps). Measured here: logits 2.4e-6, loss 0, gradients <= 1.1e-6
 relative, step losses <= 4.8e-7: the tolerances leave ~10x for other CPUs and BLAS
 builds while a wrong formula anywhere is off by far more.
 Exit 0 when everything is within tolerance.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "llmc/gpt2_cpu.h"
#include "llmc/utils.h"

#define TOL_LOGITS 2e-5
#define TOL_LOSS 2e-6
#define TOL_GRAD_REL 1e-5
#define TOL_STEP_LOSS 2e-5

static int failures = 0;

typedef struct {
    int B, T, steps, V, Vp;
    size_t num_params;
    float lr, beta1, beta2, eps, weight_decay, grad_clip;
    int* inputs;
    int* targets;
    float* logits; // (B, T, V)
    float loss;
    float* grads;
    float* step_losses;
} DebugState;

static void read_debug_state(const char* path, const GPT2* model, DebugState* d) {
    size_t size = 0;
    uint8_t* f = bs_read_file(path, (size_t)1 << 32, &size);
    if (f == NULL) die("%s", bs_error());
    if (size < 1024 || load_u32le(f) != 20241123 || load_u32le(f + 4) != 1) die("%s: not a version 1 debug state", path);
    d->B = (int)load_u32le(f + 8);
    d->T = (int)load_u32le(f + 12);
    d->steps = (int)load_u32le(f + 16);
    d->V = (int)load_u32le(f + 20);
    d->Vp = (int)load_u32le(f + 24);
    d->num_params = load_u32le(f + 28);
    float hp[6];
    memcpy(hp, f + 32, sizeof(hp));
    d->lr = hp[0]; d->beta1 = hp[1]; d->beta2 = hp[2]; d->eps = hp[3]; d->weight_decay = hp[4]; d->grad_clip = hp[5];
    if (d->V != model->config.vocab_size || d->Vp != model->config.padded_vocab_size || d->num_params != model->num_params ||
        d->B < 1 || d->T < 1 || d->T > model->config.max_seq_len || d->steps < 0 || d->steps > 1000)
        die("%s: header does not match the model", path);
    size_t BT = (size_t)d->B * d->T;
    size_t want = 1024 + 8 * BT + 4 * (BT * d->V + 1 + d->num_params + d->steps);
    if (size != want) die("%s: %zu bytes, expected %zu", path, size, want);
    const uint8_t* p = f + 1024;
    d->inputs = (int*)malloc_or_die(BT * sizeof(int));
    d->targets = (int*)malloc_or_die(BT * sizeof(int));
    d->logits = (float*)malloc_or_die(BT * d->V * sizeof(float));
    d->grads = (float*)malloc_or_die(d->num_params * sizeof(float));
    d->step_losses = (float*)malloc_or_die((size_t)(d->steps ? d->steps : 1) * sizeof(float));
    memcpy(d->inputs, p, BT * 4); p += BT * 4;
    memcpy(d->targets, p, BT * 4); p += BT * 4;
    memcpy(d->logits, p, BT * d->V * 4); p += BT * d->V * 4;
    memcpy(&d->loss, p, 4); p += 4;
    memcpy(d->grads, p, d->num_params * 4); p += d->num_params * 4;
    memcpy(d->step_losses, p, (size_t)d->steps * 4);
    free(f);
}

// forward + backward of the debug batch, compared with the reference
static void check_forward_backward(GPT2* model, const DebugState* d, const char* kernels) {
    printf("[%s kernels]\n", kernels);
    if (gpt2_forward(model, d->inputs, d->targets, d->B, d->T) != BS_OK) die("%s", bs_error());
    size_t BT = (size_t)d->B * d->T;
    double max_err = 0.0;
    int fast = !model->use_reference_kernels;
    for (size_t bt = 0; bt < BT; bt++) {
        const float* ref = d->logits + bt * d->V;
        double lse = 0.0, mx = -INFINITY; // log-sum-exp of the reference logits, in double
        for (int i = 0; i < d->V; i++) mx = ref[i] > mx ? ref[i] : mx;
        for (int i = 0; i < d->V; i++) lse += exp(ref[i] - mx);
        lse = mx + log(lse);
        for (int i = 0; i < d->V; i++) {
            double ours = fast ? log((double)model->acts.probs[bt * d->Vp + i]) : model->acts.logits[bt * d->Vp + i];
            double e = fabs(ours - (fast ? ref[i] - lse : ref[i]));
            if (!(e <= max_err)) max_err = e; // NaN propagates
        }
    }
    int ok = max_err <= TOL_LOGITS;
    failures += !ok;
    printf("  %-4s %s max abs err %.3e (tol %.0e)\n", ok ? "ok" : "FAIL", fast ? "log-probs" : "logits   ", max_err, TOL_LOGITS);
    double loss_err = fabs((double)model->mean_loss - d->loss);
    ok = loss_err <= TOL_LOSS;
    failures += !ok;
    printf("  %-4s loss     %.6f vs %.6f, err %.3e (tol %.0e)\n", ok ? "ok" : "FAIL", model->mean_loss, d->loss, loss_err, TOL_LOSS);

    if (gpt2_zero_grad(model) != BS_OK || gpt2_backward(model) != BS_OK) die("%s", bs_error());
    for (int g = 0; g < GPT2_NUM_PARAM_TENSORS; g++) {
        const float* ours = model->grads_memory + model->param_offsets[g];
        const float* ref = d->grads + model->param_offsets[g];
        double err = 0.0, scale = 0.0;
        for (size_t i = 0; i < model->param_sizes[g]; i++) {
            double e = fabs((double)ours[i] - ref[i]);
            if (!(e <= err)) err = e;
            if (fabs(ref[i]) > scale) scale = fabs(ref[i]);
        }
        double rel = scale > 0 ? err / scale : err;
        ok = rel <= TOL_GRAD_REL && scale > 0;
        failures += !ok;
        printf("  %-4s d%-9s max abs err %.3e, max |ref| %.3e, relative %.3e (tol %.0e)\n", ok ? "ok" : "FAIL",
               gpt2_param_names[g], err, scale, rel, TOL_GRAD_REL);
    }
}

int main(int argc, char** argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR   (DIR from /usr/bin/python3 dev/test/gpt2_reference.py DIR)\n", argv[0]);
        return 1;
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/model.bin", argv[1]);
    GPT2 model;
    if (gpt2_load_checkpoint(&model, path) != BS_OK) die("%s", bs_error());
    snprintf(path, sizeof(path), "%s/debug.bin", argv[1]);
    DebugState d;
    read_debug_state(path, &model, &d);
    printf("model L=%d C=%d NH=%d V=%d (Vp %d), batch %dx%d, %zu parameters\n", model.config.num_layers,
           model.config.channels, model.config.num_heads, d.V, d.Vp, d.B, d.T, model.num_params);

    float* initial = (float*)malloc_or_die(model.num_params * sizeof(float));
    memcpy(initial, model.params_memory, model.num_params * sizeof(float));

    model.use_reference_kernels = 1;
    check_forward_backward(&model, &d, "reference");
    model.use_reference_kernels = 0;
    check_forward_backward(&model, &d, "fast");

    // training: AdamW with clipping on the same batch, as the trainer does it
    printf("[%d AdamW steps, fast kernels, lr %g, betas %g %g, weight decay %g, clip %g]\n", d.steps, d.lr,
           d.beta1, d.beta2, d.weight_decay, d.grad_clip);
    memcpy(model.params_memory, initial, model.num_params * sizeof(float));
    float* m = (float*)calloc_or_die(model.num_params, sizeof(float));
    float* v = (float*)calloc_or_die(model.num_params, sizeof(float));
    for (int s = 0; s < d.steps; s++) {
        if (gpt2_forward(&model, d.inputs, d.targets, d.B, d.T) != BS_OK) die("%s", bs_error());
        if (gpt2_zero_grad(&model) != BS_OK || gpt2_backward(&model) != BS_OK) die("%s", bs_error());
        float scale = grad_clip_scale(grad_norm_l2(model.grads_memory, model.num_params), d.grad_clip);
        gpt2_adamw_step(&model, m, v, d.lr, d.beta1, d.beta2, d.eps, d.weight_decay, scale, s + 1);
        double err = fabs((double)model.mean_loss - d.step_losses[s]);
        int ok = err <= TOL_STEP_LOSS;
        failures += !ok;
        printf("  %-4s step %2d loss %.6f vs %.6f, err %.3e (tol %.0e)\n", ok ? "ok" : "FAIL", s, model.mean_loss,
               d.step_losses[s], err, TOL_STEP_LOSS);
    }
    if (d.steps > 1 && !(d.step_losses[d.steps - 1] < d.step_losses[0] - 0.5)) {
        failures++;
        printf("  FAIL the reference's loss does not fall over the steps: the test would not see a wrong update\n");
    }

    free(m); free(v); free(initial);
    free(d.inputs); free(d.targets); free(d.logits); free(d.grads); free(d.step_losses);
    gpt2_free(&model);
    printf(failures ? "FAILED: %d checks\n" : "all checks passed\n", failures);
    return failures ? 1 : 0;
}
