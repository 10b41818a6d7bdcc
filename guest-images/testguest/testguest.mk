# The freestanding test guest: build/testguest (or build-san/testguest),
# an ELF64 linked at 1 MiB.  Included by the top-level Makefile.
#
# It has its own compiler flags: never the VMM's CFLAGS (no sanitizers, no
# libc, no red zone, no SSE, no PIC).  TG_CC defaults to the VMM's compiler;
# gcc and clang both work.  Linking uses ld directly, so no compiler
# driver adds its start files or its PIE default.

TG_DIR  := guest-images/testguest
TG_OUT  := $(B)/$(TG_DIR)
TG_CC   ?= $(CC)
TG_LD   ?= ld

TG_CFLAGS := -std=gnu11 -O2 -g \
	-ffreestanding -fno-pic -fno-pie \
	-mno-red-zone -mgeneral-regs-only -fno-stack-protector \
	-fno-asynchronous-unwind-tables -fno-unwind-tables \
	-fno-strict-aliasing -fcf-protection=none \
	-Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wmissing-declarations -Wformat=2 -Wvla \
	-Wpointer-arith -Wundef -Wcast-qual -Wwrite-strings \
	-Wno-unused-parameter \
	-I. -I$(TG_DIR) -MMD -MP
TG_ASFLAGS := $(filter-out -std=gnu11,$(TG_CFLAGS))
TG_LDFLAGS := -nostdlib -static -no-pie -T $(TG_DIR)/testguest.ld \
	--build-id=none -z max-page-size=4096 -z noexecstack

TG_C_SRCS := $(wildcard $(TG_DIR)/*.c)
TG_C_OBJS := $(TG_C_SRCS:$(TG_DIR)/%.c=$(TG_OUT)/%.o)
TG_S_OBJS := $(TG_OUT)/start.o
TG_OBJS   := $(TG_S_OBJS) $(TG_C_OBJS)

testguest: $(B)/testguest

# Static pattern rules: these objects never go through the VMM's
# `$(B)/%.o: %.c` rule and its flags.
$(TG_C_OBJS): $(TG_OUT)/%.o: $(TG_DIR)/%.c $(TG_DIR)/testguest.mk
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(TG_CC) $(TG_CFLAGS) -c $< -o $@

$(TG_S_OBJS): $(TG_OUT)/%.o: $(TG_DIR)/%.S $(TG_DIR)/testguest.mk
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  AS      $<")
	$(Q)$(TG_CC) $(TG_ASFLAGS) -c $< -o $@

$(B)/testguest: $(TG_OBJS) $(TG_DIR)/testguest.ld
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(TG_LD) $(TG_LDFLAGS) -o $@ $(TG_OBJS)
