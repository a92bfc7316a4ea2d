/*
 rng.h: the random numbers of training: a small sequential generator whose whole state
 is one uint64 (saved in the training state, so a resumed run draws the same numbers),
 and a counter-based normal draw for weight initialisation, value i a pure function of
 (seed, i), so that initialisation runs in parallel and gives the same weights for any
 number of threads.

 Both use SplitMix64 (Steele, Lea, Flood 2014), which passes BigCrush and is one add and
 three multiply-xorshift rounds.
*/
#ifndef LLMC_RNG_H
#define LLMC_RNG_H

#include <math.h>
#include <stdint.h>

typedef struct {
    uint64_t state;
} Rng;

static inline uint64_t splitmix64_mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline void rng_init(Rng* r, uint64_t seed) { r->state = seed; }

static inline uint64_t rng_u64(Rng* r) {
    r->state += 0x9e3779b97f4a7c15ull;
    return splitmix64_mix(r->state);
}

// uniform in [0, 1) with 24 random bits (exactly representable as a float)
static inline float rng_uniform(Rng* r) { return (float)(rng_u64(r) >> 40) * (1.0f / 16777216.0f); }

// uniform integer in [0, n), n >= 1 (multiply-shift; the bias is below 2^-32 for n < 2^32)
static inline uint64_t rng_below(Rng* r, uint64_t n) {
    return (uint64_t)(((unsigned __int128)rng_u64(r) * n) >> 64);
}

// standard normal number i of stream `seed` (Box-Muller on two counter-derived uniforms)
static inline float rng_normal_at(uint64_t seed, uint64_t i) {
    uint64_t a = splitmix64_mix(seed * 0x9e3779b97f4a7c15ull + 2 * i + 1);
    uint64_t b = splitmix64_mix(a ^ (2 * i + 2) * 0xd1b54a32d192ed03ull);
    double u1 = ((double)(a >> 11) + 1.0) * (1.0 / 9007199254740993.0); // (0, 1]
    double u2 = (double)(b >> 11) * (1.0 / 9007199254740992.0);        // [0, 1)
    return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}

#endif // LLMC_RNG_H
