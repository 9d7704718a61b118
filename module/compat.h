/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every difference between the kernels memvirt supports (Debian's 6.1 and
 * 6.12; Documentation/dev/kernels.rst) is decided here and nowhere else: no
 * .c file tests LINUX_VERSION_CODE or a configuration option.
 *
 * The rule: the code is written against the newest API, and this header
 * emulates it on older kernels, so that dropping an old kernel means
 * deleting a block here and nothing else. Each block says when the kernel
 * changed, so that it can be found by version.
 */
#ifndef MEMVIRT_COMPAT_H
#define MEMVIRT_COMPAT_H

#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/shrinker.h>
#include <linux/slab.h>
#include <linux/version.h>

/*
 * 6.3: inode operations take the mount's idmapping (struct mnt_idmap)
 * instead of its user namespace; nop_mnt_idmap is the identity mapping. On
 * older kernels the namespace plays that role, and init_user_ns is the
 * identity, so the names map one to one.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 3, 0)
#define mnt_idmap		user_namespace
#define nop_mnt_idmap		init_user_ns
#define file_mnt_idmap		file_mnt_user_ns
#endif

/* 6.6: generic_fillattr() takes the request mask. */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 6, 0)
static inline void memvirt_generic_fillattr(struct mnt_idmap *idmap, u32 request_mask,
					    struct inode *inode, struct kstat *stat)
{
	generic_fillattr(idmap, inode, stat);
}

#define generic_fillattr	memvirt_generic_fillattr
#endif

/*
 * 6.6: the inode's ctime is reached through accessors only. Stable kernels
 * backported them (Debian's 6.1 has them), hence a probe (Kbuild), not the
 * version.
 */
#ifndef MEMVIRT_HAVE_INODE_SET_CTIME_CURRENT
static inline struct timespec64 inode_set_ctime_current(struct inode *inode)
{
	inode->i_ctime = current_time(inode);
	return inode->i_ctime;
}
#endif

/* 6.7: atime and mtime too, and one helper stamps a new inode. */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 7, 0)
static inline struct timespec64 inode_set_mtime_to_ts(struct inode *inode,
						      struct timespec64 ts)
{
	inode->i_mtime = ts;
	return ts;
}

static inline struct timespec64 inode_get_mtime(const struct inode *inode)
{
	return inode->i_mtime;
}

static inline struct timespec64 simple_inode_init_ts(struct inode *inode)
{
	struct timespec64 ts = current_time(inode);

	inode->i_atime = ts;
	inode->i_mtime = ts;
	inode->i_ctime = ts;
	return ts;
}
#endif

/*
 * 6.5: generic_file_splice_read() is gone; copy_splice_read() is the splice
 * of a filesystem whose ->read_iter() does not read the page cache, as
 * memvirt's. On older kernels the generic one calls ->read_iter() too.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 5, 0)
#define copy_splice_read	generic_file_splice_read
#endif

/*
 * 6.7: vm_operations_struct->get_policy() also returns the interleave index
 * (@ilx). Write the new one; MEMVIRT_GET_POLICY_ADAPTER(fn), after it at
 * file scope, defines what older kernels call. The hook exists only with
 * CONFIG_NUMA: MEMVIRT_VM_OPS_GET_POLICY(fn) in the initializer.
 */
#ifndef CONFIG_NUMA
#define MEMVIRT_GET_POLICY_ADAPTER(fn)	static_assert(1)
#define MEMVIRT_VM_OPS_GET_POLICY(fn)
#elif LINUX_VERSION_CODE < KERNEL_VERSION(6, 7, 0)
#define MEMVIRT_GET_POLICY_ADAPTER(fn)						\
	static struct mempolicy *fn##_no_ilx(struct vm_area_struct *vma,	\
					     unsigned long addr)		\
	{									\
		pgoff_t ilx = 0;						\
										\
		return fn(vma, addr, &ilx);					\
	}
#define MEMVIRT_VM_OPS_GET_POLICY(fn)	.get_policy = fn##_no_ilx,
#else
#define MEMVIRT_GET_POLICY_ADAPTER(fn)	static_assert(1)
#define MEMVIRT_VM_OPS_GET_POLICY(fn)	.get_policy = (fn),
#endif

/*
 * 6.7: shrinkers are allocated by the core: shrinker_alloc(),
 * shrinker_register(), shrinker_free(). Emulated with a kzalloc()ed
 * shrinker and register_shrinker(), the only registration 6.1 exports to
 * modules; it takes the name, so memvirt's one shrinker is named
 * "memvirt" there. What 6.1 cannot give is ->private_data: memvirt's
 * shrinker callbacks use module state, never that field.
 */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 7, 0)
#define shrinker_alloc(shrinker_flags, fmt, ...)				\
({										\
	struct shrinker *__s = kzalloc(sizeof(*__s), GFP_KERNEL);		\
										\
	if (__s) {								\
		__s->flags = (shrinker_flags);					\
		__s->seeks = DEFAULT_SEEKS;					\
	}									\
	__s;									\
})

/* A failed registration (no memory for its name) leaves it unregistered. */
static inline void shrinker_register(struct shrinker *shrinker)
{
	if (register_shrinker(shrinker, "memvirt"))
		pr_warn("no shrinker: host memory pressure will not reach memvirt\n");
}

static inline void shrinker_free(struct shrinker *shrinker)
{
	if (!shrinker)
		return;
	if (shrinker->flags & SHRINKER_REGISTERED)
		unregister_shrinker(shrinker);
	kfree(shrinker);
}
#endif

/*
 * KUNIT_ASSERT_FAILURE() was renamed KUNIT_FAIL_AND_ABORT() between 6.1 and
 * 6.12; the macro itself tells which the kernel has. For KUnit suites, which
 * include <kunit/test.h> before this header.
 */
#if defined(KUNIT_ASSERT_FAILURE) && !defined(KUNIT_FAIL_AND_ABORT)
#define KUNIT_FAIL_AND_ABORT	KUNIT_ASSERT_FAILURE
#endif

#endif /* MEMVIRT_COMPAT_H */
