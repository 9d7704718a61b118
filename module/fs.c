// SPDX-License-Identifier: GPL-2.0
/*
 * memvirtfs: guest RAM as files.
 *
 * DOC: memvirtfs
 *
 * A small in-memory filesystem in the style of ramfs: directories are plain
 * dcache directories (libvirt makes one per domain), and every regular file
 * is one VM's guest RAM, backed by a struct memvirt_vm. Its size is the
 * guest-physical size, set with ftruncate() under admission control; its
 * pages live in the VM's P2M, never in the page cache.
 *
 * Mount options: uid=, gid= and mode= (octal) of the root directory;
 * swapdir=, the directory of the VMs' swap files (swap/file.c): checked to
 * be a directory at mount and remount, and held, so the filesystem it is on
 * cannot be unmounted under the VMs.
 * The filesystem type holds a reference on the module while any instance is
 * mounted, so rmmod is refused while one is (a mapping keeps its file, and so
 * the superblock, alive even after a lazy umount).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/falloc.h>	/* after fs.h: needs its types */
#include <linux/fs_context.h>
#include <linux/fs_parser.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/namei.h>
#include <linux/pagemap.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uio.h>

#include "module/compat.h"
#include "module/memvirt.h"

#define MEMVIRT_ROOT_MODE_DEFAULT	0755

/* Mount options; @set: the BIT(OPT_*) given, so a remount changes only those. */
struct memvirt_fs_opts {
	kuid_t uid;
	kgid_t gid;
	umode_t mode;
	struct path swapdir;
	char *swapdir_name;
	unsigned int set;
};

/**
 * struct memvirt_fs_info - one memvirtfs instance (sb->s_fs_info).
 * @lock:	protects @swapdir and @swapdir_name (remount changes them).
 * @swapdir:	where VMs' swap files are made; mnt NULL if nowhere.
 * @swapdir_name: the path as given, for /proc/mounts.
 */
struct memvirt_fs_info {
	spinlock_t lock;	/* @swapdir, @swapdir_name */
	struct path swapdir;
	char *swapdir_name;
};

/**
 * memvirt_fs_swapdir - the swap directory of a memvirtfs instance.
 * @sb: the instance.
 * @dir: out: the directory, with a reference (path_put() it).
 *
 * Return: false if the instance has none (mounted without swapdir=).
 */
bool memvirt_fs_swapdir(struct super_block *sb, struct path *dir)
{
	struct memvirt_fs_info *info = sb->s_fs_info;

	spin_lock(&info->lock);
	*dir = info->swapdir;
	if (dir->mnt)
		path_get(dir);
	spin_unlock(&info->lock);
	return dir->mnt;
}

static const struct inode_operations memvirt_dir_iops;
static const struct inode_operations memvirt_file_iops;
static const struct file_operations memvirt_file_fops;

struct memvirt_vm *memvirt_file_vm(struct file *file)
{
	return file_inode(file)->i_private;
}

static struct inode *memvirt_new_inode(struct super_block *sb, const struct inode *dir,
				       umode_t mode)
{
	struct inode *inode = new_inode(sb);

	if (!inode)
		return NULL;
	inode->i_ino = get_next_ino();
	inode_init_owner(&nop_mnt_idmap, inode, dir, mode);
	simple_inode_init_ts(inode);
	if (S_ISDIR(mode)) {
		inode->i_op = &memvirt_dir_iops;
		inode->i_fop = &simple_dir_operations;
		inc_nlink(inode);	/* "." */
	} else {
		inode->i_op = &memvirt_file_iops;
		inode->i_fop = &memvirt_file_fops;
		/* Guest RAM never enters the page cache: nothing to write back. */
		mapping_set_unevictable(inode->i_mapping);
	}
	return inode;
}

static int memvirt_mknod(struct inode *dir, struct dentry *dentry, umode_t mode)
{
	struct memvirt_vm *vm = NULL;
	struct inode *inode;
	char *buf, *path;

	inode = memvirt_new_inode(dir->i_sb, dir, mode);
	if (!inode)
		return -ENOMEM;
	if (S_ISREG(mode)) {
		buf = kmalloc(PATH_MAX, GFP_KERNEL);
		if (!buf) {
			iput(inode);
			return -ENOMEM;
		}
		path = dentry_path_raw(dentry, buf, PATH_MAX);
		vm = IS_ERR(path) ? ERR_CAST(path) :
				    memvirt_vm_create(path, inode->i_mapping);
		kfree(buf);
		if (IS_ERR(vm)) {
			iput(inode);
			return PTR_ERR(vm);
		}
		inode->i_private = vm;
	}
	d_instantiate(dentry, inode);
	dget(dentry);	/* pinned in the dcache until unlink, as in ramfs */
	inode_set_mtime_to_ts(dir, inode_set_ctime_current(dir));
	return 0;
}

static int memvirt_create(struct mnt_idmap *idmap, struct inode *dir,
			  struct dentry *dentry, umode_t mode, bool excl)
{
	return memvirt_mknod(dir, dentry, (mode & ~S_IFMT) | S_IFREG);
}

static int memvirt_mkdir(struct mnt_idmap *idmap, struct inode *dir,
			 struct dentry *dentry, umode_t mode)
{
	int err = memvirt_mknod(dir, dentry, mode | S_IFDIR);

	if (!err)
		inc_nlink(dir);
	return err;
}

static const struct inode_operations memvirt_dir_iops = {
	.lookup		= simple_lookup,
	.create		= memvirt_create,
	.mkdir		= memvirt_mkdir,
	.rmdir		= simple_rmdir,
	.unlink		= simple_unlink,
	.rename		= simple_rename,
};

/* Change the size; called with i_rwsem held. */
static int memvirt_set_size(struct inode *inode, loff_t size)
{
	struct memvirt_vm *vm = inode->i_private;
	struct address_space *mapping = inode->i_mapping;
	loff_t old = i_size_read(inode);
	u64 new_pages = PFN_UP(size);
	struct page *page;
	u64 freed = 0;
	int err;

	lockdep_assert_held(&inode->i_rwsem);
	if (size == old)
		return 0;
	err = memvirt_vm_resize(vm, size);
	if (err)
		return err;
	if (size > old) {
		/* The swap file is reserved before the size is visible. */
		err = memvirt_swap_vm_resize(vm);
		if (err) {
			memvirt_vm_resize(vm, old);	/* a shrink: cannot fail */
			return err;
		}
		i_size_write(inode, size);
		return 0;
	}
	filemap_invalidate_lock(mapping);
	i_size_write(inode, size);
	/* A shrink cannot fail; a refused gfn (-EIO) was logged and is kept. */
	memvirt_vm_discard(vm, new_pages, PFN_UP(old), MEMVIRT_OP_TRUNCATE,
			   &freed);
	/* The tail of a partial last page must read as zero if regrown. */
	if (offset_in_page(size)) {
		page = memvirt_store_get_page(vm, new_pages - 1, MEMVIRT_OP_READ);
		if (!IS_ERR_OR_NULL(page)) {
			zero_user_segment(page, offset_in_page(size), PAGE_SIZE);
			put_page(page);
		}
	}
	filemap_invalidate_unlock(mapping);
	/* The tail's slots are free now: the file shrinks (it cannot fail). */
	memvirt_swap_vm_resize(vm);
	return 0;
}

/* stat(): blocks are the resident pages, so du(1) shows real usage. */
static int memvirt_getattr(struct mnt_idmap *idmap, const struct path *path,
			   struct kstat *stat, u32 request_mask, unsigned int flags)
{
	struct inode *inode = d_inode(path->dentry);
	struct memvirt_vm *vm = inode->i_private;

	generic_fillattr(idmap, request_mask, inode, stat);
	stat->blocks = atomic_long_read(&vm->stats.resident) << (PAGE_SHIFT - 9);
	return 0;
}

static int memvirt_setattr(struct mnt_idmap *idmap, struct dentry *dentry,
			   struct iattr *attr)
{
	struct inode *inode = d_inode(dentry);
	int err;

	err = setattr_prepare(idmap, dentry, attr);
	if (err)
		return err;
	if (attr->ia_valid & ATTR_SIZE) {
		err = memvirt_set_size(inode, attr->ia_size);
		if (err)
			return err;
		inode_set_mtime_to_ts(inode, inode_set_ctime_current(inode));
	}
	setattr_copy(idmap, inode, attr);
	return 0;
}

static const struct inode_operations memvirt_file_iops = {
	.setattr	= memvirt_setattr,
	.getattr	= memvirt_getattr,
};

static int memvirt_mmap(struct file *file, struct vm_area_struct *vma)
{
	/* A private mapping would give the guest copies memvirt cannot see. */
	if (!(vma->vm_flags & VM_MAYSHARE)) {
		pr_warn_ratelimited("%s[%d]: private mapping of guest RAM refused: map it shared (QEMU: share=on)\n",
				    current->comm, task_pid_nr(current));
		return -EINVAL;
	}
	file_accessed(file);
	vma->vm_ops = &memvirt_vm_ops;
	return 0;
}

static ssize_t memvirt_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	ssize_t ret = memvirt_vm_copy(memvirt_file_vm(iocb->ki_filp), iocb, to, false);

	file_accessed(iocb->ki_filp);
	return ret;
}

static ssize_t memvirt_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	struct file *file = iocb->ki_filp;
	struct inode *inode = file_inode(file);
	ssize_t ret;

	inode_lock(inode);
	ret = generic_write_checks(iocb, from);
	if (ret > 0)
		ret = file_modified(file);	/* privileges, then times */
	if (!ret)
		ret = memvirt_vm_copy(memvirt_file_vm(file), iocb, from, true);
	inode_unlock(inode);
	return ret;
}

static long memvirt_punch(struct inode *inode, loff_t off, loff_t len)
{
	struct memvirt_vm *vm = inode->i_private;
	struct address_space *mapping = inode->i_mapping;
	u64 start = off >> PAGE_SHIFT, end, freed = 0;
	int err;

	if (!PAGE_ALIGNED(off) || !PAGE_ALIGNED(len)) {
		pr_warn_ratelimited("vm %llu: punch of [%lld, +%lld) refused: offset and length must be multiples of %lu\n",
				    vm->id, off, len, PAGE_SIZE);
		return -EINVAL;
	}
	/*
	 * Shared: faults in the rest of the VM go on (the reclaim protocol
	 * needs only gfn and page locks); i_size cannot change, as truncate
	 * takes it exclusively.
	 */
	filemap_invalidate_lock_shared(mapping);
	end = min_t(u64, (off + len) >> PAGE_SHIFT,
		    PFN_UP(i_size_read(inode)));
	/* While its balloon target is pending, the VM's balloon is inflating. */
	err = memvirt_vm_discard(vm, start, end, memvirt_policy_balloon_pending(vm) ?
				 MEMVIRT_OP_BALLOON : MEMVIRT_OP_PUNCH, &freed);
	atomic_long_add(freed, &vm->stats.punched);
	filemap_invalidate_unlock_shared(mapping);
	return err;
}

static long memvirt_fill(struct inode *inode, int mode, loff_t off, loff_t len)
{
	struct memvirt_vm *vm = inode->i_private;
	struct address_space *mapping = inode->i_mapping;
	loff_t end = off + len;
	long err;

	if (!(mode & FALLOC_FL_KEEP_SIZE) && end > i_size_read(inode)) {
		err = inode_newsize_ok(inode, end);	/* RLIMIT_FSIZE, s_maxbytes */
		if (!err)
			err = memvirt_set_size(inode, end);
		if (err)
			return err;
	}
	filemap_invalidate_lock_shared(mapping);
	end = min(end, i_size_read(inode));
	err = off < end ? memvirt_vm_populate(vm, off >> PAGE_SHIFT,
					      PFN_UP(end)) : 0;
	filemap_invalidate_unlock_shared(mapping);
	return err;
}

static long memvirt_fallocate(struct file *file, int mode, loff_t off, loff_t len)
{
	struct inode *inode = file_inode(file);
	loff_t old_size;
	long err;

	/* vfs_fallocate() already refused PUNCH_HOLE without KEEP_SIZE. */
	if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE))
		return -EOPNOTSUPP;
	inode_lock(inode);
	old_size = i_size_read(inode);
	if (mode & FALLOC_FL_PUNCH_HOLE)
		err = memvirt_punch(inode, off, len);
	else
		err = memvirt_fill(inode, mode, off, len);
	/* Also after a failed populate that had already grown the file. */
	if (!err || i_size_read(inode) != old_size)
		err = file_modified(file) ?: err;
	inode_unlock(inode);
	return err;
}

static const struct file_operations memvirt_file_fops = {
	.owner		= THIS_MODULE,
	.llseek		= generic_file_llseek,
	.read_iter	= memvirt_read_iter,
	.write_iter	= memvirt_write_iter,
	.splice_read	= copy_splice_read,
	.splice_write	= iter_file_splice_write,
	.mmap		= memvirt_mmap,
	.fsync		= noop_fsync,
	.fallocate	= memvirt_fallocate,
	.unlocked_ioctl	= memvirt_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
};

static void memvirt_evict_inode(struct inode *inode)
{
	truncate_inode_pages_final(&inode->i_data);
	if (S_ISREG(inode->i_mode) && inode->i_private)
		memvirt_vm_destroy(inode->i_private);
	clear_inode(inode);
}

static int memvirt_show_options(struct seq_file *m, struct dentry *root)
{
	struct memvirt_fs_info *info = root->d_sb->s_fs_info;
	struct inode *inode = d_inode(root);

	/* In the reader's user namespace, as stat() would show them. */
	if (!uid_eq(inode->i_uid, GLOBAL_ROOT_UID))
		seq_printf(m, ",uid=%u", from_kuid_munged(seq_user_ns(m), inode->i_uid));
	if (!gid_eq(inode->i_gid, GLOBAL_ROOT_GID))
		seq_printf(m, ",gid=%u", from_kgid_munged(seq_user_ns(m), inode->i_gid));
	if ((inode->i_mode & S_IALLUGO) != MEMVIRT_ROOT_MODE_DEFAULT)
		seq_printf(m, ",mode=%o", inode->i_mode & S_IALLUGO);
	spin_lock(&info->lock);
	if (info->swapdir_name)
		seq_show_option(m, "swapdir", info->swapdir_name);
	spin_unlock(&info->lock);
	return 0;
}

static const struct super_operations memvirt_sops = {
	.statfs		= simple_statfs,
	.drop_inode	= generic_delete_inode,
	.evict_inode	= memvirt_evict_inode,
	.show_options	= memvirt_show_options,
};

enum { OPT_UID, OPT_GID, OPT_MODE, OPT_SWAPDIR };

static const struct fs_parameter_spec memvirt_fs_params[] = {
	fsparam_u32("uid", OPT_UID),
	fsparam_u32("gid", OPT_GID),
	fsparam_u32oct("mode", OPT_MODE),
	fsparam_string("swapdir", OPT_SWAPDIR),
	{}
};

/* swapdir=: an absolute path to an existing directory. */
static int memvirt_parse_swapdir(struct fs_context *fc, struct memvirt_fs_opts *opts,
				 const char *name)
{
	struct path path;
	int err;

	if (name[0] != '/')
		return invalfc(fc, "swapdir %s: not an absolute path", name);
	err = kern_path(name, LOOKUP_FOLLOW | LOOKUP_DIRECTORY, &path);
	if (err) {
		errorfc(fc, "swapdir %s: %s (%d)", name,
			err == -ENOTDIR ? "not a directory" : "cannot look it up", err);
		return err;
	}
	if (path.dentry->d_sb->s_magic == MEMVIRT_FS_MAGIC) {
		path_put(&path);
		return invalfc(fc, "swapdir %s: on a memvirtfs: its files would be VMs", name);
	}
	path_put(&opts->swapdir);
	kfree(opts->swapdir_name);
	opts->swapdir_name = kstrdup(name, GFP_KERNEL);
	if (!opts->swapdir_name) {
		path_put(&path);
		opts->swapdir = (struct path){};
		return -ENOMEM;
	}
	opts->swapdir = path;
	return 0;
}

static int memvirt_parse_param(struct fs_context *fc, struct fs_parameter *param)
{
	struct memvirt_fs_opts *opts = fc->fs_private;
	struct fs_parse_result result;
	int opt;

	opt = fs_parse(fc, memvirt_fs_params, param, &result);
	if (opt < 0)
		return opt;
	switch (opt) {
	case OPT_UID:
		opts->uid = make_kuid(current_user_ns(), result.uint_32);
		if (!uid_valid(opts->uid))
			return invalfc(fc, "invalid uid %u", result.uint_32);
		break;
	case OPT_GID:
		opts->gid = make_kgid(current_user_ns(), result.uint_32);
		if (!gid_valid(opts->gid))
			return invalfc(fc, "invalid gid %u", result.uint_32);
		break;
	case OPT_MODE:
		if (result.uint_32 & ~S_IALLUGO)
			return invalfc(fc, "invalid mode %o", result.uint_32);
		opts->mode = result.uint_32;
		break;
	case OPT_SWAPDIR: {
		int err = memvirt_parse_swapdir(fc, opts, param->string);

		if (err)
			return err;
		break;
	}
	}
	opts->set |= BIT(opt);
	return 0;
}

/*
 * Applies the options given (mount and remount): the root directory's
 * owner and mode, the swap directory (taken from @opts).
 */
static void memvirt_apply_opts(struct inode *root, struct memvirt_fs_opts *opts)
{
	struct memvirt_fs_info *info = root->i_sb->s_fs_info;
	struct path old_dir = {};
	char *old_name = NULL;

	if (opts->set & BIT(OPT_SWAPDIR)) {
		spin_lock(&info->lock);
		old_dir = info->swapdir;
		old_name = info->swapdir_name;
		info->swapdir = opts->swapdir;
		info->swapdir_name = opts->swapdir_name;
		spin_unlock(&info->lock);
		opts->swapdir = (struct path){};
		opts->swapdir_name = NULL;
		path_put(&old_dir);
		kfree(old_name);
	}
	if (opts->set & BIT(OPT_UID))
		root->i_uid = opts->uid;
	if (opts->set & BIT(OPT_GID))
		root->i_gid = opts->gid;
	if (opts->set & BIT(OPT_MODE))
		root->i_mode = (root->i_mode & S_IFMT) | opts->mode;
}

static int memvirt_fill_super(struct super_block *sb, struct fs_context *fc)
{
	struct memvirt_fs_opts *opts = fc->fs_private;
	struct memvirt_fs_info *info;
	struct inode *root;

	info = kzalloc(sizeof(*info), GFP_KERNEL);
	if (!info)
		return -ENOMEM;
	spin_lock_init(&info->lock);
	sb->s_fs_info = info;
	sb->s_blocksize = PAGE_SIZE;
	sb->s_blocksize_bits = PAGE_SHIFT;
	sb->s_magic = MEMVIRT_FS_MAGIC;
	sb->s_op = &memvirt_sops;
	sb->s_time_gran = 1;
	sb->s_maxbytes = (MEMVIRT_P2M_MAX_GFN + 1) << PAGE_SHIFT;
	root = memvirt_new_inode(sb, NULL, S_IFDIR | MEMVIRT_ROOT_MODE_DEFAULT);
	if (!root)
		return -ENOMEM;
	root->i_uid = GLOBAL_ROOT_UID;
	root->i_gid = GLOBAL_ROOT_GID;
	memvirt_apply_opts(root, opts);
	sb->s_root = d_make_root(root);
	return sb->s_root ? 0 : -ENOMEM;
}

static int memvirt_get_tree(struct fs_context *fc)
{
	return get_tree_nodev(fc, memvirt_fill_super);
}

static int memvirt_reconfigure(struct fs_context *fc)
{
	struct inode *root = d_inode(fc->root);

	inode_lock(root);
	memvirt_apply_opts(root, fc->fs_private);
	inode_unlock(root);
	return 0;
}

static void memvirt_free_fc(struct fs_context *fc)
{
	struct memvirt_fs_opts *opts = fc->fs_private;

	if (!opts)
		return;
	path_put(&opts->swapdir);
	kfree(opts->swapdir_name);
	kfree(opts);
}

static void memvirt_kill_sb(struct super_block *sb)
{
	struct memvirt_fs_info *info = sb->s_fs_info;

	kill_litter_super(sb);
	if (info) {
		path_put(&info->swapdir);
		kfree(info->swapdir_name);
		kfree(info);
	}
}

static const struct fs_context_operations memvirt_context_ops = {
	.free		= memvirt_free_fc,
	.parse_param	= memvirt_parse_param,
	.get_tree	= memvirt_get_tree,
	.reconfigure	= memvirt_reconfigure,
};

static int memvirt_init_fs_context(struct fs_context *fc)
{
	struct memvirt_fs_opts *opts = kzalloc(sizeof(*opts), GFP_KERNEL);

	if (!opts)
		return -ENOMEM;
	fc->fs_private = opts;
	fc->ops = &memvirt_context_ops;
	return 0;
}

static struct file_system_type memvirt_fs_type = {
	.owner			= THIS_MODULE,
	.name			= "memvirtfs",
	.init_fs_context	= memvirt_init_fs_context,
	.parameters		= memvirt_fs_params,
	.kill_sb		= memvirt_kill_sb,
};

int memvirt_fs_register(void)
{
	return register_filesystem(&memvirt_fs_type);
}

void memvirt_fs_unregister(void)
{
	unregister_filesystem(&memvirt_fs_type);
}

MODULE_ALIAS_FS("memvirtfs");
