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

DEPS_CFLAGS := $(shell pkg-config --cflags libcjson 2>/dev/null || echo -I/usr/include/cjson)
DEPS_LIBS   := $(shell pkg-config --libs libcjson 2>/dev/null || echo -lcjson)

WARN    := -Wall -Wextra -Wshadow -Wconversion -Wno-sign-conversion -Wstrict-prototypes \
           -Wmissing-prototypes -Wno-missing-field-initializers
CFLAGS  ?=
CFLAGS  += -std=c11 $(OPT) -g $(WARN) -fPIC -fvisibility=hidden -DCF_BUILD_SHARED \
           -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -Iinclude $(DEPS_CFLAGS) $(SAN) $(XFLAGS)
# Kernel files: GNU C (vector extensions), higher optimisation, contraction to FMA; no -Ofast.
KFLAGS  := $(filter-out -std=c11 -Wconversion $(OPT),$(CFLAGS)) -std=gnu11 -O3 \
           -ffp-contract=fast -fno-math-errno
LDLIBS  := $(DEPS_LIBS) -lm -lpthread $(SAN)

ARCH := $(shell uname -m)

LIB_SRC := $(wildcard src/core/*.c src/tensor/*.c src/kernels/*.c src/kernels/ref/*.c \
             src/nn/*.c src/models/*.c src/infer/*.c src/train/*.c src/eval/*.c \
             src/tokenizers/*.c src/io/*.c)
ifeq ($(ARCH),x86_64)
ISA_SRC := src/kernels/x86/avx2.c src/kernels/x86/avx512.c
else
ISA_SRC := src/kernels/none.c
endif
CLI_SRC := $(wildcard cli/*.c)

LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/obj/%.o) $(ISA_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)

.PHONY: all lib cli run test test-unit test-cli asan ubsan tsan debug release fuzz fuzz-replay \
        bench deps clean format

all: lib cli $(BUILD)/cformer.pc

lib: $(BUILD)/libcformer.a $(BUILD)/libcformer.so
cli: $(BUILD)/cformer

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/src/kernels/x86/avx2.o: src/kernels/x86/avx2.c
	@mkdir -p $(dir $@)
	$(CC) $(KFLAGS) -mavx2 -mfma -mf16c -MMD -MP -c $< -o $@

$(BUILD)/obj/src/kernels/x86/avx512.o: src/kernels/x86/avx512.c
	@mkdir -p $(dir $@)
	$(CC) $(KFLAGS) -mavx512f -mavx512vl -mavx512dq -mavx512bw -mfma -mf16c -MMD -MP -c $< -o $@

$(BUILD)/libcformer.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libcformer.so: $(LIB_OBJ)
	$(CC) -shared -o $@ $^ $(LDLIBS)

$(BUILD)/cformer: $(CLI_OBJ) $(BUILD)/libcformer.a
	$(CC) -o $@ $(CLI_OBJ) $(BUILD)/libcformer.a $(LDLIBS)

$(BUILD)/cformer.pc: Makefile
	@mkdir -p $(BUILD)
	@printf 'prefix=/usr/local\nlibdir=$${prefix}/lib\nincludedir=$${prefix}/include\n\nName: cformer\nDescription: transformer engine in C\nVersion: 0.1.0\nRequires.private: libcjson\nLibs: -L$${libdir} -lcformer\nLibs.private: -lm -lpthread\nCflags: -I$${includedir}\n' > $@

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)

clean:
	rm -rf build
