# lkvm: a lightweight KVM virtual machine monitor.
#   make          build ./lkvm
#   make check    all tests (unit, sanitizer, direct /dev/kvm, nested Linux)
#   make demo     boot the reference Linux guest to a shell
#   make ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-
#                 cross-build an aarch64 ./lkvm (objects in build-arm64/)

HOST_ARCH := $(shell uname -m)
ARCH    ?= $(HOST_ARCH)
ifeq ($(ARCH),arm64)
override ARCH := aarch64
endif
ifneq ($(CROSS_COMPILE),)
CC      := $(CROSS_COMPILE)gcc
AR      := $(CROSS_COMPILE)ar
endif
CC      ?= gcc
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter \
           -D_GNU_SOURCE -I. -Iinclude -MMD -MP
LDLIBS  += -lpthread -laio -lz -lslirp

# x86 objects sit next to their sources (as always); arm64 objects, native
# or cross, go to build-arm64/, so the two can never be linked together.
ifeq ($(ARCH),x86_64)
ARCH_DIR := x86
OUT :=
else ifeq ($(ARCH),aarch64)
ARCH_DIR := arm
OUT := build-arm64/
# A cross build finds the arm64 libfdt by its run-time name: Debian's
# libfdt-dev cannot be installed for two architectures at once.
LIBFDT ?= $(if $(CROSS_COMPILE),-l:libfdt.so.1,-lfdt)
LDLIBS += $(LIBFDT)
else
$(error ARCH=$(ARCH): lkvm builds for x86_64 and arm64 (aarch64))
endif
LIBFDT ?= -lfdt

# Every source file except main.c goes into liblkvm.a, which the unit tests
# link against too; a test pulls in only what it uses.
LIB_SRCS := $(filter-out main.c,$(wildcard *.c)) \
            $(wildcard virtio/*.c disk/*.c net/*.c hw/*.c $(ARCH_DIR)/*.c)
LIB_OBJS := $(addprefix $(OUT),$(LIB_SRCS:.c=.o))

# Unit tests: generic ones, the architecture's own (tests/unit/x86/,
# tests/unit/arm/), and on x86 also the arm ones, which test arm/ code
# that needs no KVM (device tree, Image header, GIC layout) compiled for
# the host.
ARM_PURE_SRCS := arm/fdt.c arm/image.c arm/layout.c
UNIT_SRCS := $(wildcard tests/unit/test-*.c tests/unit/$(ARCH_DIR)/test-*.c)
ifeq ($(ARCH_DIR),x86)
UNIT_SRCS += $(wildcard tests/unit/arm/test-*.c)
ARM_HOST_OBJS := $(addprefix build-armhost/,$(ARM_PURE_SRCS:.c=.o))
endif
UNIT_BINS := $(addprefix $(OUT),$(UNIT_SRCS:.c=))

# ./lkvm is whichever architecture was built last: the stamp makes a
# change of ARCH relink it.
ARCH_STAMP := .lkvm-arch
$(shell echo $(ARCH) | cmp -s - $(ARCH_STAMP) 2>/dev/null || echo $(ARCH) > $(ARCH_STAMP))

all: lkvm

lkvm: $(OUT)main.o $(OUT)liblkvm.a $(ARCH_STAMP)
	$(CC) $(LDFLAGS) -o $@ $(filter-out $(ARCH_STAMP),$^) $(LDLIBS)

ifneq ($(OUT),)
$(OUT)%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<
endif

$(OUT)liblkvm.a: $(LIB_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

$(OUT)tests/unit/test-%: $(OUT)tests/unit/test-%.o $(OUT)liblkvm.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(OUT)tests/unit/$(ARCH_DIR)/test-%: $(OUT)tests/unit/$(ARCH_DIR)/test-%.o $(OUT)liblkvm.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# arm/'s KVM-free code built for an x86 host, for tests/unit/arm/.
build-armhost/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

tests/unit/arm/test-%: tests/unit/arm/test-%.o $(ARM_HOST_OBJS) liblkvm.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lfdt

unit-tests: $(UNIT_BINS)

# The virtqueue notification-ordering test, and the same test linked
# against a virtio core whose should-signal barrier is only a compiler
# barrier: that one must catch lost wake-ups, proving the test can fail.
WEAK_OBJS := $(addprefix $(OUT)build-weak/,virtio/virtqueue.o virtio/device.o virtio/queue-setup.o)

$(OUT)build-weak/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DVIRTQ_TEST_WEAK_SIGNAL_BARRIER -c -o $@ $<

$(OUT)tests/order/virtq-order: $(OUT)tests/order/virtq-order.o $(OUT)liblkvm.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(OUT)tests/order/virtq-order-weak: $(OUT)tests/order/virtq-order.o $(WEAK_OBJS) $(OUT)liblkvm.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

order-tests: $(OUT)tests/order/virtq-order $(OUT)tests/order/virtq-order-weak

# The sanitizer build lives in its own tree so the two never mix objects.
SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
             -fno-sanitize-recover=all
SAN_CFLAGS := $(filter-out -O2,$(CFLAGS)) $(SAN_FLAGS)
SAN_OBJS := $(addprefix build-asan/,$(LIB_OBJS))
SAN_UNIT_BINS := $(addprefix build-asan/,$(UNIT_SRCS:.c=))

build-asan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(SAN_CFLAGS) -c -o $@ $<

build-asan/liblkvm.a: $(SAN_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

build-asan/tests/unit/test-%: build-asan/tests/unit/test-%.o build-asan/liblkvm.a
	$(CC) $(SAN_FLAGS) -o $@ $^ $(LDLIBS)

build-asan/tests/unit/$(ARCH_DIR)/test-%: build-asan/tests/unit/$(ARCH_DIR)/test-%.o build-asan/liblkvm.a
	$(CC) $(SAN_FLAGS) -o $@ $^ $(LDLIBS)

build-asan/tests/unit/arm/test-%: build-asan/tests/unit/arm/test-%.o \
		$(addprefix build-asan/,$(ARM_PURE_SRCS:.c=.o)) build-asan/liblkvm.a
	$(CC) $(SAN_FLAGS) -o $@ $^ $(LDLIBS) -lfdt

asan: $(SAN_UNIT_BINS)

guests:
	$(MAKE) -C tests/guests

# libFuzzer targets for the guest- and file-facing parsers (clang).
fuzz:
	$(MAKE) -C tests/fuzz

check: lkvm unit-tests order-tests guests asan fuzz
	tests/run-tests.sh

check-fast: lkvm unit-tests order-tests guests fuzz
	LKVM_SKIP_NESTED=1 tests/run-tests.sh

demo: lkvm
	tests/nested/demo.sh

bench: lkvm guests
	bench/run.sh

clean:
	rm -rf lkvm liblkvm.a build-asan build-weak build-arm64 build-armhost $(ARCH_STAMP) tests/order/virtq-order tests/order/virtq-order-weak $(LIB_SRCS:.c=.o) main.o $(UNIT_SRCS:.c=) \
		tests/unit/*.o tests/unit/*/*.o $(shell find . -name '*.d' -not -path './.git/*')
	$(MAKE) -C tests/guests clean
	$(MAKE) -C tests/fuzz clean

.PHONY: all check check-fast demo bench clean unit-tests order-tests asan guests fuzz
# Keep intermediate objects: no "rm" after the test summary, faster rebuilds.
.SECONDARY:

# Every tree's dependency files, the sanitizer and arm64 ones included: a
# changed header must rebuild their objects too.
-include $(shell find . -name '*.d' -not -path './.git/*' 2>/dev/null)
