// SPDX-License-Identifier: GPL-2.0
/*
 * debugfs: /sys/kernel/debug/memvirt/dedup, the shape of the sharing tables
 * ("key value" lines: buckets, chain lengths, hints, frames by number of
 * sharers); and /sys/kernel/debug/memvirt/vms/<id>/p2m, the P2M of one VM
 * in EPT format, one line per gfn whose entry is not ABSENT:
 *
 *   gfn 0x<gfn> pte 0x<64-bit entry> <state> [A] [D]
 *
 * The seq_file position is a gfn, so a dump of a huge VM is produced a page
 * at a time and resumes where it left off.
 */
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/seq_file.h>

#include "dedup/dedup.h"
#include "module/memvirt.h"

static struct dentry *memvirt_debugfs_root;
static struct dentry *memvirt_debugfs_vms;

/*
 * seq_file positions: 0 is the header line, gfn + 1 the line of a gfn. So a
 * dump of an empty P2M is its header alone, and a read resumes at a gfn.
 */
static void *memvirt_p2m_seq_find(struct seq_file *m, loff_t *pos)
{
	struct memvirt_vm *vm = m->private;
	struct memvirt_p2m_iter iter;
	u64 pte;

	if (*pos > MEMVIRT_P2M_MAX_GFN + 1)
		return NULL;
	for_each_p2m_entry(iter, &vm->p2m, *pos - 1, MEMVIRT_P2M_MAX_GFN + 1) {
		pte = memvirt_p2m_read(iter.ptep);
		if (memvirt_pte_state(pte) == MEMVIRT_P2M_ABSENT)
			continue;
		*pos = iter.gfn + 1;
		return iter.ptep;
	}
	*pos = MEMVIRT_P2M_MAX_GFN + 2;
	return NULL;
}

static void *memvirt_p2m_seq_start(struct seq_file *m, loff_t *pos)
{
	return *pos ? memvirt_p2m_seq_find(m, pos) : SEQ_START_TOKEN;
}

static void *memvirt_p2m_seq_next(struct seq_file *m, void *v, loff_t *pos)
{
	++*pos;
	return memvirt_p2m_seq_find(m, pos);
}

static void memvirt_p2m_seq_stop(struct seq_file *m, void *v)
{
}

static int memvirt_p2m_seq_show(struct seq_file *m, void *v)
{
	char text[32];
	u64 pte;

	if (v == SEQ_START_TOKEN) {
		seq_puts(m, "# gfn pte state flags\n");
		return 0;
	}
	pte = memvirt_p2m_read(v);
	if (WARN_ON_ONCE(memvirt_store_action(memvirt_pte_state(pte), MEMVIRT_OP_DUMP) !=
			 MEMVIRT_ACT_REPORT))
		return 0;
	memvirt_pte_snprint(text, sizeof(text), pte);
	seq_printf(m, "gfn 0x%llx pte 0x%016llx %s\n", (u64)m->index - 1, pte, text);
	return 0;
}

static const struct seq_operations memvirt_p2m_sops = {
	.start	= memvirt_p2m_seq_start,
	.next	= memvirt_p2m_seq_next,
	.stop	= memvirt_p2m_seq_stop,
	.show	= memvirt_p2m_seq_show,
};
DEFINE_SEQ_ATTRIBUTE(memvirt_p2m);

/* vms/<id>/swap_slots: the swap file, its size and the slots in use. */
static int memvirt_swap_slots_show(struct seq_file *m, void *v)
{
	memvirt_swap_show_slots(m, m->private);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(memvirt_swap_slots);

/* swap: the compression cache's statistics. */
static int memvirt_swap_debugfs_show(struct seq_file *m, void *v)
{
	memvirt_zcache_show(m);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(memvirt_swap_debugfs);

void memvirt_debugfs_add_vm(struct memvirt_vm *vm)
{
	char name[24];

	snprintf(name, sizeof(name), "%llu", vm->id);
	vm->debugfs = debugfs_create_dir(name, memvirt_debugfs_vms);
	debugfs_create_file("p2m", 0400, vm->debugfs, vm, &memvirt_p2m_fops);
	debugfs_create_file("swap_slots", 0400, vm->debugfs, vm, &memvirt_swap_slots_fops);
}

/* Waits for readers of the VM's files to finish. */
void memvirt_debugfs_remove_vm(struct memvirt_vm *vm)
{
	debugfs_remove(vm->debugfs);
}

static int memvirt_dedup_debugfs_show(struct seq_file *m, void *v)
{
	memvirt_dedup_show(m);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(memvirt_dedup_debugfs);

/* policy: the free-memory state, and each VM's target and working set. */
static int memvirt_policy_debugfs_show(struct seq_file *m, void *v)
{
	memvirt_policy_show(m);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(memvirt_policy_debugfs);

void memvirt_debugfs_init(void)
{
	memvirt_debugfs_root = debugfs_create_dir("memvirt", NULL);
	debugfs_create_file("dedup", 0400, memvirt_debugfs_root, NULL, &memvirt_dedup_debugfs_fops);
	debugfs_create_file("swap", 0400, memvirt_debugfs_root, NULL, &memvirt_swap_debugfs_fops);
	debugfs_create_file("policy", 0400, memvirt_debugfs_root, NULL,
			    &memvirt_policy_debugfs_fops);
	memvirt_debugfs_vms = debugfs_create_dir("vms", memvirt_debugfs_root);
}

void memvirt_debugfs_exit(void)
{
	debugfs_remove(memvirt_debugfs_root);
}
