/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Kernel configuration and version differences memvirt cares about, decided
 * here and nowhere else: .c files carry no #ifdef.
 */
#ifndef MEMVIRT_COMPAT_H
#define MEMVIRT_COMPAT_H

#include <linux/mm.h>

/*
 * vm_operations_struct has ->get_policy only with CONFIG_NUMA. Use in an
 * initializer: MEMVIRT_VM_OPS_GET_POLICY(fn).
 */
#ifdef CONFIG_NUMA
#define MEMVIRT_VM_OPS_GET_POLICY(fn)	.get_policy = (fn),
#else
#define MEMVIRT_VM_OPS_GET_POLICY(fn)
#endif

#endif /* MEMVIRT_COMPAT_H */
