# SPDX-License-Identifier: GPL-2.0
#
# memvirt top-level Makefile. Two commands matter:
#   make run     boot a test VM, run two KVM guests on memvirtfs, show counters
#   make check   the whole test suite (what CI runs)
# Everything else is a developer convenience; see Documentation/dev/testing.rst.

VMTEST := tools/vmtest
KERNEL ?= distro-6.1

.PHONY: all module memvirtctl install uninstall check check-kernel selftest manifest vm-shell \
	run bench clean help dkms-install dkms-remove

all: module memvirtctl

# The operator's tool (tools/memvirtctl), static, in build/memvirtctl/.
memvirtctl:
	@$(MAKE) -s -C tools/memvirtctl OUT=$(CURDIR)/build/memvirtctl STATIC=1

# make install [DESTDIR=...] [PREFIX=/usr/local]: memvirtctl into
# $(PREFIX)/sbin and its man page into $(PREFIX)/share/man/man8; make
# uninstall removes them. Only the tool: the module is installed with
# `make dkms-install` (it needs root and the host's kernel headers).
PREFIX ?= /usr/local
SBINDIR := $(DESTDIR)$(PREFIX)/sbin
MAN8DIR := $(DESTDIR)$(PREFIX)/share/man/man8

install: memvirtctl
	install -d $(SBINDIR) $(MAN8DIR)
	install -m 0755 build/memvirtctl/memvirtctl $(SBINDIR)/memvirtctl
	install -m 0644 tools/memvirtctl/memvirtctl.8 $(MAN8DIR)/memvirtctl.8

uninstall:
	rm -f $(SBINDIR)/memvirtctl $(MAN8DIR)/memvirtctl.8

# memvirt.ko against a kernel's headers (W=1, sparse), in build/$(KERNEL).
module:
	@$(VMTEST)/kernels.sh $(KERNEL) >/dev/null
	@$(VMTEST)/build.sh module $(KERNEL)

check:
	@$(VMTEST)/check.sh

# Some kernels only, for fast iteration: make check-kernel KERNEL=<name>, one
# or more (quoted) of distro-6.1 distro-6.12 debug-6.1 debug-6.12.
check-kernel:
	@$(VMTEST)/check.sh --kernel "$(KERNEL)"

# Some kselftest programs: make selftest T="memvirtfs_test swap_test" [KERNEL=debug-6.12]
selftest:
	@test -n "$(T)" || { echo "usage: make selftest T=<program> [KERNEL=<name>]"; exit 2; }
	@$(VMTEST)/check.sh --kernel "$(KERNEL)" --only "$(T)"

# Regenerate tools/vmtest/manifest.txt from the last check run (after adding
# or renaming tests; review the diff).
manifest:
	@$(VMTEST)/manifest-update.sh

# Interactive shell in the test VM with memvirt loaded (Ctrl-a x quits).
vm-shell:
	@$(VMTEST)/check.sh --kernel "$(KERNEL)" --shell

run:
	@$(VMTEST)/check.sh --kernel "$(KERNEL)" --demo

bench:
	@$(VMTEST)/check.sh --kernel "$(KERNEL)" --bench

# On a host: build and install memvirt for the running kernel (or KVER=...)
# through DKMS, which rebuilds it for every kernel installed later; and undo
# that. Documentation/admin-guide.rst, "Installing with DKMS".
dkms-install:
	@tools/dkms.sh install $(KVER)

dkms-remove:
	@tools/dkms.sh remove

clean:
	rm -rf build

help:
	@sed -n 's/^# \{0,1\}//p' Makefile | head -n 5
