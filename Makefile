# lkvm: a lightweight KVM virtual machine monitor.
#   make          build ./lkvm
#   make check    all tests (unit, sanitizer, direct /dev/kvm, nested Linux)
#   make demo     boot the reference Linux guest to a shell

CC      ?= gcc
ARCH    ?= $(shell uname -m)
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter \
           -D_GNU_SOURCE -I. -Iinclude -MMD -MP
LDLIBS  += -lpthread -laio -lz -lslirp

ifeq ($(ARCH),x86_64)
ARCH_DIR := x86
else ifeq ($(ARCH),aarch64)
ARCH_DIR := arm
endif

# Every source file except main.c goes into liblkvm.a, which the unit tests
# link against too; a test pulls in only what it uses.
LIB_SRCS := $(filter-out main.c,$(wildcard *.c)) \
            $(wildcard virtio/*.c disk/*.c net/*.c hw/*.c $(ARCH_DIR)/*.c)
LIB_OBJS := $(LIB_SRCS:.c=.o)

UNIT_SRCS := $(wildcard tests/unit/test-*.c)
UNIT_BINS := $(UNIT_SRCS:.c=)

all: lkvm

lkvm: main.o liblkvm.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

liblkvm.a: $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

tests/unit/test-%: tests/unit/test-%.o liblkvm.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

unit-tests: $(UNIT_BINS)

# The virtqueue notification-ordering test, and the same test linked
# against a virtio core whose should-signal barrier is only a compiler
# barrier: that one must catch lost wake-ups, proving the test can fail.
WEAK_OBJS := $(addprefix build-weak/,virtio/virtqueue.o virtio/device.o virtio/queue-setup.o)

build-weak/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DVIRTQ_TEST_WEAK_SIGNAL_BARRIER -c -o $@ $<

tests/order/virtq-order: tests/order/virtq-order.o liblkvm.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

tests/order/virtq-order-weak: tests/order/virtq-order.o $(WEAK_OBJS) liblkvm.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

order-tests: tests/order/virtq-order tests/order/virtq-order-weak

# The sanitizer build lives in its own tree so the two never mix objects.
SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
             -fno-sanitize-recover=all
SAN_CFLAGS := $(filter-out -O2,$(CFLAGS)) $(SAN_FLAGS)
SAN_OBJS := $(addprefix build-asan/,$(LIB_OBJS))
SAN_UNIT_BINS := $(addprefix build-asan/,$(UNIT_BINS))

build-asan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(SAN_CFLAGS) -c -o $@ $<

build-asan/liblkvm.a: $(SAN_OBJS)
	rm -f $@
	ar rcs $@ $^

build-asan/tests/unit/test-%: build-asan/tests/unit/test-%.o build-asan/liblkvm.a
	$(CC) $(SAN_FLAGS) -o $@ $^ $(LDLIBS)

asan: $(SAN_UNIT_BINS)

guests:
	$(MAKE) -C tests/guests

# libFuzzer targets for the guest- and file-facing parsers (clang).
fuzz:
	$(MAKE) -C tests/fuzz

# The arm64 lkvm and order tests for the nested-arm64 tier, cross-built in a
# copy of the tree (./lkvm stays this machine's); nothing without the cross
# compiler.
arm64-cross:
	scripts/build-arm64.sh

check: lkvm unit-tests order-tests guests asan fuzz arm64-cross
	tests/run-tests.sh

check-fast: lkvm unit-tests order-tests guests fuzz
	LKVM_SKIP_NESTED=1 tests/run-tests.sh

demo: lkvm
	tests/nested/demo.sh

bench: lkvm guests
	bench/run.sh

clean:
	rm -rf lkvm liblkvm.a build-asan build-weak tests/order/virtq-order tests/order/virtq-order-weak $(LIB_OBJS) main.o $(UNIT_BINS) \
		tests/unit/*.o $(shell find . -name '*.d' -not -path './.git/*')
	$(MAKE) -C tests/guests clean
	$(MAKE) -C tests/fuzz clean
	rm -rf build-cross-arm64

.PHONY: all check check-fast demo bench clean unit-tests order-tests asan guests fuzz arm64-cross
# Keep intermediate objects: no "rm" after the test summary, faster rebuilds.
.SECONDARY:

-include $(shell find . -name '*.d' -not -path './.git/*' -not -path './build-asan/*' -not -path './build-weak/*' 2>/dev/null)
