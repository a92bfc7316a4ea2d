/*
 Tests of llmc/classifier.h on a tiny random GPT-2 (1 layer, 16 wide, vocabulary 50257):
 - the gradient of the classification loss (the head on the last token's final hidden
   state) against central finite differences, for head weights and bias and for model
   weights reached only through gpt2_backward_hidden (wte rows of used tokens, qkvw, fcw,
   ln1w, lnfw), with the reference kernels and with the fast path;
 - right padding does not change a message's probabilities (causal attention), and a
   message longer than T is cut to its first T tokens;
 - classifier_evaluate's accuracy and loss agree with classifier_forward on one batch;
 - the majority-class baseline.
 Runs in about a second.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "../../llmc/classifier.h"
#include "../../llmc/gpt2_cpu.h"

static int failures = 0;
#define CHECK(cond, ...) do { if (!(cond)) { failures++; printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); } } while (0)

// 4 messages: lengths 5, 8, 3, 11 (the last one is cut at T = 8), labels 0 1 1 0
static void make_messages(LabeledTokens* lt) {
    static const int lens[4] = {5, 8, 3, 11};
    static const uint32_t labels[4] = {0, 1, 1, 0};
    memset(lt, 0, sizeof(*lt));
    lt->num_messages = 4;
    lt->num_classes = 2;
    lt->labels = (uint32_t*)malloc_or_die(4 * sizeof(uint32_t));
    lt->offsets = (uint64_t*)malloc_or_die(5 * sizeof(uint64_t));
    size_t total = 0;
    for (int i = 0; i < 4; i++) total += (size_t)lens[i];
    lt->tokens = (uint16_t*)malloc_or_die(total * sizeof(uint16_t));
    lt->num_tokens = total;
    size_t at = 0;
    for (int i = 0; i < 4; i++) {
        lt->labels[i] = labels[i];
        lt->offsets[i] = at;
        for (int t = 0; t < lens[i]; t++) lt->tokens[at++] = (uint16_t)(1000 + 37 * i + 11 * t);
    }
    lt->offsets[4] = at;
}

static double batch_loss(GPT2* model, ClassifierHead* h, const int* inputs, const int* last, const int* labels, int B, int T) {
    if (gpt2_forward_hidden(model, inputs, NULL, B, T) != BS_OK) { printf("forward: %s\n", bs_error()); exit(1); }
    return classifier_forward(h, model->acts.lnf, last, labels, B, T);
}

// central differences of the loss in one parameter against the analytic gradient
static void check_param(GPT2* model, ClassifierHead* h, float* w, float analytic, const char* what,
                        const int* inputs, const int* last, const int* labels, int B, int T, double* worst) {
    float saved = *w, eps = 1e-2f;
    *w = saved + eps;
    double lp = batch_loss(model, h, inputs, last, labels, B, T);
    *w = saved - eps;
    double lm = batch_loss(model, h, inputs, last, labels, B, T);
    *w = saved;
    double fd = (lp - lm) / (2.0 * eps);
    double err = fabs(fd - analytic) / (1e-4 + fabs(fd));
    if (err > *worst) *worst = err;
    CHECK(fabs(fd - analytic) <= 2e-4 + 2e-2 * fabs(fd), "%s: finite difference %.6g, backward %.6g", what, fd, (double)analytic);
}

static void gradient_check(int reference) {
    GPT2Config c;
    if (gpt2_config_from_spec("d1w16h2t16", &c) != BS_OK) { printf("%s\n", bs_error()); exit(1); }
    GPT2 model;
    if (gpt2_init_random(&model, &c, 5) != BS_OK) { printf("%s\n", bs_error()); exit(1); }
    model.use_reference_kernels = reference;
    int alloc[4 * 16] = {0}; // the activations for up to 4 x 16 (the padding check runs T = 16)
    CHECK(gpt2_forward_hidden(&model, alloc, NULL, 4, 16) == BS_OK, "allocate: %s", bs_error());
    // larger LayerNorm gains than the initial 1 make the hidden states less uniform
    for (int i = 0; i < 16; i++) model.params.lnfw[i] = 1.0f + 0.3f * rng_normal_at(9, (uint64_t)i);
    ClassifierHead h;
    CHECK(classifier_init(&h, 16, 2, 4, 77) == BS_OK, "init: %s", bs_error());
    for (size_t i = 0; i < h.num_params; i++) h.params[i] = 0.5f * rng_normal_at(78, i); // a head that is not near zero
    LabeledTokens lt;
    make_messages(&lt);
    int B = 4, T = 8, inputs[32], last[4], labels[4];
    size_t idx[4] = {0, 1, 2, 3};
    classifier_batch(&lt, idx, B, T, inputs, last, labels);
    CHECK(last[0] == 4 && last[1] == 7 && last[2] == 2 && last[3] == 7, "last positions %d %d %d %d", last[0], last[1], last[2], last[3]);
    CHECK(inputs[5] == CLASSIFIER_PAD_TOKEN && inputs[3 * 8 + 7] == 1000 + 37 * 3 + 11 * 7, "padding / truncation");
    float loss = 0.0f;
    CHECK(classifier_forward_backward(&model, &h, inputs, last, labels, B, T, &loss) == BS_OK, "fwd/bwd: %s", bs_error());
    // copies of the gradients (the finite differences run more forward passes)
    float* gmodel = (float*)malloc_or_die(model.num_params * sizeof(float));
    float* ghead = (float*)malloc_or_die(h.num_params * sizeof(float));
    memcpy(gmodel, model.grads_memory, model.num_params * sizeof(float));
    memcpy(ghead, h.grads, h.num_params * sizeof(float));
    double worst = 0.0;
    char what[64];
    for (size_t i = 0; i < h.num_params; i += 3) {
        snprintf(what, sizeof(what), "head[%zu]", i);
        check_param(&model, &h, h.params + i, ghead[i], what, inputs, last, labels, B, T, &worst);
    }
    struct { const char* name; float* base; size_t count; } tensors[] = {
        {"wte (token 1000)", model.params.wte + 1000 * 16, 16},
        {"wte (token 1048)", model.params.wte + 1048 * 16, 16},
        {"qkvw", model.params.qkvw, 3 * 16 * 16},
        {"fcw", model.params.fcw, 4 * 16 * 16},
        {"ln1w", model.params.ln1w, 16},
        {"lnfw", model.params.lnfw, 16},
    };
    for (size_t t = 0; t < sizeof(tensors) / sizeof(tensors[0]); t++) {
        for (size_t i = 0; i < tensors[t].count; i += (tensors[t].count > 64 ? 37 : 1)) {
            float* w = tensors[t].base + i;
            snprintf(what, sizeof(what), "%s[%zu]%s", tensors[t].name, i, reference ? " (reference)" : " (fast)");
            check_param(&model, &h, w, gmodel[w - model.params_memory], what, inputs, last, labels, B, T, &worst);
        }
    }
    printf("gradient check (%s kernels): worst relative error %.3g\n", reference ? "reference" : "fast", worst);

    // padding: message 2 alone, at T = 8 and at T = 16, has the same probabilities
    float p8[2], p16[2];
    int in16[16], last16, lab16;
    size_t two = 2;
    batch_loss(&model, &h, inputs + 2 * 8, last + 2, labels + 2, 1, 8);
    memcpy(p8, h.probs, sizeof(p8));
    classifier_batch(&lt, &two, 1, 16, in16, &last16, &lab16);
    batch_loss(&model, &h, in16, &last16, &lab16, 1, 16);
    memcpy(p16, h.probs, sizeof(p16));
    CHECK(fabsf(p8[0] - p16[0]) < 1e-6f && fabsf(p8[1] - p16[1]) < 1e-6f, "padding changed the probabilities: %g vs %g", (double)p8[0], (double)p16[0]);

    // evaluate (batches of 3 and 1) against one forward pass of all four
    double expect_loss = batch_loss(&model, &h, inputs, last, labels, B, T);
    int correct = 0;
    for (int b = 0; b < B; b++) correct += classifier_predict(&h, b) == labels[b];
    ClassifierEval ev;
    CHECK(classifier_evaluate(&model, &h, &lt, 3, T, &ev) == BS_OK, "evaluate: %s", bs_error());
    CHECK(ev.count == 4 && fabs(ev.accuracy - correct / 4.0) < 1e-12 && fabs(ev.loss - expect_loss) < 1e-5,
          "evaluate: acc %g loss %g, expected %g %g", ev.accuracy, ev.loss, correct / 4.0, expect_loss);
    // majority: train labels 0 1 1 0 plus one more 1 -> class 1; on lt, 2 of 4
    LabeledTokens tr = lt;
    uint32_t more[5] = {0, 1, 1, 0, 1};
    tr.labels = more;
    tr.num_messages = 5;
    CHECK(fabs(classifier_majority_accuracy(&tr, &lt) - 0.5) < 1e-12, "majority accuracy");

    free(gmodel);
    free(ghead);
    labeled_tokens_free(&lt);
    classifier_free(&h);
    gpt2_free(&model);
}

int main(void) {
    gradient_check(1);
    gradient_check(0);
    if (failures) { printf("%d failures\n", failures); return 1; }
    printf("classifier: all checks passed\n");
    return 0;
}
