# libFuzzer targets for the virtio layer (included by the top Makefile).
#   make fuzz                     build build/fuzz/fuzz_virtq, build/fuzz/fuzz_mmio
#   make fuzz-run                 run each for FUZZ_SECONDS (default 30); fails on a crash
#   make fuzz-run FUZZ_SECONDS=60
# Needs clang with libFuzzer (Debian: clang-14).  The sources are compiled
# directly with the fuzzer and sanitizers, not through libvmm.a.  Seeds are
# checked in under tests/fuzz/corpus/<target>/ (regenerate with
# tests/fuzz/gen_corpus.py); new inputs go to build/fuzz/corpus/<target>/.

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 30
FUZZ_DIR     := build/fuzz
FUZZ_CFLAGS  := -std=gnu11 -g -O1 -Wall -Wextra -Werror -Wno-unused-parameter \
                -D_GNU_SOURCE -I. -fno-omit-frame-pointer \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
FUZZ_TARGETS := fuzz_virtq fuzz_mmio

FUZZ_SRCS_fuzz_virtq := tests/fuzz/fuzz_virtq.c virtio/virtqueue.c base/guest_mem.c
FUZZ_SRCS_fuzz_mmio  := tests/fuzz/fuzz_mmio.c virtio/mmio.c virtio/device.c virtio/virtqueue.c base/log.c \
                        base/guest_mem.c devices/bus.c

$(FUZZ_DIR)/fuzz_virtq: $(FUZZ_SRCS_fuzz_virtq) $(wildcard virtio/*.h base/*.h)
$(FUZZ_DIR)/fuzz_mmio: $(FUZZ_SRCS_fuzz_mmio) $(wildcard virtio/*.h base/*.h devices/bus.h)

$(addprefix $(FUZZ_DIR)/,$(FUZZ_TARGETS)):
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZCC  $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $(FUZZ_SRCS_$(notdir $@)) -lpthread

fuzz: $(addprefix $(FUZZ_DIR)/,$(FUZZ_TARGETS))

# Each target: fresh corpus dir seeded from the checked-in seeds, crash
# artifacts in build/fuzz/artifacts/; libFuzzer exits non-zero on a crash,
# leak, timeout or sanitizer report, which fails the make.
fuzz-run: fuzz
	$(Q)set -e; for t in $(FUZZ_TARGETS); do \
		mkdir -p $(FUZZ_DIR)/corpus/$$t $(FUZZ_DIR)/artifacts; \
		echo "  FUZZ    $$t for $(FUZZ_SECONDS)s"; \
		$(FUZZ_DIR)/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
			-rss_limit_mb=2048 -print_final_stats=1 \
			-artifact_prefix=$(FUZZ_DIR)/artifacts/$$t- \
			$(FUZZ_DIR)/corpus/$$t tests/fuzz/corpus/$$t \
			2>$(FUZZ_DIR)/$$t.log || { tail -n 60 $(FUZZ_DIR)/$$t.log; exit 1; }; \
		grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|#[0-9]+.*DONE)' \
			$(FUZZ_DIR)/$$t.log || true; \
	done

.PHONY: fuzz fuzz-run
