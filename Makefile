# vmm: a small KVM VMM for microVMs with a virtio-vsock device.
#   make deps         install the Debian packages (apt-get)
#   make              build/vmm and build/testguest
#   make test         unit tests, then integration tests (boots guests)
#   make unit         unit tests only (no KVM needed)
#   make mutants      mutation check of the unit tests (tests/mutants/run.sh;
#                     MUTANTS_ARGS=--fuzz adds the fuzzer mutants)
#   make bench        benchmarks (see docs/PERFORMANCE.md); without /dev/kvm
#                     only the device-level datagram one (make bench-dgram)
#   make demo         boot a demo microVM with vsock end to end (without
#                     /dev/kvm: the same guest under QEMU TCG + vmm vhost-user)
#   make demo-linux   the same two directions with a Linux 6.12 guest under
#                     QEMU TCG (examples/demo-qemu.sh; builds the kernel once)
#   make guest-linux  the Linux 6.1 and 6.12 guest kernels + initramfs (cached)
#   make V=1          show commands
# SAN=1 builds everything with AddressSanitizer + UBSan into build-san/.

ifeq ($(SAN),1)
B       ?= build-san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else
B       ?= build
SANFLAGS :=
endif

CC      ?= cc
CFLAGS  ?= -O2 -g
CFLAGS  += -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wno-unused-parameter -Wformat=2 -Wvla \
           -D_GNU_SOURCE -I. -MMD -MP $(SANFLAGS)
LDFLAGS += $(SANFLAGS)
SECCOMP_LIBS := $(shell pkg-config --libs libseccomp 2>/dev/null || echo -lseccomp)
CFLAGS  += $(shell pkg-config --cflags libseccomp 2>/dev/null)
LIBS    := -lfdt -ljansson $(SECCOMP_LIBS) -lpthread
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lm -lrt -lpthread)

Q := @
ifeq ($(V),1)
Q :=
endif

VERSION := $(shell git describe --always --dirty 2>/dev/null || echo unknown)

# Everything in these folders is VMM code; vmm/main.c is the only main().
LIB_SRCS := $(filter-out vmm/main.c,$(wildcard base/*.c vmm/*.c devices/*.c virtio/*.c vsock/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(B)/obj/%.o) $(B)/obj/gen/syscall_names.o
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:%.c=$(B)/%)
all: $(B)/vmm testguest

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -DVMM_VERSION='"$(VERSION)"' -c $< -o $@

# The SIGSYS handler's table of system call names, from libseccomp at build
# time (vmm/tools/gen_syscall_names.c).
$(B)/gen/gen_syscall_names: vmm/tools/gen_syscall_names.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC+LD   $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(SECCOMP_LIBS)

$(B)/gen/syscall_names.c: $(B)/gen/gen_syscall_names
	@$(if $(Q),echo "  GEN     $@")
	$(Q)$< > $@.tmp && mv $@.tmp $@

$(B)/obj/gen/syscall_names.o: $(B)/gen/syscall_names.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(B)/libvmm.a: $(LIB_OBJS)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(B)/vmm: $(B)/obj/vmm/main.o $(B)/libvmm.a
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(B)/tests/unit/%: tests/unit/%.c $(B)/libvmm.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC+LD   $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(B)/libvmm.a $(LIBS) $(CHECK_LIBS)

# The device-level datagram benchmark (bench/dgram_dev.c): the device and
# the unit tests' fake driver in one process, no KVM (docs/PERFORMANCE.md).
$(B)/bench/dgram_dev: bench/dgram_dev.c $(B)/libvmm.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC+LD   $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(B)/libvmm.a $(LIBS)

-include guest-images/testguest/testguest.mk

# The test guest's datagram driver and scenarios compiled for the host and
# run against the real device (tests/unit/test_testguest_dgram.c): its own
# flags, io.h replaced by tests/unit/tg_host_shim.h, and its mem*/str* (and
# the one clashing name) renamed so they never meet libc's or the VMM's.
TG_HOST_SRCS := $(addprefix guest-images/testguest/,cmdline.c csum.c fmt.c str.c \
	virtio_mmio.c virtq.c vsock.c vsock_dev.c vsock_dgram.c vstest.c \
	scn_dgram_echo.c scn_dgram_server.c scn_dgram_burst.c scn_dgram_max.c \
	scn_hostile.c scn_hostile_dgram.c scn_echo_client.c)
TG_HOST_OBJS := $(TG_HOST_SRCS:guest-images/testguest/%.c=$(B)/tg-host/%.o)
TG_HOST_RENAME := memcpy memmove memset memcmp strlen strnlen strcmp strncmp vmmio_status
TG_HOST_CFLAGS := -std=gnu11 -O2 -g -fno-strict-aliasing -fno-builtin \
	-Wall -Wextra -Werror -Wno-unused-parameter -I. -Iguest-images/testguest \
	-include tests/unit/tg_host_shim.h $(foreach f,$(TG_HOST_RENAME),-D$(f)=tgh_$(f))

$(TG_HOST_OBJS): $(B)/tg-host/%.o: guest-images/testguest/%.c tests/unit/tg_host_shim.h
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $< (host)")
	$(Q)$(CC) $(TG_HOST_CFLAGS) -c $< -o $@

$(B)/tests/unit/test_testguest_dgram: tests/unit/test_testguest_dgram.c $(TG_HOST_OBJS) $(B)/libvmm.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC+LD   $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(TG_HOST_OBJS) $(B)/libvmm.a $(LIBS) $(CHECK_LIBS)
-include tests/fuzz/fuzz.mk

unit: $(UNIT_BINS)
	$(Q)tests/run-unit.sh $(UNIT_BINS)

# Debian's linux-source-<version> packages (.ci/packages); one build each,
# into build/guest-linux/<version>/.
GUEST_LINUX_VERSIONS := 6.1 6.12

mutants:
	$(Q)tests/mutants/run.sh $(MUTANTS_ARGS)

guest-linux:
	$(Q)for v in $(GUEST_LINUX_VERSIONS); do guest-images/linux/build.sh $$v || exit 1; done

# Without /dev/kvm this fails at once, with the reason, unless
# VMM_TESTS_WITHOUT_KVM=1 (tests/run-integration.sh).
test: all
	$(Q)tests/run-integration.sh --check-kvm
	$(Q)$(MAKE) --no-print-directory unit guest-linux
	$(Q)tests/run-integration.sh

demo: all
	$(Q)examples/demo.sh

demo-linux: all
	$(Q)examples/demo-qemu.sh

bench: all $(B)/bench/dgram_dev
	$(Q)bench/run.sh

bench-quick: all $(B)/bench/dgram_dev
	$(Q)bench/run.sh --quick

# Datagrams through the device and host sockets, no guest, no KVM:
# bench/results/dgram_dev.{json,md}.  BENCH_ARGS=--quick for a short run.
bench-dgram: $(B)/bench/dgram_dev
	$(Q)python3 bench/bench.py --only dgram $(BENCH_ARGS)

# Install the Debian packages everything needs (as root, or through sudo).
deps:
	$(Q)$(if $(filter 0,$(shell id -u)),,sudo) sh -c 'apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$(grep -v "^#" .ci/packages)'

clean:
	rm -rf build build-san

.PHONY: all deps unit test demo demo-linux bench bench-quick bench-dgram clean guest-linux testguest mutants

-include $(shell find $(B) -name '*.d' 2>/dev/null)
