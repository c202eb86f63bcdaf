// SPDX-License-Identifier: GPL-2.0
/*
 * ummunotify: the mmu notifier of a file, and how it turns the kernel's
 * invalidations into reports.
 *
 * A file's mmu notifier (two from 6.6, see umn.h) watches the whole address
 * space; the file's interval tree finds the registrations an invalidation
 * hits. In V2 mode every invalidation is reported when it starts.
 *
 * With UMMUNOTIFY_FEATURE_MAPPING_ONLY we also skip invalidations that change
 * no page table entry. The kernel announces some of those: when a VMA is cut
 * inside a 2 MiB aligned range (munmap of part of a mapping, or of one of
 * several adjacent mappings the kernel merged into one VMA), it checks for a
 * transparent huge page to split and announces an invalidation of the whole
 * 2 MiB first, whether or not there is a huge page. Reported at once, that
 * evicts every registration near the cut.
 *
 * The kernel tells us when entries really changed: it invalidates secondary
 * TLBs (IOMMUs, and our NIC in spirit) through invalidate_range (up to 6.5)
 * or arch_invalidate_secondary_tlbs (6.6 on). So:
 *
 *  - An invalidation that starts while a TLB flush is pending in the mm
 *    (mm_tlb_flush_pending: an mmu_gather is open, as for munmap, zap,
 *    madvise, exit) is reported at once: the flush that will confirm it may
 *    come only after it ends.
 *  - Any other invalidation is deferred. Without a gather, whoever changes
 *    an entry must flush before it ends (ptep_clear_flush, pmdp_invalidate,
 *    the batched reclaim flush all invalidate secondary TLBs, and up to 6.5
 *    so does every end that is not an _only_end), so the report
 *    is queued when such a flush overlaps it, and dropped when it ends
 *    without one. The VMA-split check with no huge page is such a one.
 *
 * Either way the report is queued before the invalidating system call
 * returns, and nothing that changes which page an address maps to goes
 * unreported. All callbacks only take the file's spinlock and touch memory
 * preallocated with each registration: they never sleep, allocate or fail.
 */
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/mm_inline.h>
#include <linux/poll.h>

#include "umn.h"

/* Invalidations that cannot change which page a virtual address maps to. */
static bool umn_protection_only(const struct mmu_notifier_range *range)
{
	switch (range->event) {
	case MMU_NOTIFY_PROTECTION_VMA:
	case MMU_NOTIFY_PROTECTION_PAGE:
	case MMU_NOTIFY_SOFT_DIRTY:
		return true;
	default:
		return false;
	}
}

static bool umn_mapping_only(struct umn_file *uf)
{
	return READ_ONCE(uf->features) & UMMUNOTIFY_FEATURE_MAPPING_ONLY;
}

static struct interval_tree_node *umn_first_hit(struct umn_file *uf,
						unsigned long start,
						unsigned long end)
{
	return interval_tree_iter_first(&uf->tree, start, end - 1);
}

/* Queues (or widens) the report of @reg for [start, end). Under uf->lock. */
static void umn_queue(struct umn_file *uf, struct umn_reg *reg,
		      unsigned long start, unsigned long end)
{
	if (list_empty(&reg->report)) {
		/* First hit since the last read: the exact part. */
		reg->flags = UMMUNOTIFY_EVENT_FLAG_HINT;
		reg->hint_start = max(start, reg->it.start);
		reg->hint_end = min(end, reg->it.last + 1);
		list_add_tail(&reg->report, &uf->pending);
		WRITE_ONCE(uf->npending, uf->npending + 1);
	} else {
		umn_hint_whole(reg);
	}
}

/*
 * Reports every registration overlapping [start, end) and moves the counter
 * once. Under uf->lock; returns whether anything was queued (the caller then
 * wakes readers, after unlocking).
 */
static bool umn_report(struct umn_file *uf, unsigned long start,
		       unsigned long end)
{
	struct interval_tree_node *it;
	bool hit = false;

	if (uf->closing || start >= end)
		return false;
	for (it = umn_first_hit(uf, start, end); it;
	     it = interval_tree_iter_next(it, start, end - 1)) {
		umn_queue(uf, container_of(it, struct umn_reg, it), start, end);
		hit = true;
	}
	if (hit) {
		/*
		 * One increment per reporting callback: a report queued after
		 * a LAST was read always moves the counter past that LAST.
		 */
		WRITE_ONCE(*uf->counter, *uf->counter + 1);
		WRITE_ONCE(uf->need_last, true);
	}
	return hit;
}

static void umn_wake(struct umn_file *uf)
{
	wake_up_interruptible(&uf->wait);
	kill_fasync(&uf->fasync, SIGIO, POLL_IN);
}

/* Takes a free slot for @range; false if all are taken. Under uf->lock. */
static bool umn_defer(struct umn_file *uf, const struct mmu_notifier_range *range)
{
	unsigned int i;

	for (i = 0; i < UMN_DEFERRED_SLOTS; i++) {
		struct umn_deferred *d = &uf->deferred[i];

		if (!d->range) {
			d->range = range;
			d->start = range->start;
			d->end = range->end;
			return true;
		}
	}
	return false;
}

static int umn_range_start(struct mmu_notifier *mn,
			   const struct mmu_notifier_range *range)
{
	struct umn_file *uf = container_of(mn, struct umn_file, mn);
	bool mapping_only = umn_mapping_only(uf);
	bool deferrable;
	bool hit = false;

	if (mapping_only && umn_protection_only(range))
		return 0;
	deferrable = mapping_only && !mm_tlb_flush_pending(range->mm);

	spin_lock(&uf->lock);
	/* A deferred one takes a slot only if it hits a registration. */
	if (!deferrable || (!uf->closing &&
			    umn_first_hit(uf, range->start, range->end) &&
			    !umn_defer(uf, range)))
		hit = umn_report(uf, range->start, range->end);
	spin_unlock(&uf->lock);
	if (hit)
		umn_wake(uf);
	return 0;
}

static void umn_range_end(struct mmu_notifier *mn,
			  const struct mmu_notifier_range *range)
{
	struct umn_file *uf = container_of(mn, struct umn_file, mn);
	unsigned int i;

	if (!umn_mapping_only(uf))
		return;
	spin_lock(&uf->lock);
	for (i = 0; i < UMN_DEFERRED_SLOTS; i++)
		if (uf->deferred[i].range == range)
			uf->deferred[i].range = NULL;
	spin_unlock(&uf->lock);
}

/*
 * The kernel invalidated secondary TLBs for [start, end) (possibly all of
 * the address space): entries there changed. Reports the deferred
 * invalidations it overlaps. May run under a page table lock.
 */
static void umn_tlb_flushed(struct mmu_notifier *mn, struct mm_struct *mm,
			    unsigned long start, unsigned long end)
{
#if UMN_SEPARATE_TLB_NOTIFIER
	struct umn_file *uf = container_of(mn, struct umn_file, mn_tlb);
#else
	struct umn_file *uf = container_of(mn, struct umn_file, mn);
#endif
	bool hit = false;
	unsigned int i;

	if (!umn_mapping_only(uf))
		return;
	spin_lock(&uf->lock);
	for (i = 0; i < UMN_DEFERRED_SLOTS; i++) {
		struct umn_deferred *d = &uf->deferred[i];

		if (d->range)
			hit |= umn_report(uf, max(start, d->start),
					  min(end, d->end));
	}
	spin_unlock(&uf->lock);
	if (hit)
		umn_wake(uf);
}

/*
 * The address space is going away (exit_mmap), or the file is being closed
 * (mmu_notifier_unregister; closing is set then, so nothing is queued).
 * No callback follows: every registration is reported now.
 */
static void umn_mm_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	struct umn_file *uf = container_of(mn, struct umn_file, mn);
	bool hit;

	spin_lock(&uf->lock);
	hit = umn_report(uf, 0, ULONG_MAX);
	spin_unlock(&uf->lock);
	if (hit)
		umn_wake(uf);
}

#if UMN_SEPARATE_TLB_NOTIFIER
const struct mmu_notifier_ops umn_notifier_ops = {
	.release = umn_mm_release,
	.invalidate_range_start = umn_range_start,
	.invalidate_range_end = umn_range_end,
};

const struct mmu_notifier_ops umn_tlb_notifier_ops = {
	.arch_invalidate_secondary_tlbs = umn_tlb_flushed,
};
#else
const struct mmu_notifier_ops umn_notifier_ops = {
	.release = umn_mm_release,
	.invalidate_range_start = umn_range_start,
	.invalidate_range_end = umn_range_end,
	.invalidate_range = umn_tlb_flushed,
};
#endif
