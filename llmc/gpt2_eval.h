/*
 gpt2_eval.h: the validation loss of a GPT-2 model, one definition for the trainer's
 periodic evaluations (train_gpt2.c) and for eval_gpt2.c (pruned or quantized models), so
 that a val loss in a training log and one from eval_gpt2 on the same weights, batches
 and (B, T) are the same number.

 The loss is the mean next-token cross-entropy (nats) over the first max_batches
 sequential batches of the loader (all of them if there are fewer), each batch weighted
 equally (they are all B x T tokens).
*/
#ifndef LLMC_GPT2_EVAL_H
#define LLMC_GPT2_EVAL_H

#include "dataloader.h"
#include "gpt2_cpu.h"

// the number of batches gpt2_validation_loss averages over
static inline size_t gpt2_validation_batches(const DataLoader* val, int max_batches) {
    size_t n = dataloader_num_batches(val);
    return max_batches > 0 && (size_t)max_batches < n ? (size_t)max_batches : n;
}

// mean loss over the first max_batches batches of `val` (rewound first) into *loss; with
// per_batch (gpt2_validation_batches entries) also each batch's mean loss, for paired
// standard errors between models evaluated on the same batches
static inline int gpt2_validation_losses(GPT2* model, DataLoader* val, int max_batches, float* loss, double* per_batch) {
    size_t n = gpt2_validation_batches(val, max_batches);
    if (n == 0) return bs_error_set(BS_EINVAL, "the validation data has no complete batch of %dx%d", val->B, val->T);
    dataloader_reset(val);
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        dataloader_next_batch(val);
        int rc = gpt2_forward(model, val->inputs, val->targets, val->B, val->T);
        if (rc != BS_OK) return rc;
        sum += model->mean_loss;
        if (per_batch != NULL) per_batch[i] = model->mean_loss;
    }
    *loss = (float)(sum / (double)n);
    return BS_OK;
}

static inline int gpt2_validation_loss(GPT2* model, DataLoader* val, int max_batches, float* loss) {
    return gpt2_validation_losses(model, val, max_batches, loss, NULL);
}

#endif // LLMC_GPT2_EVAL_H
