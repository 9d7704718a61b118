#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Prints the guest plan of `make run`: load memvirt, mount memvirtfs, run two
# KVM guests on it (tools/bench/memvirt_demo), show the sysfs counters.
cat <<'PLAN'
step -t 60 load 'insmod /memvirt/memvirt.ko && mkdir -p /run/memvirt && mount -t memvirtfs memvirt /run/memvirt && echo "memvirt loaded; memvirtfs mounted on /run/memvirt" && cat /sys/kernel/memvirt/budget_mb | sed "s/^/budget_mb: /"'
step -t 1500 demo '/tests/memvirt_demo /run/memvirt'
PLAN
