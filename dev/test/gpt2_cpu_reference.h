/*
 gpt2_cpu_reference.h: the CPU model (llmc/gpt2_cpu.h, reference kernels) and the CPU
 BackSlash update (llmc/dggr.h) behind a small C interface, for test_gpt2.cu. The
 implementation is compiled by gcc as C (those headers are C99) and linked into the
 nvcc-built test, so the GPU is compared with exactly the code the CPU trainer runs.
*/
#ifndef GPT2_CPU_REFERENCE_H
#define GPT2_CPU_REFERENCE_H

#include "../../llmc/dggr.h"
#include "../../llmc/gpt2_params.h"

#ifdef __cplusplus
extern "C" {
#endif

// GPT-2's initialisation (gpt2_init_random) into params (gpt2_num_params floats)
int cpuref_init_params(const GPT2Config* config, uint64_t seed, float* params);

// One forward and backward over (inputs, targets) of shape (B, T) with the reference
// kernels: logits (B, T, Vp), the mean loss, and the gradients (gpt2_num_params floats).
int cpuref_forward_backward(const GPT2Config* config, const float* params, const int* inputs, const int* targets, int B,
                            int T, float* logits, float* loss, float* grads);

// AdamW's hyperparameters (the arguments of dggr_step)
typedef struct {
    float lr, beta1, beta2, eps, weight_decay;
} RefHyper;

// the logits (B, T, Vp) of a forward without targets (as the trainers' sampling runs it)
int cpuref_logits(const GPT2Config* config, const float* params, const int* inputs, int B, int T, float* logits);

// what one training step reports
typedef struct {
    float loss;          // mean loss before the update
    float grad_norm;     // before clipping
    double nu, rate, zero_frac, bits_per_param; // dggr.h's state after the update
} CpuRefStep;

// `steps` optimizer steps on the same batch, as train_gpt2.c takes them: forward,
// backward, the clipping factor for grad_clip, dggr_step with with_rate = 1.
// params is updated in place; info gets one entry per step.
int cpuref_train(const GPT2Config* config, float* params, const int* inputs, const int* targets, int B, int T,
                 int steps, const RefHyper* hp, const DGGRConfig* dggr_config, float grad_clip, CpuRefStep* info);

#ifdef __cplusplus
}
#endif

#endif // GPT2_CPU_REFERENCE_H
