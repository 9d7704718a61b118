#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Prints the guest plan of `make bench`: every benchmark in tools/bench, each
# printing its figures side by side with the baseline measured in the same run.
cat <<'PLAN'
step -t 60 load 'insmod /memvirt/memvirt.ko && mkdir -p /run/memvirt && mount -t memvirtfs memvirt /run/memvirt'
step -t 1500 fault_bench '/tests/fault_bench'
step -t 1500 reclaim_bench '/tests/reclaim_bench'
step -t 600 dedup_bench '/tests/dedup_bench'
step -t 1000 swap_bench '/tests/swap_bench'
step -t 600 policy_bench '/tests/policy_bench'
step -t 1200 consolidate_bench '/tests/consolidate_bench'
PLAN
