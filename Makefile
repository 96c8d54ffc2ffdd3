# lkvm: a lightweight KVM virtual machine monitor.
#   make          build ./lkvm
#   make check    all tests (unit, sanitizer, direct /dev/kvm, nested Linux
#                 on x86 and arm64)
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
LDLIBS  += -lpthread -laio -lz -lslirp -lseccomp

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
# link against too; a test pulls in only what it uses.  lkvm's guest init
# rides along as a blob.
LIB_SRCS := $(filter-out main.c,$(wildcard *.c)) \
            $(wildcard virtio/*.c disk/*.c net/*.c hw/*.c gdb/*.c $(ARCH_DIR)/*.c)
LIB_OBJS := $(addprefix $(OUT),$(LIB_SRCS:.c=.o)) $(OUT)guest/init-blob.o

# Unit tests: generic ones, the architecture's own (tests/unit/x86/,
# tests/unit/arm/), and on x86 also the arm ones, which test arm/ code
# that needs no KVM (device tree, Image header, GIC layout) compiled for
# the host.
ARM_PURE_SRCS := arm/fdt.c arm/image.c arm/layout.c arm/gdb-a64.c
UNIT_SRCS := $(wildcard tests/unit/test-*.c tests/unit/$(ARCH_DIR)/test-*.c)
ifeq ($(ARCH_DIR),x86)
UNIT_SRCS += $(wildcard tests/unit/arm/test-*.c)
ARM_HOST_OBJS := $(addprefix build-armhost/,$(ARM_PURE_SRCS:.c=.o))
endif
UNIT_BINS := $(addprefix $(OUT),$(UNIT_SRCS:.c=))
# Test scaffolding shared by the unit tests, compiled once (tests/unit/lib).
# log-stub.o stands in for log.c where a test links it (LOG_STUB_TESTS,
# the order and fuzz tests).
TESTLIB_SRCS := $(filter-out %/log-stub.c,$(wildcard tests/unit/lib/*.c))
LOG_STUB := tests/unit/lib/log-stub.o
LOG_STUB_TESTS := tests/unit/test-virtq tests/unit/test-virtq-packed
# Link-time hooks a unit test puts between a device and the layer below it.
UNIT_WRAP_virtio-blk := -Wl,--wrap=disk_write_zeroes
UNIT_WRAP_9p := -Wl,--wrap=p9_peek_header
UNIT_WRAP_ioeventfd := -Wl,--wrap=kvm_ioeventfd
UNIT_LINK = $(CC) $(LDFLAGS) $(UNIT_WRAP_$(notdir $*)) -o $@ $(filter %.o,$^) $(filter %.a,$^) $(LDLIBS)

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

# lkvm's guest init (guest/init.c): static, for the guest's architecture
# (the same compiler as lkvm itself), carried inside the lkvm binary.
GUEST_INIT_CFLAGS := -O2 -static -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE

$(OUT)guest/lkvm-init: guest/init.c
	@mkdir -p $(dir $@)
	$(CC) $(GUEST_INIT_CFLAGS) -o $@ $<

$(OUT)guest/init-blob.o: guest/init-blob.S $(OUT)guest/lkvm-init
	@mkdir -p $(dir $@)
	$(CC) -DLKVM_INIT_BIN='"$(OUT)guest/lkvm-init"' -c -o $@ $<

$(OUT)tests/unit/%.o: CFLAGS += -Itests/unit/lib

$(OUT)tests/unit/lib/libunit.a: $(addprefix $(OUT),$(TESTLIB_SRCS:.c=.o))
	rm -f $@
	$(AR) rcs $@ $^

$(OUT)tests/unit/test-%: $(OUT)tests/unit/test-%.o $(OUT)tests/unit/lib/libunit.a $(OUT)liblkvm.a
	$(UNIT_LINK)

$(OUT)tests/unit/$(ARCH_DIR)/test-%: $(OUT)tests/unit/$(ARCH_DIR)/test-%.o \
		$(OUT)tests/unit/lib/libunit.a $(OUT)liblkvm.a
	$(UNIT_LINK)

$(addprefix $(OUT),$(LOG_STUB_TESTS)): $(OUT)$(LOG_STUB)

# arm/'s KVM-free code built for an x86 host, for tests/unit/arm/.
build-armhost/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c -o $@ $<

tests/unit/arm/test-%: tests/unit/arm/test-%.o $(ARM_HOST_OBJS) tests/unit/lib/libunit.a liblkvm.a
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(filter %.a,$^) $(LDLIBS) -lfdt

unit-tests: $(UNIT_BINS)

# The virtqueue notification-ordering test, and the same test linked
# against a virtio core whose should-signal barrier is only a compiler
# barrier: that one must catch lost wake-ups, proving the test can fail.
WEAK_OBJS := $(addprefix $(OUT)build-weak/,virtio/virtqueue.o virtio/virtqueue-packed.o \
	virtio/device.o virtio/queue-setup.o)

$(OUT)build-weak/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DVIRTQ_TEST_WEAK_SIGNAL_BARRIER -c -o $@ $<

# The --packed guest is the unit tests' packed-ring driver.
ORDER_DRIVER := $(OUT)tests/unit/lib/pdriver.o
$(OUT)tests/order/%.o: CFLAGS += -Itests/unit/lib

$(OUT)tests/order/virtq-order: $(OUT)tests/order/virtq-order.o $(ORDER_DRIVER) $(OUT)$(LOG_STUB) \
		$(OUT)liblkvm.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(OUT)tests/order/virtq-order-weak: $(OUT)tests/order/virtq-order.o $(ORDER_DRIVER) $(OUT)$(LOG_STUB) \
		$(WEAK_OBJS) $(OUT)liblkvm.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

order-tests: $(OUT)tests/order/virtq-order $(OUT)tests/order/virtq-order-weak

# The sanitizer build lives in its own tree so the two never mix objects.
SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
             -fno-sanitize-recover=all
SAN_CFLAGS := $(filter-out -O2,$(CFLAGS)) $(SAN_FLAGS)
SAN_OBJS := $(addprefix build-asan/,$(LIB_SRCS:.c=.o)) build-asan/guest/init-blob.o
SAN_UNIT_BINS := $(addprefix build-asan/,$(UNIT_SRCS:.c=))
SAN_UNIT_LINK = $(CC) $(SAN_FLAGS) $(UNIT_WRAP_$(notdir $*)) -o $@ $(filter %.o,$^) $(filter %.a,$^) $(LDLIBS)

build-asan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(SAN_CFLAGS) -c -o $@ $<

build-asan/guest/init-blob.o: $(OUT)guest/init-blob.o
	@mkdir -p $(dir $@)
	cp $< $@

build-asan/tests/unit/%.o: SAN_CFLAGS += -Itests/unit/lib

build-asan/tests/unit/lib/libunit.a: $(addprefix build-asan/,$(TESTLIB_SRCS:.c=.o))
	rm -f $@
	$(AR) rcs $@ $^

build-asan/liblkvm.a: $(SAN_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

build-asan/tests/unit/test-%: build-asan/tests/unit/test-%.o build-asan/tests/unit/lib/libunit.a \
			     build-asan/liblkvm.a
	$(SAN_UNIT_LINK)

build-asan/tests/unit/$(ARCH_DIR)/test-%: build-asan/tests/unit/$(ARCH_DIR)/test-%.o \
		build-asan/tests/unit/lib/libunit.a build-asan/liblkvm.a
	$(SAN_UNIT_LINK)

$(addprefix build-asan/,$(LOG_STUB_TESTS)): build-asan/$(LOG_STUB)

build-asan/tests/unit/arm/test-%: build-asan/tests/unit/arm/test-%.o \
		$(addprefix build-asan/,$(ARM_PURE_SRCS:.c=.o)) build-asan/tests/unit/lib/libunit.a \
		build-asan/liblkvm.a
	$(CC) $(SAN_FLAGS) -o $@ $(filter %.o,$^) $(filter %.a,$^) $(LDLIBS) -lfdt

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

check-fast: lkvm unit-tests order-tests guests asan fuzz
	LKVM_SKIP_NESTED=1 tests/run-tests.sh

demo: lkvm
	tests/nested/demo.sh

bench: lkvm guests
	bench/run.sh

clean:
	rm -rf lkvm liblkvm.a build-asan build-weak build-arm64 build-armhost build-cross-arm64 \
		$(ARCH_STAMP) guest/lkvm-init guest/init-blob.o tests/order/virtq-order \
		tests/order/virtq-order-weak $(LIB_SRCS:.c=.o) main.o $(UNIT_SRCS:.c=) \
		tests/unit/*.o tests/unit/*/*.o tests/unit/lib/libunit.a \
		$(shell find . -name '*.d' -not -path './.git/*')
	$(MAKE) -C tests/guests clean
	$(MAKE) -C tests/fuzz clean
	rm -rf build-cross-arm64

.PHONY: all check check-fast demo bench clean unit-tests order-tests asan guests fuzz arm64-cross
# Keep intermediate objects: no "rm" after the test summary, faster rebuilds.
.SECONDARY:

# Every tree's dependency files, the sanitizer and arm64 ones included: a
# changed header must rebuild their objects too.
-include $(shell find . -name '*.d' -not -path './.git/*' 2>/dev/null)
