/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Symbols the KUnit module (memvirt_kunit.ko) calls are exported, in their
 * own namespace, only from a kernel built with KUnit.
 */
#ifndef MEMVIRT_KUNIT_EXPORT_H
#define MEMVIRT_KUNIT_EXPORT_H

#include <linux/export.h>

#if IS_ENABLED(CONFIG_KUNIT)
#define MEMVIRT_EXPORT_FOR_KUNIT(sym) EXPORT_SYMBOL_NS_GPL(sym, MEMVIRT_KUNIT)
#else
#define MEMVIRT_EXPORT_FOR_KUNIT(sym)
#endif

#endif /* MEMVIRT_KUNIT_EXPORT_H */
