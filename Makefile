# SPDX-License-Identifier: GPL-2.0
#
# memvirt top-level Makefile. Two commands matter:
#   make run     boot a test VM, run two KVM guests on memvirtfs, show counters
#   make check   the whole test suite (what CI runs)
# Everything else is a developer convenience; see Documentation/dev/testing.rst.

VMTEST := tools/vmtest
KERNEL ?= distro

.PHONY: all module check check-kernel selftest manifest vm-shell run bench clean help

all: module

# memvirt.ko against the distro kernel headers (W=1, sparse), in build/distro.
module:
	@$(VMTEST)/build.sh module distro

check:
	@$(VMTEST)/check.sh

# One kernel only, for fast iteration: make check-kernel KERNEL=distro|debug
check-kernel:
	@$(VMTEST)/check.sh --kernel $(KERNEL)

# One kselftest program: make selftest T=memvirtfs_test [KERNEL=debug]
selftest:
	@test -n "$(T)" || { echo "usage: make selftest T=<program> [KERNEL=distro|debug]"; exit 2; }
	@$(VMTEST)/check.sh --kernel $(KERNEL) --only $(T)

# Regenerate tools/vmtest/manifest.txt from the last check run (after adding
# or renaming tests; review the diff).
manifest:
	@$(VMTEST)/manifest-update.sh

# Interactive shell in the test VM with memvirt loaded (Ctrl-a x quits).
vm-shell:
	@$(VMTEST)/check.sh --kernel $(KERNEL) --shell

run:
	@$(VMTEST)/check.sh --kernel distro --demo

bench:
	@$(VMTEST)/check.sh --kernel distro --bench

clean:
	rm -rf build

help:
	@sed -n 's/^# \{0,1\}//p' Makefile | head -n 5
