/*
 classifier.h: a sequence classifier on top of GPT-2 (the paper's Spam row: BackSlash
 fine-tuning of a pretrained LM for classification), used by `train_gpt2 -cls 1`.

 The path: a labeled token file (labeled_tokens.h: one message per record, a label in
 0..K-1) -> batches of B messages, each truncated to its first T tokens and padded on the
 right with <|endoftext|> (classifier_batch) -> the model's forward pass up to the final
 hidden states lnf (B,T,C) (gpt2_forward_hidden; attention is causal, so the padding after
 a message does not change its states) -> the linear head on the state at each message's
 last token t_b:
     logits_b = W h_b + c,    h_b = lnf[b, t_b, :],   W (K, C), c (K)
     loss     = (1/B) sum_b -log softmax(logits_b)[y_b]
 -> the backward pass: dlogits_b = (softmax(logits_b) - onehot(y_b)) / B,
     dW += sum_b dlogits_b h_b^T,  dc += sum_b dlogits_b,  dlnf[b, t_b, :] = W^T dlogits_b
 (zero elsewhere) -> gpt2_backward_hidden down to the embeddings.

 The head's parameters (K C + K floats) are one flat array like the model's, trained by
 plain AdamW beside the model's optimizer step (which carries BackSlash's rate term).
*/
#ifndef LLMC_CLASSIFIER_H
#define LLMC_CLASSIFIER_H

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "gpt2_cpu.h"
#include "labeled_tokens.h"
#include "rng.h"
#include "utils.h"

#define CLASSIFIER_PAD_TOKEN 50256 // <|endoftext|>

typedef struct {
    int C, K;          // width of the hidden states, number of classes
    size_t num_params; // K C + K
    float* params;     // W (K, C) then c (K)
    float* grads;      // same layout
    float* m;          // AdamW moments, same layout
    float* v;
    float* probs;      // (maxB, K) softmax of the last forward pass
    int max_B;
} ClassifierHead;

static inline void classifier_free(ClassifierHead* h) {
    free(h->params); free(h->grads); free(h->m); free(h->v); free(h->probs);
    memset(h, 0, sizeof(*h));
}

// W ~ normal(0, 0.02) (GPT-2's initialisation of a linear layer), c = 0; for batches of up to max_B
static inline int classifier_init(ClassifierHead* h, int C, int K, int max_B, uint64_t seed) {
    memset(h, 0, sizeof(*h));
    if (C < 1 || K < 2 || max_B < 1) return bs_error_set(BS_EINVAL, "classifier: C %d, K %d, B %d (need C, B >= 1, K >= 2)", C, K, max_B);
    h->C = C; h->K = K; h->max_B = max_B;
    h->num_params = (size_t)K * C + K;
    h->params = (float*)calloc(h->num_params, sizeof(float));
    h->grads = (float*)calloc(h->num_params, sizeof(float));
    h->m = (float*)calloc(h->num_params, sizeof(float));
    h->v = (float*)calloc(h->num_params, sizeof(float));
    h->probs = (float*)calloc((size_t)max_B * K, sizeof(float));
    if (!h->params || !h->grads || !h->m || !h->v || !h->probs) { classifier_free(h); return bs_error_set(BS_ENOMEM, "classifier: out of memory"); }
    for (size_t i = 0; i < (size_t)K * C; i++) h->params[i] = 0.02f * rng_normal_at(seed, i);
    return BS_OK;
}

// Builds a batch of the n <= B messages idx[0..n) of lt: inputs (n, T) (the first T tokens
// of each message, padded with <|endoftext|>), last (n) (the position of its last token;
// an empty message is one pad token at 0), labels (n).
static inline void classifier_batch(const LabeledTokens* lt, const size_t* idx, int n, int T, int* inputs, int* last, int* labels) {
    for (int b = 0; b < n; b++) {
        size_t i = idx[b];
        size_t len = (size_t)(lt->offsets[i + 1] - lt->offsets[i]);
        if (len > (size_t)T) len = (size_t)T;
        const uint16_t* tok = lt->tokens + lt->offsets[i];
        for (int t = 0; t < T; t++) inputs[(size_t)b * T + t] = (size_t)t < len ? (int)tok[t] : CLASSIFIER_PAD_TOKEN;
        last[b] = len > 0 ? (int)len - 1 : 0;
        labels[b] = (int)lt->labels[i];
    }
}

// The head on lnf (B,T,C) at positions last (B): fills h->probs (B,K). With labels, returns
// the mean cross-entropy; without (NULL), 0.
static inline float classifier_forward(ClassifierHead* h, const float* lnf, const int* last, const int* labels, int B, int T) {
    int C = h->C, K = h->K;
    const float* W = h->params;
    const float* c = h->params + (size_t)K * C;
    double loss = 0.0;
    for (int b = 0; b < B; b++) {
        const float* hb = lnf + ((size_t)b * T + last[b]) * C;
        float* p = h->probs + (size_t)b * K;
        float maxv = -INFINITY;
        for (int k = 0; k < K; k++) {
            float s = c[k];
            for (int i = 0; i < C; i++) s += W[(size_t)k * C + i] * hb[i];
            p[k] = s;
            if (s > maxv) maxv = s;
        }
        float sum = 0.0f;
        for (int k = 0; k < K; k++) { p[k] = expf(p[k] - maxv); sum += p[k]; }
        for (int k = 0; k < K; k++) p[k] /= sum;
        if (labels != NULL) loss -= log((double)fmaxf(p[labels[b]], 1e-30f));
    }
    return labels != NULL ? (float)(loss / B) : 0.0f;
}

// the predicted class of row b of the last forward pass (ties: the lower class)
static inline int classifier_predict(const ClassifierHead* h, int b) {
    const float* p = h->probs + (size_t)b * h->K;
    int best = 0;
    for (int k = 1; k < h->K; k++) if (p[k] > p[best]) best = k;
    return best;
}

// Backward of the mean cross-entropy of the last forward pass: ACCUMULATES the head's
// gradient into h->grads and WRITES W^T dlogits into dlnf at each row's last position
// (dlnf (B,T,C) must be zero elsewhere: gpt2_backward_prepare zeroes it).
static inline void classifier_backward(ClassifierHead* h, const float* lnf, const int* last, const int* labels, int B, int T, float* dlnf) {
    int C = h->C, K = h->K;
    const float* W = h->params;
    float* dW = h->grads;
    float* dc = h->grads + (size_t)K * C;
    for (int b = 0; b < B; b++) {
        const float* hb = lnf + ((size_t)b * T + last[b]) * C;
        float* dhb = dlnf + ((size_t)b * T + last[b]) * C;
        const float* p = h->probs + (size_t)b * K;
        for (int k = 0; k < K; k++) {
            float dlogit = (p[k] - (k == labels[b] ? 1.0f : 0.0f)) / (float)B;
            dc[k] += dlogit;
            for (int i = 0; i < C; i++) {
                dW[(size_t)k * C + i] += dlogit * hb[i];
                dhb[i] += W[(size_t)k * C + i] * dlogit;
            }
        }
    }
}

// Forward and backward of the model with the head over one batch: the model's and the
// head's gradients are zeroed first. Returns BS_OK and the mean loss in *loss.
static inline int classifier_forward_backward(GPT2* model, ClassifierHead* h, const int* inputs, const int* last,
                                              const int* labels, int B, int T, float* loss) {
    int rc = gpt2_forward_hidden(model, inputs, NULL, B, T);
    if (rc == BS_OK) rc = gpt2_zero_grad(model);
    if (rc == BS_OK) rc = gpt2_backward_prepare(model);
    if (rc != BS_OK) return rc;
    memset(h->grads, 0, h->num_params * sizeof(float));
    *loss = classifier_forward(h, model->acts.lnf, last, labels, B, T);
    classifier_backward(h, model->acts.lnf, last, labels, B, T, model->grads_acts.lnf);
    gpt2_backward_hidden(model);
    return BS_OK;
}

// Accuracy and mean cross-entropy over every message of lt, in batches of up to B
typedef struct {
    double accuracy, loss;
    size_t count;
} ClassifierEval;

static inline int classifier_evaluate(GPT2* model, ClassifierHead* h, const LabeledTokens* lt, int B, int T, ClassifierEval* out) {
    memset(out, 0, sizeof(*out));
    int* inputs = (int*)malloc((size_t)B * T * sizeof(int));
    int* last = (int*)malloc((size_t)B * sizeof(int));
    int* labels = (int*)malloc((size_t)B * sizeof(int));
    size_t* idx = (size_t*)malloc((size_t)B * sizeof(size_t));
    int rc = BS_OK;
    if (!inputs || !last || !labels || !idx) { rc = bs_error_set(BS_ENOMEM, "classifier eval: out of memory"); goto done; }
    size_t correct = 0;
    double loss_sum = 0.0;
    for (size_t start = 0; start < lt->num_messages; start += (size_t)B) {
        int n = (int)(lt->num_messages - start < (size_t)B ? lt->num_messages - start : (size_t)B);
        for (int b = 0; b < n; b++) idx[b] = start + (size_t)b;
        classifier_batch(lt, idx, n, T, inputs, last, labels);
        if ((rc = gpt2_forward_hidden(model, inputs, NULL, n, T)) != BS_OK) goto done;
        loss_sum += (double)classifier_forward(h, model->acts.lnf, last, labels, n, T) * n;
        for (int b = 0; b < n; b++) correct += classifier_predict(h, b) == labels[b];
    }
    out->count = lt->num_messages;
    out->accuracy = lt->num_messages ? (double)correct / (double)lt->num_messages : 0.0;
    out->loss = lt->num_messages ? loss_sum / (double)lt->num_messages : 0.0;
done:
    free(inputs); free(last); free(labels); free(idx);
    return rc;
}

// the accuracy of always answering the most frequent class of `train` on `test`
static inline double classifier_majority_accuracy(const LabeledTokens* train, const LabeledTokens* test) {
    size_t counts[256] = {0};
    int K = train->num_classes < 256 ? train->num_classes : 256, best = 0;
    for (size_t i = 0; i < train->num_messages; i++) if (train->labels[i] < (uint32_t)K) counts[train->labels[i]]++;
    for (int k = 1; k < K; k++) if (counts[k] > counts[best]) best = k;
    size_t hits = 0;
    for (size_t i = 0; i < test->num_messages; i++) hits += test->labels[i] == (uint32_t)best;
    return test->num_messages ? (double)hits / (double)test->num_messages : 0.0;
}

#endif // LLMC_CLASSIFIER_H
