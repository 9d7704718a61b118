# SPDX-License-Identifier: GPL-2.0
#
# vmm.mk - builds the test VMM's guest image and the object embedding it.
# Included by selftests/Makefile and tools/bench/Makefile, which set
#   VMM_LIB  path to selftests/lib
#   VMM_OBJ  directory for intermediate files (not shipped to the test VM)
# and link $(VMM_HOST_SRCS) and $(VMM_IMAGE_O) into their programs.
#
# Guest code is freestanding 64-bit C linked at VMM_CODE_GPA by guest.lds,
# flattened with objcopy and pulled in by guest_image.S with .incbin.

VMM_HOST_SRCS := $(wildcard $(VMM_LIB)/*.c)
VMM_HOST_HDRS := $(wildcard $(VMM_LIB)/*.h)
VMM_GUEST_SRCS := $(VMM_LIB)/guest/start.S $(wildcard $(VMM_LIB)/guest/*.c)
VMM_GUEST_DEPS := $(VMM_GUEST_SRCS) $(wildcard $(VMM_LIB)/guest/*.h) \
		  $(VMM_LIB)/guest_abi.h $(VMM_LIB)/guest/guest.lds
VMM_IMAGE_O := $(VMM_OBJ)/guest_image.o

VMM_GUEST_CFLAGS := -O2 -Wall -Wextra -Wno-unused-parameter -m64 \
	-ffreestanding -fno-builtin -nostdlib -static -fno-pic -fno-pie -no-pie \
	-mno-red-zone -mgeneral-regs-only -fno-stack-protector \
	-fcf-protection=none -fno-asynchronous-unwind-tables \
	-Wl,--build-id=none -Wl,-T,$(VMM_LIB)/guest/guest.lds

$(VMM_OBJ)/guest.elf: $(VMM_GUEST_DEPS)
	@mkdir -p $(VMM_OBJ)
	$(CC) $(VMM_GUEST_CFLAGS) -o $@ $(VMM_GUEST_SRCS)

$(VMM_OBJ)/guest.bin: $(VMM_OBJ)/guest.elf
	objcopy -O binary $< $@

$(VMM_IMAGE_O): $(VMM_LIB)/guest_image.S $(VMM_OBJ)/guest.bin
	$(CC) -c -DVMM_GUEST_BIN='"$(abspath $(VMM_OBJ)/guest.bin)"' -o $@ $<
