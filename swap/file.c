// SPDX-License-Identifier: GPL-2.0
/*
 * Each VM's swap file: created and reserved up front, resized with the VM,
 * removed with it; its slots; synchronous reads.
 *
 * DOC: the swap file
 *
 * As ESX's .vswp: when a VM first gets a size, memvirt creates
 * <swapdir>/memvirt-<vm id>.vswp (mode 0600, root's, whoever sized the VM)
 * and reserves it whole with fallocate(): the VM's size less its
 * reservation, the most it can ever need to swap. Swapping then never
 * allocates disk space, so it cannot fail with ENOSPC at run time; if the
 * reservation fails, the resize that asked for it fails with -ENOSPC and a
 * log line naming the directory. Growing the VM grows the file the same
 * way; shrinking it shrinks the file, down to just past the highest slot
 * still in use; destroying the VM removes it.
 *
 * The file is opened O_DIRECT and read and written with direct-I/O kiocbs:
 * the filesystem maps file offsets to its blocks (so any filesystem with
 * O_DIRECT and fallocate serves, ext4 or xfs), and no page cache ever holds
 * a second copy of guest RAM. Slot n is bytes [n * 4096, (n + 1) * 4096).
 * The file is created and resized with the kernel's credentials: the VMM
 * that sizes a VM needs no right to the swap directory.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitmap.h>
#include <linux/bvec.h>
#include <linux/completion.h>
#include <linux/cred.h>
#include <linux/falloc.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/kthread.h>
#include <linux/mount.h>
#include <linux/namei.h>
#include <linux/sched/task.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uio.h>

#include "module/compat.h"
#include "module/kunit_export.h"
#include "module/memvirt.h"
#include "swap/swap.h"

static const struct cred *memvirt_swap_cred;

#define MEMVIRT_SWAP_OPEN_FLAGS	(O_RDWR | O_LARGEFILE | O_DIRECT | O_NOFOLLOW | O_CLOEXEC)

/* Opens a new swap file in @dir, replacing a stale one a crash left. */
static struct file *memvirt_swap_file_open(struct memvirt_vm *vm, const struct path *dir,
					   const char *name)
{
	struct file *file;

	file = file_open_root(dir, name, MEMVIRT_SWAP_OPEN_FLAGS | O_CREAT | O_EXCL, 0600);
	if (PTR_ERR_OR_ZERO(file) == -EEXIST) {
		pr_warn("vm %llu (%s): replacing the stale swap file %s\n", vm->id, vm->name,
			vm->swap.path);
		file = file_open_root(dir, name, MEMVIRT_SWAP_OPEN_FLAGS | O_TRUNC, 0600);
	}
	if (!IS_ERR(file) && !S_ISREG(file_inode(file)->i_mode)) {
		fput(file);
		file = ERR_PTR(-EINVAL);
	}
	return file;
}

static int memvirt_swap_file_create(struct memvirt_vm *vm, const struct path *dir)
{
	struct memvirt_vm_swap *sw = &vm->swap;
	char name[32], *dirname, *buf;
	struct file *file;

	snprintf(name, sizeof(name), "memvirt-%llu.vswp", vm->id);
	buf = kmalloc(PATH_MAX, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	dirname = d_path(dir, buf, PATH_MAX);
	sw->path = kasprintf(GFP_KERNEL, "%s/%s", IS_ERR(dirname) ? "?" : dirname, name);
	kfree(buf);
	if (!sw->path)
		return -ENOMEM;
	file = memvirt_swap_file_open(vm, dir, name);
	if (IS_ERR(file)) {
		pr_warn_ratelimited("vm %llu (%s): cannot create the swap file %s (%ld; the filesystem needs O_DIRECT and fallocate): -ENOSPC\n",
				    vm->id, vm->name, sw->path, PTR_ERR(file));
		kfree(sw->path);
		sw->path = NULL;
		return -ENOSPC;
	}
	WRITE_ONCE(sw->file, file);
	return 0;
}

/* Removes the file from its directory, if it is still there. */
static void memvirt_swap_file_unlink(struct file *file)
{
	struct dentry *dentry = file->f_path.dentry;
	struct dentry *parent;
	struct inode *dir;

	if (mnt_want_write(file->f_path.mnt))
		return;
	/*
	 * A reference of our own, as a lookup would give: with the file's
	 * alone, d_delete() would make the dentry negative under the file.
	 */
	dget(dentry);
	parent = dget_parent(dentry);
	dir = d_inode(parent);
	inode_lock_nested(dir, I_MUTEX_PARENT);
	if (dentry->d_parent == parent && !d_unhashed(dentry) && d_is_positive(dentry))
		vfs_unlink(file_mnt_idmap(file), dir, dentry, NULL);
	inode_unlock(dir);
	dput(parent);
	dput(dentry);
	mnt_drop_write(file->f_path.mnt);
}

static int memvirt_swap_file_grow(struct memvirt_vm *vm, u64 pages)
{
	struct memvirt_vm_swap *sw = &vm->swap;
	unsigned long *bits, *old = NULL;
	loff_t from = sw->nr_slots << PAGE_SHIFT;
	int err;

	err = vfs_fallocate(sw->file, 0, from, (pages << PAGE_SHIFT) - from);
	if (err) {
		pr_warn_ratelimited("vm %llu (%s): cannot reserve %llu MiB of swap in %s (%d): -ENOSPC\n",
				    vm->id, vm->name, pages >> (20 - PAGE_SHIFT), sw->path, err);
		/* What was allocated before the failure goes back. */
		vfs_truncate(&sw->file->f_path, from);
		return -ENOSPC;
	}
	if (pages > sw->bitmap_bits) {
		bits = kvcalloc(BITS_TO_LONGS(pages), sizeof(long), GFP_KERNEL_ACCOUNT);
		if (!bits) {
			vfs_truncate(&sw->file->f_path, from);
			return -ENOMEM;
		}
		spin_lock(&sw->slot_lock);
		if (sw->slots)
			bitmap_copy(bits, sw->slots, sw->bitmap_bits);
		old = sw->slots;
		sw->slots = bits;
		sw->bitmap_bits = pages;
		spin_unlock(&sw->slot_lock);
		kvfree(old);
	}
	spin_lock(&sw->slot_lock);
	sw->nr_slots = pages;
	spin_unlock(&sw->slot_lock);
	return 0;
}

/* Slots at and past the highest one in use stay; the rest of the tail goes. */
static void memvirt_swap_file_shrink(struct memvirt_vm *vm, u64 pages)
{
	struct memvirt_vm_swap *sw = &vm->swap;
	u64 last;

	spin_lock(&sw->slot_lock);
	last = find_last_bit(sw->slots, sw->nr_slots);
	if (last < sw->nr_slots)
		pages = max(pages, last + 1);
	sw->nr_slots = pages;
	if (sw->hint >= pages)
		sw->hint = 0;
	spin_unlock(&sw->slot_lock);
	vfs_truncate(&sw->file->f_path, pages << PAGE_SHIFT);
}

/**
 * memvirt_swap_file_resize - make the VM's swap file @pages long.
 * @vm: the VM.
 * @dir: the swap directory, where a new file is created; NULL if none
 *	 (then the VM gets no swap file).
 * @pages: slots wanted: the VM's size less its reservation.
 *
 * The first non-zero size creates the file. Shrinking keeps slots in use.
 *
 * Return: 0; -ENOSPC (logged) if the file cannot be created or reserved;
 * -ENOMEM.
 */
int memvirt_swap_file_resize(struct memvirt_vm *vm, const struct path *dir, u64 pages)
{
	struct memvirt_vm_swap *sw = &vm->swap;
	const struct cred *old_cred;
	bool created = false;
	int err = 0;

	mutex_lock(&sw->resize_lock);
	old_cred = override_creds(memvirt_swap_cred);
	if (!sw->file) {
		if (!pages || !dir)
			goto out;
		err = memvirt_swap_file_create(vm, dir);
		if (err)
			goto out;
		created = true;
	}
	if (pages > sw->nr_slots)
		err = memvirt_swap_file_grow(vm, pages);
	else if (pages < sw->nr_slots)
		memvirt_swap_file_shrink(vm, pages);
	if (err && created)
		memvirt_swap_file_remove(vm);
out:
	revert_creds(old_cred);
	mutex_unlock(&sw->resize_lock);
	return err;
}

/*
 * Removes the swap file (teardown, or a creation that failed): no slot is
 * in use and no write is in flight.
 */
void memvirt_swap_file_remove(struct memvirt_vm *vm)
{
	struct memvirt_vm_swap *sw = &vm->swap;
	const struct cred *old_cred;

	if (!sw->file)
		return;
	WARN_ON_ONCE(sw->used);
	old_cred = override_creds(memvirt_swap_cred);
	memvirt_swap_file_unlink(sw->file);
	revert_creds(old_cred);
	fput(sw->file);
	WRITE_ONCE(sw->file, NULL);
	kfree(sw->path);
	sw->path = NULL;
	sw->nr_slots = 0;
}

u64 memvirt_swap_file_pages(struct memvirt_vm *vm)
{
	return READ_ONCE(vm->swap.nr_slots);
}

/**
 * memvirt_swap_slot_alloc - take @nr consecutive free slots.
 * @vm: the VM.
 * @nr: slots wanted.
 * @slot: out: the first.
 *
 * Next fit from the last allocation, so a batch of swap-outs lands in
 * consecutive slots and its neighbours can be read back in one I/O.
 *
 * Return: false if the file has no such run free (or there is no file).
 */
bool memvirt_swap_slot_alloc(struct memvirt_vm *vm, unsigned int nr, u64 *slot)
{
	struct memvirt_vm_swap *sw = &vm->swap;
	unsigned long s;

	spin_lock(&sw->slot_lock);
	s = bitmap_find_next_zero_area(sw->slots, sw->nr_slots, sw->hint, nr, 0);
	if (s >= sw->nr_slots && sw->hint)
		s = bitmap_find_next_zero_area(sw->slots, sw->nr_slots, 0, nr, 0);
	if (s < sw->nr_slots) {
		bitmap_set(sw->slots, s, nr);
		sw->used += nr;
		sw->hint = s + nr;
	}
	spin_unlock(&sw->slot_lock);
	*slot = s;
	return s < sw->nr_slots;
}

MEMVIRT_EXPORT_FOR_KUNIT(memvirt_swap_slot_alloc);

void memvirt_swap_slot_free(struct memvirt_vm *vm, u64 slot, unsigned int nr)
{
	struct memvirt_vm_swap *sw = &vm->swap;

	spin_lock(&sw->slot_lock);
	if (!WARN_ON_ONCE(slot + nr > sw->bitmap_bits)) {
		bitmap_clear(sw->slots, slot, nr);
		sw->used -= nr;
	}
	spin_unlock(&sw->slot_lock);
}

MEMVIRT_EXPORT_FOR_KUNIT(memvirt_swap_slot_free);

/**
 * memvirt_swap_file_io - set up a direct-I/O kiocb over @nr pages at @slot.
 * @vm: the VM.
 * @iocb: the kiocb to set up.
 * @iter: the iterator to set up.
 * @bv: @nr bio_vecs to fill.
 * @pages: the pages.
 * @nr: how many.
 * @slot: the first slot.
 * @dir: READ or WRITE.
 */
void memvirt_swap_file_io(struct memvirt_vm *vm, struct kiocb *iocb, struct iov_iter *iter,
			  struct bio_vec *bv, struct page **pages, unsigned int nr, u64 slot,
			  unsigned int dir)
{
	unsigned int i;

	for (i = 0; i < nr; i++) {
		bv[i].bv_page = pages[i];
		bv[i].bv_len = PAGE_SIZE;
		bv[i].bv_offset = 0;
	}
	iov_iter_bvec(iter, dir, bv, nr, (size_t)nr << PAGE_SHIFT);
	init_sync_kiocb(iocb, vm->swap.file);
	iocb->ki_flags |= IOCB_DIRECT;
	iocb->ki_pos = slot << PAGE_SHIFT;
}

/**
 * struct memvirt_swap_read - a read submitted by the memvirt_swapio thread.
 * @work:	the submission, on the reader's stack.
 * @iocb:	the direct-I/O kiocb.
 * @bv:		its I/O vector.
 * @vm:		the VM.
 * @pages:	the pages.
 * @nr:		how many.
 * @slot:	the first slot.
 * @ret:	the result.
 * @done:	completed when the read is over.
 */
struct memvirt_swap_read {
	struct kthread_work work;
	struct kiocb iocb;
	struct bio_vec bv[MEMVIRT_READAHEAD_MAX + 1];
	struct memvirt_vm *vm;
	struct page **pages;
	unsigned int nr;
	u64 slot;
	long ret;
	struct completion done;
};

static void memvirt_swap_read_done(struct kiocb *iocb, long ret)
{
	struct memvirt_swap_read *r = container_of(iocb, struct memvirt_swap_read, iocb);

	r->ret = ret;
	complete(&r->done);
}

static void memvirt_swap_read_fn(struct kthread_work *work)
{
	struct memvirt_swap_read *r = container_of(work, struct memvirt_swap_read, work);
	struct iov_iter iter;
	ssize_t ret;

	memvirt_swap_file_io(r->vm, &r->iocb, &iter, r->bv, r->pages, r->nr, r->slot, READ);
	r->iocb.ki_complete = memvirt_swap_read_done;
	ret = r->vm->swap.file->f_op->read_iter(&r->iocb, &iter);
	if (ret != -EIOCBQUEUED)
		memvirt_swap_read_done(&r->iocb, ret);
}

/**
 * memvirt_swap_file_read - read @nr consecutive slots into @pages, waiting.
 * @vm: the VM.
 * @pages: the pages.
 * @nr: how many, at most MEMVIRT_READAHEAD_MAX + 1.
 * @slot: the first slot.
 *
 * The read is submitted by the memvirt_swapio thread (swap.c says why);
 * the caller waits for it, uninterruptibly: it holds the gfn lock.
 *
 * Return: 0, or a negative errno (-EIO for a short read).
 */
int memvirt_swap_file_read(struct memvirt_vm *vm, struct page **pages, unsigned int nr,
			   u64 slot)
{
	struct memvirt_swap_read *r;
	long ret;

	if (WARN_ON_ONCE(nr > MEMVIRT_READAHEAD_MAX + 1))
		return -EINVAL;
	if (!vm->swap.file)	/* only a test's fake VM has slots and no file */
		return -EIO;
	r = kmalloc(sizeof(*r), GFP_NOIO);
	if (!r)
		return -ENOMEM;
	r->vm = vm;
	r->pages = pages;
	r->nr = nr;
	r->slot = slot;
	init_completion(&r->done);
	kthread_init_work(&r->work, memvirt_swap_read_fn);
	kthread_queue_work(memvirt_swap_io, &r->work);
	wait_for_completion(&r->done);
	/* The thread may still be returning from the submission. */
	kthread_flush_work(&r->work);
	ret = r->ret;
	kfree(r);
	if (ret == (long)nr << PAGE_SHIFT)
		return 0;
	return ret < 0 ? ret : -EIO;
}

MEMVIRT_EXPORT_FOR_KUNIT(memvirt_swap_file_read);

/* debugfs vms/<id>/swap_slots. */
void memvirt_swap_show_slots(struct seq_file *m, struct memvirt_vm *vm)
{
	struct memvirt_vm_swap *sw = &vm->swap;

	spin_lock(&sw->slot_lock);
	seq_printf(m, "file: %s\nslots: %llu used: %llu\n", sw->path ?: "none", sw->nr_slots,
		   sw->used);
	if (sw->used)
		seq_printf(m, "%*pbl\n", (int)min_t(u64, sw->nr_slots, INT_MAX), sw->slots);
	spin_unlock(&sw->slot_lock);
}

int memvirt_swap_file_init(void)
{
	memvirt_swap_cred = prepare_kernel_cred(&init_task);
	return memvirt_swap_cred ? 0 : -ENOMEM;
}

void memvirt_swap_file_exit(void)
{
	put_cred(memvirt_swap_cred);
}
