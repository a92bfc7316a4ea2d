// cuda_emu.cpp: the CPU emulation of the CUDA runtime, cuBLAS and cuBLASLt (cuda_emu.h says what it models)
#include "cuda_emu.h"
#include <map>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <vector>

// ----------------------------------------------------------------------------
// fibers: a context switch that saves the callee-saved registers on the old stack and
// restores them from the new one (System V x86-64; kernels never change the SSE or x87
// control words, so they are not switched). emu_switch(&save_sp, new_sp).

extern "C" void emu_switch(void** save_sp, void* new_sp);
extern "C" void emu_fiber_trampoline(void);
asm(R"(
.text
.globl emu_switch
.type emu_switch,@function
emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
.size emu_switch,.-emu_switch
.globl emu_fiber_trampoline
.type emu_fiber_trampoline,@function
emu_fiber_trampoline:
    movq %rbx, %rdi
    call emu_fiber_main
    ud2
.size emu_fiber_trampoline,.-emu_fiber_trampoline
)");

enum { T_RUN, T_SHFL, T_SYNC, T_DONE };

EmuThread* emu_thread = NULL;
uint3 emu_block_idx;
dim3 emu_block_dim, emu_grid_dim;

static const size_t STACK_BYTES = 128 << 10;
static const int MAX_THREADS = 1024;
static char* g_stacks = NULL;
static EmuThread g_threads[MAX_THREADS];
static void* g_sched_sp = NULL;
static void (*g_invoke)(void*) = NULL;
static void* g_fn = NULL;
static const char* g_kernel = "";
static int g_nthreads = 0, g_live = 0, g_at_sync = 0;
static int g_at_shfl[MAX_THREADS / 32]; // lanes of each warp waiting at a shuffle
static unsigned long long g_block_serial = 0;
static int g_reverse = -1;
static cudaError_t g_last_error = cudaSuccess;

static int reverse_order(void) {
    if (g_reverse < 0) {
        const char* e = getenv("CUDA_EMU_REVERSE");
        g_reverse = e != NULL && e[0] == '1';
    }
    return g_reverse;
}

static int same_site(EmuSite a, EmuSite b) {
    return a.line == b.line && (a.file == b.file || (a.file && b.file && strcmp(a.file, b.file) == 0));
}

static void block_name(char* out, size_t n) {
    snprintf(out, n, "kernel %s, block (%u,%u,%u) of grid (%u,%u,%u), block size (%u,%u,%u)", g_kernel, emu_block_idx.x,
             emu_block_idx.y, emu_block_idx.z, emu_grid_dim.x, emu_grid_dim.y, emu_grid_dim.z, emu_block_dim.x,
             emu_block_dim.y, emu_block_dim.z);
}

[[noreturn]] static void divergence(const char* what) {
    char b[256];
    block_name(b, sizeof(b));
    fprintf(stderr, "cuda_emu: DIVERGENCE: %s\n  in %s\n", what, b);
    const char* state[] = {"running", "at a shuffle", "at __syncthreads", "exited"};
    int shown = 0;
    for (int i = 0; i < g_nthreads && shown < 8; i++) {
        const EmuThread* t = &g_threads[i];
        if (i > 0 && t->state == g_threads[i - 1].state && same_site(t->site, g_threads[i - 1].site)) continue;
        fprintf(stderr, "  thread %d (%u,%u,%u) warp %d lane %d: %s (%s:%d)%s\n", i, t->tid.x, t->tid.y, t->tid.z,
                t->warp, t->lane, state[t->state], t->site.file ? t->site.file : "-", t->site.line, shown == 7 ? " ..." : "");
        shown++;
    }
    exit(3);
}

extern "C" void emu_fiber_main(EmuThread* t) {
    g_invoke(g_fn);
    t->state = T_DONE;
    emu_switch(&t->sp, g_sched_sp);
    abort(); // never resumed
}

static void yield_to_scheduler(void) { emu_switch(&emu_thread->sp, g_sched_sp); }

void emu_syncthreads_at(EmuSite site) {
    emu_thread->state = T_SYNC;
    emu_thread->site = site;
    yield_to_scheduler();
}

uint64_t emu_shfl_xor_at(unsigned mask, uint64_t bits, int lane_mask, EmuSite site) {
    EmuThread* t = emu_thread;
    if (lane_mask < 0) divergence("__shfl_xor_sync with a width other than 32 (not emulated)");
    if (!(mask >> t->lane & 1u)) divergence("__shfl_xor_sync called by a lane outside its own mask");
    t->state = T_SHFL;
    t->site = site;
    t->mask = mask;
    t->shfl_arg = lane_mask;
    t->shfl_val = bits;
    yield_to_scheduler();
    return t->shfl_out;
}

// every lane of the mask at the same shuffle: exchange; else wait (or report an exited lane)
static void try_shuffle(int warp) {
    EmuThread* w = &g_threads[warp * 32];
    int lanes = g_nthreads - warp * 32 < 32 ? g_nthreads - warp * 32 : 32;
    unsigned mask = 0;
    EmuSite site = {NULL, 0};
    for (int l = 0; l < lanes; l++)
        if (w[l].state == T_SHFL) { mask = w[l].mask; site = w[l].site; break; }
    if (site.file == NULL) return;
    for (int l = 0; l < 32; l++) {
        if (!(mask >> l & 1u)) continue;
        if (l >= lanes) divergence("__shfl_xor_sync mask names a lane beyond the block");
        if (w[l].state == T_DONE) divergence("a lane of the shuffle's mask has exited");
        if (w[l].state != T_SHFL) return; // not there yet
        if (!same_site(w[l].site, site) || w[l].mask != mask) divergence("lanes of one warp at different shuffles (or masks)");
    }
    for (int l = 0; l < 32; l++) {
        if (!(mask >> l & 1u)) continue;
        int src = l ^ w[l].shfl_arg;
        // a source lane outside the mask: CUDA leaves the result undefined
        if (src >= 32 || !(mask >> src & 1u)) divergence("shuffle from a lane outside the mask");
        w[l].shfl_out = w[src].shfl_val;
    }
    for (int l = 0; l < 32; l++)
        if (mask >> l & 1u) w[l].state = T_RUN;
    g_at_shfl[warp] -= __builtin_popcount(mask);
}

static void try_sync(void) {
    if (g_at_sync == 0 || g_at_sync < g_live) return;
    if (g_live < g_nthreads) divergence("__syncthreads while other threads of the block have exited");
    EmuSite site = g_threads[0].site;
    for (int i = 0; i < g_nthreads; i++)
        if (!same_site(g_threads[i].site, site)) divergence("threads of one block at different __syncthreads");
    for (int i = 0; i < g_nthreads; i++) g_threads[i].state = T_RUN;
    g_at_sync = 0;
}

// the stacks not owned by a live thread
static char* g_free_stacks[MAX_THREADS];
static int g_num_free = 0;

static void start_fiber(EmuThread* t) {
    t->stack = g_free_stacks[--g_num_free];
    // the initial frame emu_switch pops: r15..r12, rbx = t, rbp, the return to the trampoline;
    // the trampoline starts 16-byte aligned at the top of the stack, which is offset by up to
    // 32 KiB so that the stacks of a block's threads do not all fall into the same cache sets
    size_t index = (size_t)(t->stack - g_stacks) / STACK_BYTES;
    uint64_t* sp = (uint64_t*)(t->stack + STACK_BYTES - (index % 512) * 64) - 7;
    sp[0] = sp[1] = sp[2] = sp[3] = 0;
    sp[4] = (uint64_t)(uintptr_t)t;
    sp[5] = 0;
    sp[6] = (uint64_t)(uintptr_t)&emu_fiber_trampoline;
    t->sp = sp;
}

static void run_block(void) {
    int n = g_nthreads;
    for (int i = 0; i < n; i++) {
        EmuThread* t = &g_threads[i];
        unsigned bx = emu_block_dim.x, by = emu_block_dim.y;
        t->tid.x = (unsigned)i % bx;
        t->tid.y = ((unsigned)i / bx) % by;
        t->tid.z = (unsigned)i / (bx * by);
        t->lane = i % 32;
        t->warp = i / 32;
        t->state = T_RUN;
        t->site.file = NULL;
        t->site.line = 0;
        t->sp = NULL; // not started: gets a stack when first resumed
    }
    g_live = n;
    g_at_sync = 0;
    memset(g_at_shfl, 0, sizeof(g_at_shfl));
    int rev = reverse_order();
    while (g_live > 0) {
        int progress = 0;
        for (int k = 0; k < n; k++) {
            EmuThread* t = &g_threads[rev ? n - 1 - k : k];
            if (t->state != T_RUN) continue;
            progress = 1;
            if (t->sp == NULL) start_fiber(t);
            emu_thread = t;
            emu_switch(&g_sched_sp, t->sp);
            emu_thread = NULL;
            if (t->state == T_DONE) {
                g_free_stacks[g_num_free++] = t->stack; // a thread that never waited leaves a warm stack to the next
                g_live--;
                if (g_at_shfl[t->warp] > 0) try_shuffle(t->warp); // reports an exited lane another lane waits for
                try_sync();
            } else if (t->state == T_SHFL) {
                // the full check once as many lanes wait as the mask names
                if (++g_at_shfl[t->warp] >= __builtin_popcount(t->mask)) try_shuffle(t->warp);
            } else if (t->state == T_SYNC) {
                g_at_sync++;
                try_sync();
            }
        }
        if (!progress) divergence("deadlock: threads wait at shuffles or barriers the others never reach");
    }
}

void emu_launch_impl(const char* kernel, dim3 grid, dim3 block, size_t shmem, void (*invoke)(void*), void* fn) {
    unsigned long long nt = (unsigned long long)block.x * block.y * block.z;
    if (nt == 0 || nt > 1024 || block.z > 64 || grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.x > 2147483647u ||
        grid.y > 65535 || grid.z > 65535 || shmem > 48 * 1024) {
        fprintf(stderr, "cuda_emu: invalid launch of %s: grid (%u,%u,%u), block (%u,%u,%u), %zu bytes shared\n", kernel,
                grid.x, grid.y, grid.z, block.x, block.y, block.z, shmem);
        g_last_error = cudaErrorInvalidConfiguration;
        return;
    }
    if (g_stacks == NULL) {
        g_stacks = (char*)mmap(NULL, STACK_BYTES * MAX_THREADS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (g_stacks == MAP_FAILED) { perror("cuda_emu: fiber stacks"); exit(2); }
        for (int i = MAX_THREADS - 1; i >= 0; i--) {
            g_free_stacks[g_num_free++] = g_stacks + (size_t)i * STACK_BYTES;
            mprotect(g_stacks + (size_t)i * STACK_BYTES, 4096, PROT_NONE); // a guard page: an overflow faults
        }
    }
    g_kernel = kernel;
    g_invoke = invoke;
    g_fn = fn;
    g_nthreads = (int)nt;
    emu_block_dim = block;
    emu_grid_dim = grid;
    unsigned long long nb = (unsigned long long)grid.x * grid.y * grid.z;
    int rev = reverse_order();
    for (unsigned long long k = 0; k < nb; k++) {
        unsigned long long b = rev ? nb - 1 - k : k;
        emu_block_idx.x = (unsigned)(b % grid.x);
        emu_block_idx.y = (unsigned)((b / grid.x) % grid.y);
        emu_block_idx.z = (unsigned)(b / ((unsigned long long)grid.x * grid.y));
        g_block_serial++;
        run_block();
    }
}

// the (address, block) pairs of the __shared__ arrays seen so far
static std::vector<std::pair<void*, unsigned long long> > g_shared;

void emu_shared_poison(void* p, size_t bytes) {
    for (auto& s : g_shared)
        if (s.first == p) {
            if (s.second != g_block_serial) { memset(p, 0xff, bytes); s.second = g_block_serial; }
            return;
        }
    memset(p, 0xff, bytes);
    g_shared.push_back(std::make_pair(p, g_block_serial));
}

// ----------------------------------------------------------------------------
// device memory

static std::map<uintptr_t, size_t> g_allocs; // start -> bytes
static size_t g_alloc_bytes = 0;
static const size_t EMU_TOTAL_MEM = (size_t)80 << 30;

int emu_device_range(const void* p, size_t bytes) {
    uintptr_t a = (uintptr_t)p;
    auto it = g_allocs.upper_bound(a);
    if (it == g_allocs.begin()) return -1;
    --it;
    return a >= it->first && a + bytes <= it->first + it->second ? 0 : -1;
}
static int is_device(const void* p) { return emu_device_range(p, 1) == 0; }

cudaError_t cudaGetDeviceCount(int* n) { *n = 1; return cudaSuccess; }
cudaError_t cudaSetDevice(int device) { return device == 0 ? cudaSuccess : cudaErrorInvalidDevice; }
cudaError_t cudaGetDevice(int* device) { *device = 0; return cudaSuccess; }
cudaError_t cudaGetDeviceProperties(cudaDeviceProp* prop, int device) {
    if (device != 0) return cudaErrorInvalidDevice;
    memset(prop, 0, sizeof(*prop));
    snprintf(prop->name, sizeof(prop->name), "cuda_emu (CPU emulation)");
    prop->totalGlobalMem = EMU_TOTAL_MEM;
    prop->major = 9;
    prop->minor = 0;
    prop->multiProcessorCount = 132;
    prop->warpSize = 32;
    prop->maxThreadsPerBlock = 1024;
    prop->sharedMemPerBlock = 48 * 1024;
    return cudaSuccess;
}
cudaError_t cudaDriverGetVersion(int* v) { *v = 0; return cudaSuccess; }
cudaError_t cudaRuntimeGetVersion(int* v) { *v = 0; return cudaSuccess; }
cudaError_t cudaGetLastError(void) { cudaError_t e = g_last_error; g_last_error = cudaSuccess; return e; }
const char* cudaGetErrorString(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorInvalidDevicePointer: return "invalid device pointer";
    case cudaErrorNoDevice: return "no CUDA-capable device is detected";
    default: return "unknown error";
    }
}
const char* cudaGetErrorName(cudaError_t e) {
    switch (e) {
    case cudaSuccess: return "cudaSuccess";
    case cudaErrorInvalidValue: return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation: return "cudaErrorMemoryAllocation";
    case cudaErrorInvalidConfiguration: return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevicePointer: return "cudaErrorInvalidDevicePointer";
    default: return "cudaErrorUnknown";
    }
}
static cudaError_t fail(cudaError_t e) { g_last_error = e; return e; }

cudaError_t cudaMalloc(void** p, size_t bytes) {
    *p = NULL;
    if (g_alloc_bytes + bytes > EMU_TOTAL_MEM) return fail(cudaErrorMemoryAllocation);
    size_t rounded = (bytes + 255) / 256 * 256;
    void* q = aligned_alloc(256, rounded ? rounded : 256);
    if (q == NULL) return fail(cudaErrorMemoryAllocation);
    memset(q, 0xff, rounded ? rounded : 256); // unwritten memory reads as NaN
    g_allocs[(uintptr_t)q] = bytes;
    g_alloc_bytes += bytes;
    *p = q;
    return cudaSuccess;
}
cudaError_t cudaFree(void* p) {
    if (p == NULL) return cudaSuccess;
    auto it = g_allocs.find((uintptr_t)p);
    if (it == g_allocs.end()) {
        fprintf(stderr, "cuda_emu: cudaFree(%p): not a device allocation\n", p);
        return fail(cudaErrorInvalidDevicePointer);
    }
    g_alloc_bytes -= it->second;
    g_allocs.erase(it);
    free(p);
    return cudaSuccess;
}
cudaError_t cudaMallocHost(void** p, size_t bytes) {
    *p = malloc(bytes ? bytes : 1);
    if (*p == NULL) return fail(cudaErrorMemoryAllocation);
    memset(*p, 0xff, bytes);
    return cudaSuccess;
}
cudaError_t cudaFreeHost(void* p) { free(p); return cudaSuccess; }
cudaError_t cudaMemGetInfo(size_t* free_b, size_t* total_b) {
    *free_b = EMU_TOTAL_MEM - g_alloc_bytes;
    *total_b = EMU_TOTAL_MEM;
    return cudaSuccess;
}

static cudaError_t check_side(const void* p, size_t bytes, int device, const char* what) {
    if (device && emu_device_range(p, bytes) != 0) {
        fprintf(stderr, "cuda_emu: %s: %zu bytes at %p are not inside one device allocation\n", what, bytes, p);
        return fail(cudaErrorInvalidValue);
    }
    if (!device && is_device(p)) {
        fprintf(stderr, "cuda_emu: %s: %p is device memory where host memory is expected\n", what, p);
        return fail(cudaErrorInvalidValue);
    }
    return cudaSuccess;
}
cudaError_t cudaMemcpy(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind) {
    if (bytes == 0) return cudaSuccess;
    int ddev = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
    int sdev = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
    if (kind == cudaMemcpyDefault) { ddev = is_device(dst); sdev = is_device(src); }
    if (kind != cudaMemcpyHostToHost) {
        if (check_side(dst, bytes, ddev, "cudaMemcpy destination") != cudaSuccess) return cudaErrorInvalidValue;
        if (check_side(src, bytes, sdev, "cudaMemcpy source") != cudaSuccess) return cudaErrorInvalidValue;
    }
    memmove(dst, src, bytes);
    return cudaSuccess;
}
cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, cudaStream_t) {
    return cudaMemcpy(dst, src, bytes, kind);
}
cudaError_t cudaMemset(void* p, int value, size_t bytes) {
    if (bytes == 0) return cudaSuccess;
    if (check_side(p, bytes, 1, "cudaMemset") != cudaSuccess) return cudaErrorInvalidValue;
    memset(p, value, bytes);
    return cudaSuccess;
}
cudaError_t cudaMemsetAsync(void* p, int value, size_t bytes, cudaStream_t) { return cudaMemset(p, value, bytes); }

struct EmuStream { int unused; };
struct EmuEvent { int unused; };
cudaError_t cudaStreamCreate(cudaStream_t* s) { *s = new EmuStream(); return cudaSuccess; }
cudaError_t cudaStreamDestroy(cudaStream_t s) { delete s; return cudaSuccess; }
cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }
cudaError_t cudaEventCreate(cudaEvent_t* e) { *e = new EmuEvent(); return cudaSuccess; }
cudaError_t cudaEventDestroy(cudaEvent_t e) { delete e; return cudaSuccess; }
cudaError_t cudaEventRecord(cudaEvent_t, cudaStream_t) { return cudaSuccess; }
cudaError_t cudaEventSynchronize(cudaEvent_t) { return cudaSuccess; }
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t, cudaEvent_t) { *ms = 0.0f; return cudaSuccess; }
cudaError_t cudaStreamWaitEvent(cudaStream_t, cudaEvent_t, unsigned) { return cudaSuccess; }

// ----------------------------------------------------------------------------
// GEMM: C (m x n, column-major, ldc) = alpha op(A) op(B) + beta C, fp32 accumulation

struct EmuBlas { int unused; };

static size_t type_bytes(cudaDataType_t t) { return t == CUDA_R_32F ? 4 : 2; }
static float load_elem(const void* p, size_t i, cudaDataType_t t) {
    if (t == CUDA_R_32F) return ((const float*)p)[i];
    __nv_bfloat16 h;
    memcpy(&h, (const char*)p + 2 * i, 2);
    return __bfloat162float(h);
}
static void store_elem(void* p, size_t i, cudaDataType_t t, float v) {
    if (t == CUDA_R_32F) { ((float*)p)[i] = v; return; }
    __nv_bfloat16 h = __float2bfloat16_rn(v);
    memcpy((char*)p + 2 * i, &h, 2);
}

// the extent in elements of a stored (rows x cols, ld) column-major matrix
static size_t extent(int rows, int cols, long long ld) { return (size_t)ld * (size_t)(cols - 1) + (size_t)rows; }

static cublasStatus_t gemm_check(const char* fn, int opa, int opb, int m, int n, int k, const void* A, cudaDataType_t ta,
                                 int lda, long long sa, const void* B, cudaDataType_t tb, int ldb, long long sb,
                                 const void* C, cudaDataType_t tc, int ldc, long long sc, int batch) {
    int ar = opa ? k : m, ac = opa ? m : k, br = opb ? n : k, bc = opb ? k : n;
    if (m < 0 || n < 0 || k < 0 || batch < 1 || lda < (ar > 1 ? ar : 1) || ldb < (br > 1 ? br : 1) || ldc < (m > 1 ? m : 1)) {
        fprintf(stderr, "cuda_emu: %s: invalid shape m=%d n=%d k=%d lda=%d ldb=%d ldc=%d batch=%d (op %c%c)\n", fn, m, n,
                k, lda, ldb, ldc, batch, opa ? 'T' : 'N', opb ? 'T' : 'N');
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
    struct { const void* p; int r, c; long long ld, stride; cudaDataType_t t; const char* name; } ops[3] = {
        {A, ar, ac, lda, sa, ta, "A"}, {B, br, bc, ldb, sb, tb, "B"}, {C, m, n, ldc, sc, tc, "C"}};
    for (int o = 0; o < 3; o++) {
        if (ops[o].r == 0 || ops[o].c == 0) continue;
        size_t last = (size_t)ops[o].stride * (size_t)(batch - 1) + extent(ops[o].r, ops[o].c, ops[o].ld);
        if (emu_device_range(ops[o].p, last * type_bytes(ops[o].t)) != 0) {
            fprintf(stderr, "cuda_emu: %s: matrix %s (%d x %d, ld %lld, stride %lld, batch %d) at %p leaves its device "
                    "allocation (m=%d n=%d k=%d)\n", fn, ops[o].name, ops[o].r, ops[o].c, ops[o].ld, ops[o].stride, batch,
                    ops[o].p, m, n, k);
            return CUBLAS_STATUS_INVALID_VALUE;
        }
    }
    return CUBLAS_STATUS_SUCCESS;
}

// one GEMM; bias (m values of type tbias, or NULL) added to every column before the rounding
static void gemm_ref(int opa, int opb, int m, int n, int k, float alpha, const void* A, cudaDataType_t ta, int lda,
                     const void* B, cudaDataType_t tb, int ldb, float beta, const void* Cin, void* D, cudaDataType_t tc,
                     int ldc, const void* bias, cudaDataType_t tbias) {
    // op(A) as m rows of k and op(B)^T as n rows of k, contiguous fp32
    std::vector<float> a((size_t)m * k), b((size_t)n * k);
    for (int i = 0; i < m; i++)
        for (int p = 0; p < k; p++) a[(size_t)i * k + p] = load_elem(A, opa ? (size_t)p + (size_t)i * lda : (size_t)i + (size_t)p * lda, ta);
    for (int j = 0; j < n; j++)
        for (int p = 0; p < k; p++) b[(size_t)j * k + p] = load_elem(B, opb ? (size_t)j + (size_t)p * ldb : (size_t)p + (size_t)j * ldb, tb);
    #pragma omp parallel for schedule(static)
    for (int j = 0; j < n; j++) {
        const float* bj = &b[(size_t)j * k];
        for (int i = 0; i < m; i++) {
            const float* ai = &a[(size_t)i * k];
            float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
            int p = 0;
            for (; p + 8 <= k; p += 8)
                for (int u = 0; u < 8; u++) acc[u] += ai[p + u] * bj[p + u];
            for (; p < k; p++) acc[0] += ai[p] * bj[p];
            float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
            float v = alpha * s;
            size_t ci = (size_t)i + (size_t)j * ldc;
            if (beta != 0.0f) v += beta * load_elem(Cin, ci, tc); // beta == 0: C is not read (may hold NaN)
            if (bias != NULL) v += load_elem(bias, (size_t)i, tbias);
            store_elem(D, ci, tc, v);
        }
    }
}

static int g_blas_gemm_calls = 0;

cublasStatus_t cublasCreate(cublasHandle_t* h) { *h = new EmuBlas(); return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasDestroy(cublasHandle_t h) { delete h; return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSetStream(cublasHandle_t, cudaStream_t) { return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSetMathMode(cublasHandle_t, cublasMath_t) { return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasSetWorkspace(cublasHandle_t, void* ws, size_t bytes) {
    return bytes == 0 || emu_device_range(ws, bytes) == 0 ? CUBLAS_STATUS_SUCCESS : CUBLAS_STATUS_INVALID_VALUE;
}
cublasStatus_t cublasGetVersion(cublasHandle_t, int* v) { *v = 0; return CUBLAS_STATUS_SUCCESS; }
const char* cublasGetStatusString(cublasStatus_t st) {
    switch (st) {
    case CUBLAS_STATUS_SUCCESS: return "CUBLAS_STATUS_SUCCESS";
    case CUBLAS_STATUS_INVALID_VALUE: return "CUBLAS_STATUS_INVALID_VALUE";
    case CUBLAS_STATUS_NOT_SUPPORTED: return "CUBLAS_STATUS_NOT_SUPPORTED";
    default: return "CUBLAS_STATUS_(emulator: other)";
    }
}

static int compute_ok(cublasComputeType_t c, cudaDataType_t ta, cudaDataType_t tb) {
    return c == CUBLAS_COMPUTE_32F && ta == tb && (ta == CUDA_R_32F || ta == CUDA_R_16BF);
}

cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t h, cublasOperation_t opa, cublasOperation_t opb, int m, int n,
                                          int k, const void* alpha, const void* A, cudaDataType_t ta, int lda,
                                          long long sa, const void* B, cudaDataType_t tb, int ldb, long long sb,
                                          const void* beta, void* C, cudaDataType_t tc, int ldc, long long sc,
                                          int batch, cublasComputeType_t compute, cublasGemmAlgo_t) {
    if (h == NULL) return CUBLAS_STATUS_NOT_INITIALIZED;
    if (!compute_ok(compute, ta, tb) || opa == CUBLAS_OP_C || opb == CUBLAS_OP_C) return CUBLAS_STATUS_NOT_SUPPORTED;
    cublasStatus_t st = gemm_check("cublasGemmEx", opa, opb, m, n, k, A, ta, lda, sa, B, tb, ldb, sb, C, tc, ldc, sc, batch);
    if (st != CUBLAS_STATUS_SUCCESS) return st;
    float al = *(const float*)alpha, be = *(const float*)beta;
    for (int q = 0; q < batch; q++)
        gemm_ref(opa, opb, m, n, k, al, (const char*)A + (size_t)sa * q * type_bytes(ta), ta, lda,
                 (const char*)B + (size_t)sb * q * type_bytes(tb), tb, ldb, be, (char*)C + (size_t)sc * q * type_bytes(tc),
                 (char*)C + (size_t)sc * q * type_bytes(tc), tc, ldc, NULL, CUDA_R_32F);
    g_blas_gemm_calls++;
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasGemmEx(cublasHandle_t h, cublasOperation_t opa, cublasOperation_t opb, int m, int n, int k,
                            const void* alpha, const void* A, cudaDataType_t ta, int lda, const void* B,
                            cudaDataType_t tb, int ldb, const void* beta, void* C, cudaDataType_t tc, int ldc,
                            cublasComputeType_t compute, cublasGemmAlgo_t algo) {
    return cublasGemmStridedBatchedEx(h, opa, opb, m, n, k, alpha, A, ta, lda, 0, B, tb, ldb, 0, beta, C, tc, ldc, 0, 1,
                                      compute, algo);
}

// cuBLASLt
struct EmuLtDesc {
    cublasComputeType_t compute;
    cudaDataType_t scale;
    int transa, transb;
    cublasLtEpilogue_t epilogue;
    const void* bias;
    cudaDataType_t bias_type;
};
struct EmuLtLayout { cudaDataType_t type; uint64_t rows, cols; int64_t ld; };
struct EmuLtPref { uint64_t workspace; uint32_t align[4]; }; // A, B, C, D

cublasStatus_t cublasLtCreate(cublasLtHandle_t* h) { *h = new EmuBlas(); return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasLtDestroy(cublasLtHandle_t h) { delete h; return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasLtMatmulDescCreate(cublasLtMatmulDesc_t* d, cublasComputeType_t compute, cudaDataType_t scale) {
    *d = new EmuLtDesc{compute, scale, 0, 0, CUBLASLT_EPILOGUE_DEFAULT, NULL, CUDA_R_32F};
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulDescDestroy(cublasLtMatmulDesc_t d) { delete d; return CUBLAS_STATUS_SUCCESS; }
template <class T> static cublasStatus_t get_attr(T* out, const void* v, size_t bytes) {
    if (bytes != sizeof(T)) return CUBLAS_STATUS_INVALID_VALUE;
    memcpy(out, v, sizeof(T));
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulDescSetAttribute(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t a, const void* v,
                                              size_t bytes) {
    cublasOperation_t op = CUBLAS_OP_N;
    cublasStatus_t st;
    switch (a) {
    case CUBLASLT_MATMUL_DESC_TRANSA: st = get_attr(&op, v, bytes); d->transa = op == CUBLAS_OP_T; return st;
    case CUBLASLT_MATMUL_DESC_TRANSB: st = get_attr(&op, v, bytes); d->transb = op == CUBLAS_OP_T; return st;
    case CUBLASLT_MATMUL_DESC_EPILOGUE: return get_attr(&d->epilogue, v, bytes);
    case CUBLASLT_MATMUL_DESC_BIAS_POINTER: return get_attr(&d->bias, v, bytes);
    case CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE: return get_attr(&d->bias_type, v, bytes);
    }
    return CUBLAS_STATUS_INVALID_VALUE;
}
cublasStatus_t cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t* l, cudaDataType_t type, uint64_t rows, uint64_t cols,
                                          int64_t ld) {
    *l = new EmuLtLayout{type, rows, cols, ld};
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatrixLayoutDestroy(cublasLtMatrixLayout_t l) { delete l; return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t* p) {
    *p = new EmuLtPref{0, {256, 256, 256, 256}}; // the library's default: 256-byte alignment assumed
    return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasLtMatmulPreferenceDestroy(cublasLtMatmulPreference_t p) { delete p; return CUBLAS_STATUS_SUCCESS; }
cublasStatus_t cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t p, cublasLtMatmulPreferenceAttributes_t a,
                                                    const void* v, size_t bytes) {
    switch (a) {
    case CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES: return get_attr(&p->workspace, v, bytes);
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES: return get_attr(&p->align[0], v, bytes);
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES: return get_attr(&p->align[1], v, bytes);
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES: return get_attr(&p->align[2], v, bytes);
    case CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES: return get_attr(&p->align[3], v, bytes);
    }
    return CUBLAS_STATUS_INVALID_VALUE;
}

// the "algorithm": the alignments it was chosen for (algo.data[0..3])
cublasStatus_t cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t h, cublasLtMatmulDesc_t d, cublasLtMatrixLayout_t a,
                                              cublasLtMatrixLayout_t b, cublasLtMatrixLayout_t c,
                                              cublasLtMatrixLayout_t dl, cublasLtMatmulPreference_t p, int requested,
                                              cublasLtMatmulHeuristicResult_t* results, int* found) {
    *found = 0;
    if (h == NULL || requested < 1) return CUBLAS_STATUS_INVALID_VALUE;
    const char* none = getenv("CUDA_EMU_LT_NO_ALGO"); // to exercise the caller's fallback
    if (none != NULL && none[0] == '1') return CUBLAS_STATUS_NOT_SUPPORTED;
    if (!compute_ok(d->compute, a->type, b->type) || c->type != dl->type) return CUBLAS_STATUS_NOT_SUPPORTED;
    uint64_t m = d->transa ? a->cols : a->rows, k = d->transa ? a->rows : a->cols;
    uint64_t kb = d->transb ? b->cols : b->rows, n = d->transb ? b->rows : b->cols;
    if (k != kb || dl->rows != m || dl->cols != n || c->rows != m || c->cols != n) return CUBLAS_STATUS_INVALID_VALUE;
    memset(&results[0], 0, sizeof(results[0]));
    for (int i = 0; i < 4; i++) results[0].algo.data[i] = p->align[i];
    results[0].state = CUBLAS_STATUS_SUCCESS;
    results[0].wavesCount = 1.0f;
    *found = 1;
    return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasLtMatmul(cublasLtHandle_t h, cublasLtMatmulDesc_t d, const void* alpha, const void* A,
                              cublasLtMatrixLayout_t la, const void* B, cublasLtMatrixLayout_t lb, const void* beta,
                              const void* C, cublasLtMatrixLayout_t lc, void* D, cublasLtMatrixLayout_t ld,
                              const cublasLtMatmulAlgo_t* algo, void* ws, size_t ws_bytes, cudaStream_t) {
    if (h == NULL || algo == NULL) return CUBLAS_STATUS_INVALID_VALUE;
    const void* ptrs[4] = {A, B, C, D};
    for (int i = 0; i < 4; i++) {
        uint64_t need = algo->data[i] ? algo->data[i] : 1;
        if ((uintptr_t)ptrs[i] % need != 0) {
            fprintf(stderr, "cuda_emu: cublasLtMatmul: matrix %c at %p is not %llu-byte aligned, the alignment the "
                    "algorithm was chosen for (CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_%c_BYTES)\n", "ABCD"[i], ptrs[i],
                    (unsigned long long)need, "ABCD"[i]);
            return CUBLAS_STATUS_NOT_SUPPORTED;
        }
    }
    if (d->epilogue == CUBLASLT_EPILOGUE_BIAS && (d->bias == NULL || (uintptr_t)d->bias % 16 != 0)) {
        fprintf(stderr, "cuda_emu: cublasLtMatmul: bias pointer %p NULL or not 16-byte aligned\n", d->bias);
        return CUBLAS_STATUS_NOT_SUPPORTED;
    }
    if (ws_bytes > 0 && emu_device_range(ws, ws_bytes) != 0) return CUBLAS_STATUS_INVALID_VALUE;
    int m = (int)ld->rows, n = (int)ld->cols, k = (int)(d->transa ? la->rows : la->cols);
    cublasStatus_t st = gemm_check("cublasLtMatmul", d->transa, d->transb, m, n, k, A, la->type, (int)la->ld, 0, B,
                                   lb->type, (int)lb->ld, 0, D, ld->type, (int)ld->ld, 0, 1);
    if (st != CUBLAS_STATUS_SUCCESS) return st;
    float be = *(const float*)beta;
    if (be != 0.0f && (C != D || lc->ld != ld->ld)) return CUBLAS_STATUS_NOT_SUPPORTED; // C != D: not emulated
    const void* bias = d->epilogue == CUBLASLT_EPILOGUE_BIAS ? d->bias : NULL;
    if (bias != NULL && emu_device_range(bias, (size_t)m * type_bytes(d->bias_type)) != 0) {
        fprintf(stderr, "cuda_emu: cublasLtMatmul: bias (%d values) at %p leaves its device allocation\n", m, bias);
        return CUBLAS_STATUS_INVALID_VALUE;
    }
    gemm_ref(d->transa, d->transb, m, n, k, *(const float*)alpha, A, la->type, (int)la->ld, B, lb->type, (int)lb->ld, be,
             C, D, ld->type, (int)ld->ld, bias, d->bias_type);
    return CUBLAS_STATUS_SUCCESS;
}
