// ./generate's model (llmc/gpt2_infer.h) against the training code's forward (gpt2_cpu.h,
// reference kernels) on the same weights, for every weight form:
//   - the logits after each token fed one at a time (the KV cache), and after prefills of
//     several positions (blocks of GPT2_INFER_BLOCK, compiled small here), within
//     2e-4 + 2e-4 |logit| of the training forward's logits at that position;
//   - bf16 against the training forward on bf16-rounded weight matrices;
//   - greedy continuation identical across the exact forms (fp32, levels, bitmap, csr, auto, measure)
//     and equal to the training forward's argmax at each step;
//   - a token past the context or outside the vocabulary refused.
// Usage: test_gpt2_infer MODEL (a .bsz or llm.c .bin with max_seq_len >= 24)
#include <stdio.h>
#include <stdlib.h>
#include "../../llmc/gpt2_cpu.h"
#include "../../llmc/gpt2_infer.h"
#include "../../llmc/sampler.h"

#define N_TOKENS 24
#define GREEDY_PROMPT 4

static int failures = 0;

static int close_logits(const char* what, int pos, const float* got, const float* want, int V) {
    double worst = 0.0;
    int at = 0;
    for (int i = 0; i < V; i++) {
        double d = fabs((double)got[i] - want[i]) - (2e-4 + 2e-4 * fabs((double)want[i]));
        if (d > worst) { worst = d; at = i; }
    }
    if (worst > 0.0) {
        printf("FAIL %s position %d: logit %d is %.7g, the training forward's %.7g\n", what, pos, at, (double)got[at], (double)want[at]);
        failures++;
        return 0;
    }
    return 1;
}

// the training forward's logits (T, Vp) over tokens, from params (copied)
static float* reference_logits(const GPT2Config* c, const float* params, const int* tokens, int T) {
    GPT2 model;
    memset(&model, 0, sizeof(model));
    size_t n = gpt2_num_params(c);
    float* p = (float*)malloc_or_die(n * sizeof(float));
    memcpy(p, params, n * sizeof(float));
    gpt2_init_with_params(&model, c, p);
    model.use_reference_kernels = 1;
    if (gpt2_forward(&model, tokens, NULL, 1, T) != BS_OK) die("%s", bs_error());
    size_t Vp = (size_t)c->padded_vocab_size;
    float* out = (float*)malloc_or_die((size_t)T * Vp * sizeof(float));
    memcpy(out, model.acts.logits, (size_t)T * Vp * sizeof(float));
    gpt2_free(&model);
    return out;
}

int main(int argc, char** argv) {
    if (argc != 2 && argc != 3) { fprintf(stderr, "usage: %s MODEL [ZERO_ROWS]\n", argv[0]); return 2; }
    const char* path = argv[1];
    { // gpt2_exp against expf, gpt2_gelu against gelu_forward (cpu_kernels.h)
        double worst_exp = 0.0, worst_gelu = 0.0;
        enum { NG = 20001 };
        static float gx[NG], g1[NG], g2[NG];
        for (int i = 0; i < NG; i++) {
            float x = -87.0f + 175.0f * (float)i / (NG - 1);
            double e = expf(x), rel = fabs((double)gpt2_exp(x) - e) / e;
            if (rel > worst_exp) worst_exp = rel;
            gx[i] = -12.0f + 24.0f * (float)i / (NG - 1);
        }
        gelu_forward(g1, gx, NG);
        gpt2_gelu(g2, gx, NG);
        for (int i = 0; i < NG; i++) {
            double d = fabs((double)g1[i] - g2[i]) / (fabs((double)gx[i]) + 1e-3);
            if (d > worst_gelu) worst_gelu = d;
        }
        printf("gpt2_exp: worst relative error %.2e against expf on [-87, 88]; gpt2_gelu: worst |diff| / |x| %.2e\n", worst_exp, worst_gelu);
        if (worst_exp > 1e-6 || worst_gelu > 1e-6 || !(gpt2_exp(-200.0f) < 1e-37f) || !isfinite(gpt2_exp(200.0f))) {
            printf("FAIL gpt2_exp / gpt2_gelu\n");
            failures++;
        }
    }
    long want_zero_rows = argc == 3 ? atol(argv[2]) : 0; // the level forms must leave out at least this many wte rows
    GPT2 loaded;
    memset(&loaded, 0, sizeof(loaded));
    if (gpt2_load_checkpoint(&loaded, path) != BS_OK) die("%s", bs_error());
    GPT2Config c = loaded.config;
    if (c.max_seq_len < N_TOKENS) die("%s: max_seq_len %d < %d", path, c.max_seq_len, N_TOKENS);
    int V = c.vocab_size, Vp = c.padded_vocab_size;
    int tokens[N_TOKENS];
    Rng rng;
    rng_init(&rng, 42);
    for (int i = 0; i < N_TOKENS; i++) tokens[i] = (int)rng_below(&rng, (uint64_t)V);
    float* ref = reference_logits(&c, loaded.params_memory, tokens, N_TOKENS);
    // the same with bf16-rounded weight matrices (the bf16 form's weights)
    size_t sizes[GPT2_NUM_PARAM_TENSORS], offsets[GPT2_NUM_PARAM_TENSORS];
    gpt2_param_sizes(&c, sizes);
    gpt2_param_offsets(&c, offsets);
    float* rounded = (float*)malloc_or_die(loaded.num_params * sizeof(float));
    memcpy(rounded, loaded.params_memory, loaded.num_params * sizeof(float));
    for (int g = 0; g < GPT2_NUM_PARAM_TENSORS; g++)
        if (gpt2_param_is_matrix(g))
            for (size_t i = 0; i < sizes[g]; i++) rounded[offsets[g] + i] = wf_float_from_bf16(wf_bf16_from_float(rounded[offsets[g] + i]));
    float* ref_bf16 = reference_logits(&c, rounded, tokens, N_TOKENS);

    int greedy_first[N_TOKENS]; // the first exact form's greedy continuation of the first GREEDY_PROMPT tokens
    int have_greedy = 0;

    const int forms[] = {WF_FP32, WF_BF16, WF_LEVELS, WF_BITMAP, WF_CSR, GPT2_FORM_AUTO, GPT2_FORM_MEASURE, GPT2_FORM_SMALL};
    for (size_t fi = 0; fi < sizeof(forms) / sizeof(forms[0]); fi++) {
        int form = forms[fi];
        const char* name = form == GPT2_FORM_AUTO ? "auto" : form == GPT2_FORM_MEASURE ? "measure" : form == GPT2_FORM_SMALL ? "small" : wf_form_names[form];
        GPT2InferOptions o = gpt2_infer_default_options();
        o.form = form;
        o.context = N_TOKENS;
        o.measure_flush_bytes = 1 << 20; // a small sweep: the choice, not its quality, is tested here
        GPT2Infer m;
        if (gpt2_infer_load(&m, path, &o) != BS_OK) { printf("FAIL %s: load: %s\n", name, bs_error()); failures++; continue; }
        const float* want = form == WF_BF16 ? ref_bf16 : ref;
        int ok = 1;
        // one token at a time
        for (int t = 0; t < N_TOKENS && ok; t++) {
            if (gpt2_infer_forward(&m, &tokens[t], 1) != BS_OK) die("%s", bs_error());
            ok = close_logits(name, t, m.logits, want + (size_t)t * Vp, Vp);
        }
        // prefills: 1, then 13 (several blocks), then the rest
        gpt2_infer_reset(&m);
        const int cuts[] = {0, 1, 14, N_TOKENS}; // 13 and 10 positions: blocks of GPT2_INFER_BLOCK (8) and a rest
        for (int k = 0; k < 3 && ok; k++) {
            if (gpt2_infer_forward(&m, tokens + cuts[k], cuts[k + 1] - cuts[k]) != BS_OK) die("%s", bs_error());
            ok = close_logits(name, cuts[k + 1] - 1, m.logits, want + (size_t)(cuts[k + 1] - 1) * Vp, Vp);
        }
        // bad input: past the context, a token outside the vocabulary
        int bad = V;
        if (gpt2_infer_forward(&m, tokens, 1) == BS_OK) { printf("FAIL %s: a token past the context accepted\n", name); failures++; }
        gpt2_infer_reset(&m);
        if (gpt2_infer_forward(&m, &bad, 1) == BS_OK) { printf("FAIL %s: token id %d accepted\n", name, bad); failures++; }
        // greedy continuation: the same for every exact form
        if (form != WF_BF16) {
            int seq[N_TOKENS];
            memcpy(seq, tokens, sizeof(seq));
            gpt2_infer_reset(&m);
            if (gpt2_infer_forward(&m, seq, GREEDY_PROMPT) != BS_OK) die("%s", bs_error());
            for (int t = GREEDY_PROMPT; t < N_TOKENS; t++) {
                seq[t] = sampler_argmax(m.logits, V);
                if (t + 1 < N_TOKENS && gpt2_infer_forward(&m, &seq[t], 1) != BS_OK) die("%s", bs_error());
            }
            if (!have_greedy) { memcpy(greedy_first, seq, sizeof(seq)); have_greedy = 1; }
            if (memcmp(seq, greedy_first, sizeof(seq)) != 0) { printf("FAIL %s: greedy output differs from fp32's\n", name); failures++; }
        }
        printf("%-6s %8.3f MiB of weights (fp32 %8.3f MiB), wte rows: %d in the form, %u shared, %u zero left out; %s\n",
               name, m.weight_bytes / 1048576.0, 4.0 * m.matrix_params / 1048576.0, m.wte.rows, m.shared_rows, m.zero_rows,
               ok ? "logits match" : "logits differ");
        if ((form == WF_LEVELS || form == WF_BITMAP || form == WF_CSR) && (long)m.zero_rows < want_zero_rows) {
            printf("FAIL %s: %u zero wte rows left out, expected at least %ld\n", name, m.zero_rows, want_zero_rows);
            failures++;
        }
        if (m.wte.rows + (int)m.shared_rows + (int)m.zero_rows != Vp) { printf("FAIL %s: wte rows do not add up to %d\n", name, Vp); failures++; }
        gpt2_infer_free(&m);
    }
    // the greedy tokens are the training forward's argmax at every step
    float* l = reference_logits(&c, loaded.params_memory, greedy_first, N_TOKENS);
    for (int t = GREEDY_PROMPT; t < N_TOKENS; t++) {
        int want = sampler_argmax(l + (size_t)(t - 1) * Vp, V);
        if (greedy_first[t] != want) { printf("FAIL greedy token %d is %d, the training forward's argmax %d\n", t, greedy_first[t], want); failures++; break; }
    }
    free(l);
    free(ref); free(ref_bf16); free(rounded);
    gpt2_free(&loaded);
    if (failures) { printf("FAIL (%d)\n", failures); return 1; }
    printf("PASS\n");
    return 0;
}
