// See gpt2_cpu_reference.h.
#include "gpt2_cpu_reference.h"
#include "../../llmc/adamw.h"
#include "../../llmc/gpt2_cpu.h"

int cpuref_init_params(const GPT2Config* config, uint64_t seed, float* params) {
    GPT2 model;
    int rc = gpt2_init_random(&model, config, seed);
    if (rc != BS_OK) return rc;
    memcpy(params, model.params_memory, model.num_params * sizeof(float));
    gpt2_free(&model);
    return BS_OK;
}

// a model owning a copy of params, on the reference kernels
static int cpuref_model(GPT2* model, const GPT2Config* config, const float* params) {
    size_t n = gpt2_num_params(config);
    float* copy = (float*)malloc(n * sizeof(float));
    if (copy == NULL) return bs_error_set(BS_ENOMEM, "cpuref: out of memory");
    memcpy(copy, params, n * sizeof(float));
    gpt2_init_with_params(model, config, copy);
    model->use_reference_kernels = 1;
    return BS_OK;
}

int cpuref_forward_backward(const GPT2Config* config, const float* params, const int* inputs, const int* targets, int B,
                            int T, float* logits, float* loss, float* grads) {
    GPT2 model;
    int rc = cpuref_model(&model, config, params);
    if (rc != BS_OK) return rc;
    // the logits right after the forward: the backward may reuse their buffer
    if ((rc = gpt2_forward(&model, inputs, targets, B, T)) == BS_OK) {
        memcpy(logits, model.acts.logits, (size_t)B * T * config->padded_vocab_size * sizeof(float));
        *loss = model.mean_loss;
        if ((rc = gpt2_zero_grad(&model)) == BS_OK && (rc = gpt2_backward(&model)) == BS_OK)
            memcpy(grads, model.grads_memory, model.num_params * sizeof(float));
    }
    gpt2_free(&model);
    return rc;
}

int cpuref_logits(const GPT2Config* config, const float* params, const int* inputs, int B, int T, float* logits) {
    GPT2 model;
    int rc = cpuref_model(&model, config, params);
    if (rc != BS_OK) return rc;
    if ((rc = gpt2_forward(&model, inputs, NULL, B, T)) == BS_OK)
        memcpy(logits, model.acts.logits, (size_t)B * T * config->padded_vocab_size * sizeof(float));
    gpt2_free(&model);
    return rc;
}

int cpuref_train(const GPT2Config* config, float* params, const int* inputs, const int* targets, int B, int T,
                 int steps, const RefHyper* hp, const DGGRConfig* dggr_config, float grad_clip, CpuRefStep* info) {
    GPT2 model;
    DGGR d;
    int rc = cpuref_model(&model, config, params);
    if (rc != BS_OK) return rc;
    if ((rc = dggr_init_gpt2(&d, dggr_config, config)) != BS_OK) { gpt2_free(&model); return rc; }
    size_t n = model.num_params;
    float* m = (float*)calloc(n, sizeof(float));
    float* v = (float*)calloc(n, sizeof(float));
    if (m == NULL || v == NULL) { rc = bs_error_set(BS_ENOMEM, "cpuref: out of memory"); goto done; }
    dggr_measure(&d, model.params_memory);
    for (int t = 1; t <= steps; t++) {
        if ((rc = gpt2_forward(&model, inputs, targets, B, T)) != BS_OK || (rc = gpt2_zero_grad(&model)) != BS_OK ||
            (rc = gpt2_backward(&model)) != BS_OK)
            goto done;
        double norm = grad_norm_l2(model.grads_memory, n);
        float scale = grad_clip_scale(norm, grad_clip);
        dggr_step(&d, model.params_memory, model.grads_memory, m, v, hp->lr, hp->beta1, hp->beta2, hp->eps,
                  hp->weight_decay, scale, t, 1);
        CpuRefStep* s = &info[t - 1];
        s->loss = model.mean_loss;
        s->grad_norm = (float)norm;
        s->nu = d.nu;
        s->rate = d.rate;
        s->zero_frac = d.zero_frac;
        s->bits_per_param = d.bits_per_param;
    }
    memcpy(params, model.params_memory, n * sizeof(float));
done:
    free(m);
    free(v);
    dggr_free(&d);
    gpt2_free(&model);
    return rc;
}
