#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Prints the guest plan of `make run`: load memvirt, mount memvirtfs (with
# the swap disk as swapdir), run two KVM guests on it (memvirt_demo), then
# four at 2x overcommit (overcommit_demo) while memvirtctl records `top -b`
# every second and shows a frame every 20 s (through cat: the results
# port is a tty, and top would draw a live screen). The recorded CSV goes to the
# results as "csv: " lines, which check.sh plots on the host.
cat <<'PLAN'
step -t 60 load 'insmod /memvirt/memvirt.ko && mkdir -p /run/memvirt && mount -t memvirtfs -o swapdir=/mnt/swap memvirt /run/memvirt && echo "memvirt loaded; memvirtfs mounted on /run/memvirt, swapdir=/mnt/swap" && echo "budget_mb: $(memvirtctl get budget_mb)"'
step -t 600 demo '/tests/memvirt_demo /run/memvirt'
step -t 30 overcommit 'memvirtctl set overcommit_ratio 200 && memvirtctl set budget_mb 128 && memvirtctl set dedup/run 1 && memvirtctl set dedup/pages_to_scan 4096 && memvirtctl set dedup/cpu_percent 50 && echo "2x overcommit: 4 guests of 64 MiB on budget_mb $(memvirtctl get budget_mb)"'
step -t 900 overcommit_demo 'memvirtctl top -b -n 0 -d 1 >/tmp/top.csv & T=$!; (while sleep 20; do memvirtctl top -n 1 | cat; done) & F=$!; overcommit_demo /run/memvirt 40; rc=$?; kill $F $T 2>/dev/null; wait; memvirtctl top -n 1 | cat; sed "s/^/csv: /" /tmp/top.csv; exit $rc'
PLAN
