// SPDX-License-Identifier: GPL-2.0
/*
 * ummunotify: the mmu notifier of a file, and how it turns the kernel's
 * invalidations into reports.
 *
 * A file's mmu notifier watches the whole address space; the file's interval
 * tree finds the registrations an invalidation hits. In V2 mode every
 * invalidation is reported when it starts.
 *
 * UMMUNOTIFY_FEATURE_MAPPING_ONLY skips what is proven harmless, and only
 * that:
 *
 *  - protection-only and soft-dirty events (mprotect, fork's write
 *    protection, NUMA hinting, clear_refs) never change which page an
 *    address maps to;
 *  - an invalidation of at most one PMD's worth of pages, started while no
 *    mmu_gather is open in the mm, is deferred: the page frames behind every
 *    watched page in its range are read when it starts and again when it
 *    ends, and it is reported at its end unless every one is the same frame
 *    (or unmapped both times). Cutting a VMA inside a 2 MiB aligned range
 *    (munmap of one of several adjacent buffers the kernel merged into one
 *    VMA) announces such an invalidation for its huge-page check and, with
 *    no huge page there, changes nothing: its neighbours are spared. A real
 *    huge-page split keeps the frames and is spared too.
 *
 * Everything else is reported when it starts: an invalidation inside an
 * mmu_gather (munmap, zap, madvise, exit), a larger range, any invalidation
 * when all deferral slots are busy, and every one on architectures where
 * the lockless walk is not known safe (see UMN_CAN_SNAPSHOT). Reports at the
 * end are still queued before the invalidating call returns: the kernel has
 * changed the page tables of [start, end) by the time it ends the
 * invalidation. No decision rests on TLB flush callbacks, whose presence
 * varies by kernel version and architecture.
 *
 * All callbacks only take the file's spinlock and touch memory allocated
 * beforehand: they never sleep, allocate or fail.
 */
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/mm_inline.h>
#include <linux/pgtable.h>
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

/*
 * Invalidations the file ignores from start to end. Features are frozen
 * before the notifier goes on, so start and end always agree.
 */
static bool umn_ignored(struct umn_file *uf, const struct mmu_notifier_range *range)
{
	return umn_mapping_only(uf) && umn_protection_only(range);
}

/* Whether a file with these features defers invalidations (and needs slots). */
bool umn_snapshot_used(u32 features)
{
	return UMN_CAN_SNAPSHOT && (features & UMMUNOTIFY_FEATURE_MAPPING_ONLY);
}

static struct interval_tree_node *umn_first_hit(struct umn_file *uf,
						unsigned long start,
						unsigned long end)
{
	return interval_tree_iter_first(&uf->tree, start, end - 1);
}

/*
 * After queueing reports: one counter increment per reporting callback, so
 * a report queued after a LAST was read always moves the counter past that
 * LAST, and a LAST is owed. Under uf->lock.
 */
static void umn_count(struct umn_file *uf)
{
	WRITE_ONCE(*uf->counter, *uf->counter + 1);
	WRITE_ONCE(uf->need_last, true);
}

/*
 * Queues (or widens) the report of @reg, which is in uf->tree, for
 * [start, end). A ONESHOT registration leaves the tree here: its report is
 * its last, so it is exact (HINT) and says so (REMOVED). Only pointer
 * updates: fit for a callback that must not block. Under uf->lock.
 */
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
	if (reg->oneshot) {
		interval_tree_remove(&reg->it, &uf->tree);
		reg->in_tree = false;
		reg->flags |= UMMUNOTIFY_EVENT_FLAG_REMOVED;
		uf->nremoved++;
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
	struct interval_tree_node *it, *next;
	bool hit = false;

	if (uf->closing || start >= end)
		return false;
	for (it = umn_first_hit(uf, start, end); it; it = next) {
		/*
		 * The next hit is found first: a ONESHOT one leaves the tree in
		 * umn_queue(), and the walk goes on from a node still in it.
		 */
		next = interval_tree_iter_next(it, start, end - 1);
		umn_queue(uf, container_of(it, struct umn_reg, it), start, end);
		hit = true;
	}
	if (hit)
		umn_count(uf);
	return hit;
}

/*
 * A registration just inserted: an invalidation of its range already in
 * progress did not see it and may be changing its pages, so then it is
 * reported now (spurious at worst). Under uf->lock; returns whether it was
 * queued.
 */
bool umn_report_new(struct umn_file *uf, struct umn_reg *reg)
{
	unsigned long start = reg->it.start, end = reg->it.last + 1;
	bool overlap = uf->active_overflow != 0;
	unsigned int i;

	for (i = 0; !overlap && i < UMN_ACTIVE_SLOTS; i++)
		overlap = uf->active[i].range && uf->active[i].start < end &&
			  start < uf->active[i].end;
	if (!overlap || uf->closing)
		return false;
	umn_queue(uf, reg, start, end);
	umn_count(uf);
	return true;
}

void umn_wake(struct umn_file *uf)
{
	wake_up_interruptible(&uf->wait);
	kill_fasync(&uf->fasync, SIGIO, POLL_IN);
}

#if UMN_CAN_SNAPSHOT
/*
 * The page frame mapped at @addr, plus one; 0 if nothing is mapped there
 * (none, swap or migration entry). A lockless walk as GUP-fast does it:
 * with interrupts off no page table we read can be freed under us (table
 * freeing waits for an IPI or an RCU grace period), and each level is read
 * once and followed from that copy.
 */
static unsigned long umn_frame(struct mm_struct *mm, unsigned long addr)
{
	pgd_t *pgdp = pgd_offset(mm, addr), pgd = READ_ONCE(*pgdp);
	p4d_t *p4dp, p4d;
	pud_t *pudp, pud;
	pmd_t *pmdp, pmd;
	pte_t *ptep, pte;

	if (pgd_none(pgd) || pgd_bad(pgd))
		return 0;
	p4dp = p4d_offset_lockless(pgdp, pgd, addr);
	p4d = READ_ONCE(*p4dp);
	if (p4d_none(p4d) || p4d_bad(p4d))
		return 0;
	pudp = pud_offset_lockless(p4dp, p4d, addr);
	pud = READ_ONCE(*pudp);
	if (pud_none(pud) || !pud_present(pud))
		return 0;
	if (pud_leaf(pud))
		return pud_pfn(pud) + ((addr & ~PUD_MASK) >> PAGE_SHIFT) + 1;
	if (pud_bad(pud))
		return 0;
	pmdp = pmd_offset_lockless(pudp, pud, addr);
	pmd = READ_ONCE(*pmdp);
	if (pmd_none(pmd) || !pmd_present(pmd))
		return 0;
	if (pmd_leaf(pmd))
		return pmd_pfn(pmd) + ((addr & ~PMD_MASK) >> PAGE_SHIFT) + 1;
	if (pmd_bad(pmd))
		return 0;
	ptep = pte_offset_kernel(&pmd, addr);
	pte = ptep_get_lockless(ptep);
	return pte_present(pte) ? pte_pfn(pte) + 1 : 0;
}

/*
 * Fills @d->frame for the watched pages of [d->inv.start, d->inv.end). Under
 * uf->lock.
 */
static void umn_snapshot(struct umn_file *uf, struct umn_deferred *d)
{
	unsigned long npages = (d->inv.end - d->inv.start) >> PAGE_SHIFT;
	unsigned long next = d->inv.start;	/* pages below are done */
	struct interval_tree_node *it;
	unsigned long flags, i;

	for (i = 0; i < npages; i++)
		d->frame[i] = UMN_SNAP_UNWATCHED;
	local_irq_save(flags);
	/* Hits come in order of start: each page is read once. */
	for (it = umn_first_hit(uf, d->inv.start, d->inv.end); it;
	     it = interval_tree_iter_next(it, d->inv.start, d->inv.end - 1)) {
		unsigned long a = max(next, it->start & PAGE_MASK);
		unsigned long last = min(d->inv.end - 1, it->last);

		for (; a <= last; a += PAGE_SIZE)
			d->frame[(a - d->inv.start) >> PAGE_SHIFT] = umn_frame(uf->mm, a);
		next = max(next, a);
	}
	local_irq_restore(flags);
}

/*
 * Compares the watched pages of @d with what they map now; returns the
 * smallest range [*start, *end) holding every page that changed, or false
 * if none did. Under uf->lock.
 */
static bool umn_changed(struct umn_file *uf, const struct umn_deferred *d,
			unsigned long *start, unsigned long *end)
{
	unsigned long npages = (d->inv.end - d->inv.start) >> PAGE_SHIFT;
	unsigned long flags, i;
	bool changed = false;

	local_irq_save(flags);
	for (i = 0; i < npages; i++) {
		unsigned long a = d->inv.start + (i << PAGE_SHIFT);

		if (d->frame[i] == UMN_SNAP_UNWATCHED ||
		    d->frame[i] == umn_frame(uf->mm, a))
			continue;
		if (!changed)
			*start = a;
		*end = a + PAGE_SIZE;
		changed = true;
	}
	local_irq_restore(flags);
	return changed;
}

/*
 * Takes a free slot for @range and snapshots it; false if it is not a
 * candidate or no slot is free. Under uf->lock.
 */
static bool umn_defer(struct umn_file *uf, const struct mmu_notifier_range *range)
{
	unsigned int i, nslots = min_t(unsigned int, READ_ONCE(umn_deferred_slots),
				       UMN_DEFERRED_SLOTS);

	if (!uf->deferred || uf->closing ||
	    (range->start | range->end) & ~PAGE_MASK ||
	    range->end - range->start > PMD_SIZE)
		return false;
	for (i = 0; i < nslots; i++) {
		struct umn_deferred *d = &uf->deferred[i];

		if (!d->inv.range) {
			d->inv = (struct umn_active) { range, range->start, range->end };
			umn_snapshot(uf, d);
			uf->ndeferred++;
			return true;
		}
	}
	return false;
}
#else
static bool umn_defer(struct umn_file *uf, const struct mmu_notifier_range *range)
{
	return false;
}
#endif /* UMN_CAN_SNAPSHOT */

/* Records an invalidation in progress. Under uf->lock. */
static void umn_active_add(struct umn_file *uf, const struct mmu_notifier_range *range)
{
	unsigned int i;

	for (i = 0; i < UMN_ACTIVE_SLOTS; i++) {
		struct umn_active *a = &uf->active[i];

		if (!a->range) {
			*a = (struct umn_active) { range, range->start, range->end };
			return;
		}
	}
	uf->active_overflow++;
}

static void umn_active_remove(struct umn_file *uf, const struct mmu_notifier_range *range)
{
	unsigned int i;

	for (i = 0; i < UMN_ACTIVE_SLOTS; i++) {
		if (uf->active[i].range == range) {
			uf->active[i].range = NULL;
			return;
		}
	}
	/* Not recorded: one of the overflow, or it started before the notifier was on. */
	if (uf->active_overflow)
		uf->active_overflow--;
}

static int umn_range_start(struct mmu_notifier *mn,
			   const struct mmu_notifier_range *range)
{
	struct umn_file *uf = container_of(mn, struct umn_file, mn);
	bool mapping_only = umn_mapping_only(uf);
	bool hit = false;

	if (umn_ignored(uf, range))
		return 0;

	spin_lock(&uf->lock);
	umn_active_add(uf, range);
	/* A deferred one takes a slot only if it hits a registration. */
	if (umn_first_hit(uf, range->start, range->end) &&
	    (!mapping_only || mm_tlb_flush_pending(range->mm) || !umn_defer(uf, range)))
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
#if UMN_CAN_SNAPSHOT
	unsigned long start, end;
	unsigned int i;
#endif
	bool hit = false;

	if (umn_ignored(uf, range))
		return;
	spin_lock(&uf->lock);
	umn_active_remove(uf, range);
#if UMN_CAN_SNAPSHOT
	for (i = 0; uf->deferred && i < UMN_DEFERRED_SLOTS; i++) {
		struct umn_deferred *d = &uf->deferred[i];

		if (d->inv.range != range)
			continue;
		if (umn_changed(uf, d, &start, &end))
			hit |= umn_report(uf, start, end);
		else
			uf->nspared++;
		d->inv.range = NULL;
	}
#endif
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

const struct mmu_notifier_ops umn_notifier_ops = {
	.release = umn_mm_release,
	.invalidate_range_start = umn_range_start,
	.invalidate_range_end = umn_range_end,
};
