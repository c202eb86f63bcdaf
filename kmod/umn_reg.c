// SPDX-License-Identifier: GPL-2.0
/*
 * ummunotify: registrations. Each registration is one
 * mmu_interval_notifier, so the kernel's interval tree finds the hit ones in
 * O(log n + hits) per invalidation, and the cookie index is an rbtree, so
 * REGISTER/UNREGISTER are O(log n) too. The report a registration can queue
 * is embedded in it: the invalidate callback never allocates, never sleeps,
 * and never drops anything.
 */
#include <linux/atomic.h>
#include <linux/fs.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/poll.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

#include "umn.h"

static struct umn_reg *umn_lookup(struct umn_file *uf, u64 cookie)
{
	struct rb_node *n = uf->regs.rb_node;

	while (n) {
		struct umn_reg *reg = rb_entry(n, struct umn_reg, node);

		if (cookie < reg->cookie)
			n = n->rb_left;
		else if (cookie > reg->cookie)
			n = n->rb_right;
		else
			return reg;
	}
	return NULL;
}

/* Returns false if the cookie is already there. Caller holds uf->mutex. */
static bool umn_index_insert(struct umn_file *uf, struct umn_reg *new)
{
	struct rb_node **link = &uf->regs.rb_node, *parent = NULL;

	while (*link) {
		struct umn_reg *reg = rb_entry(*link, struct umn_reg, node);

		parent = *link;
		if (new->cookie < reg->cookie)
			link = &parent->rb_left;
		else if (new->cookie > reg->cookie)
			link = &parent->rb_right;
		else
			return false;
	}
	rb_link_node(&new->node, parent, link);
	rb_insert_color(&new->node, &uf->regs);
	return true;
}

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

/*
 * Called for each registration overlapping an invalidated range, possibly
 * where sleeping is forbidden (!mmu_notifier_range_blockable(range)): it only
 * takes a spinlock, touches preallocated memory and wakes readers, so it
 * never needs to fail.
 */
static bool umn_invalidate(struct mmu_interval_notifier *mni,
			   const struct mmu_notifier_range *range,
			   unsigned long cur_seq)
{
	struct umn_reg *reg = container_of(mni, struct umn_reg, mni);
	struct umn_file *uf = reg->uf;

	spin_lock(&uf->lock);
	mmu_interval_set_seq(mni, cur_seq);
	if (reg->dead || uf->closing ||
	    ((READ_ONCE(uf->features) & UMMUNOTIFY_FEATURE_MAPPING_ONLY) &&
	     umn_protection_only(range))) {
		spin_unlock(&uf->lock);
		return true;
	}

	if (list_empty(&reg->report)) {
		/* First hit since the last read: the exact part. */
		reg->flags = UMMUNOTIFY_EVENT_FLAG_HINT;
		reg->hint_start = max_t(u64, range->start, reg->start);
		reg->hint_end = min_t(u64, range->end, reg->end);
		list_add_tail(&reg->report, &uf->pending);
		WRITE_ONCE(uf->npending, uf->npending + 1);
	} else {
		/* Hit again before being read: the whole registration. */
		reg->flags = 0;
		reg->hint_start = reg->start;
		reg->hint_end = reg->end;
	}

	/*
	 * One increment per invalidation: every registration hit by one
	 * invalidation sees the same cur_seq. Concurrent invalidations may
	 * share a seq too; counting them once is still enough, because a LAST
	 * read resets counted_seq, so any report queued after a LAST was
	 * handed out moves the counter past that LAST's value.
	 */
	if (uf->counted_seq != cur_seq) {
		uf->counted_seq = cur_seq;
		WRITE_ONCE(*uf->counter, *uf->counter + 1);
	}
	WRITE_ONCE(uf->need_last, true);
	spin_unlock(&uf->lock);

	wake_up_interruptible(&uf->wait);
	kill_fasync(&uf->fasync, SIGIO, POLL_IN);
	return true;
}

static const struct mmu_interval_notifier_ops umn_mni_ops = {
	.invalidate = umn_invalidate,
};

static void umn_reg_free(struct umn_reg *reg)
{
	kmem_cache_free(umn_reg_cache, reg);
	atomic_long_dec(&umn_live_registrations);
}

int umn_register(struct umn_file *uf, const struct ummunotify_register_ioctl *r)
{
	struct umn_reg *reg;
	u32 features;
	int ret;

	if (r->start >= r->end)
		return -EINVAL;

	reg = kmem_cache_zalloc(umn_reg_cache, GFP_KERNEL_ACCOUNT);
	if (!reg)
		return -ENOMEM;
	atomic_long_inc(&umn_live_registrations);
	reg->uf = uf;
	reg->start = r->start;
	reg->end = r->end;
	reg->cookie = r->user_cookie;
	INIT_LIST_HEAD(&reg->report);

	/* Keeps the address space alive while the notifier goes in. */
	if (!mmget_not_zero(uf->mm)) {
		ret = -ESRCH;
		goto err_free;
	}

	/* Killable: a reader may hold the mutex while faulting on its buffer. */
	ret = mutex_lock_killable(&uf->mutex);
	if (ret)
		goto err_put;
	uf->used = true;
	features = uf->features;

	ret = -EINVAL;
	if ((features & UMMUNOTIFY_FEATURE_STRICT) &&
	    (r->flags || r->reserved || r->end > TASK_SIZE))
		goto err_unlock;

	if (uf->nregs >= READ_ONCE(umn_max_registrations)) {
		ret = (features & UMMUNOTIFY_FEATURE_LIMIT) ? -ENOSPC : -ENOMEM;
		goto err_unlock;
	}

	ret = -EINVAL;
	if (!umn_index_insert(uf, reg))
		goto err_unlock;

	ret = mmu_interval_notifier_insert(&reg->mni, uf->mm, reg->start,
					   reg->end - reg->start, &umn_mni_ops);
	/*
	 * The first notifier of an mm takes all its locks and gives up with
	 * EINTR on any pending signal. Nothing is registered then, so the
	 * call can be restarted (transparently under SA_RESTART).
	 */
	if (ret == -EINTR)
		ret = -ERESTARTSYS;
	if (ret)
		goto err_index;
	uf->nregs++;
	mutex_unlock(&uf->mutex);
	mmput(uf->mm);
	return 0;

err_index:
	rb_erase(&reg->node, &uf->regs);
err_unlock:
	mutex_unlock(&uf->mutex);
err_put:
	mmput(uf->mm);
err_free:
	umn_reg_free(reg);
	return ret;
}

int umn_unregister(struct umn_file *uf, u64 cookie)
{
	struct umn_reg *reg;

	if (mutex_lock_killable(&uf->mutex))
		return -EINTR;
	uf->used = true;
	reg = umn_lookup(uf, cookie);
	if (!reg) {
		mutex_unlock(&uf->mutex);
		return -EINVAL;
	}
	rb_erase(&reg->node, &uf->regs);
	uf->nregs--;

	spin_lock(&uf->lock);
	reg->dead = true;
	if (!list_empty(&reg->report)) {
		list_del_init(&reg->report);
		WRITE_ONCE(uf->npending, uf->npending - 1);
	}
	spin_unlock(&uf->lock);
	mutex_unlock(&uf->mutex);

	/*
	 * Waits for a callback in progress on this registration; it sees
	 * reg->dead and queues nothing. Must not run from the callback.
	 */
	mmu_interval_notifier_remove(&reg->mni);
	umn_reg_free(reg);
	return 0;
}

/*
 * From release(): no other user of the file is left, but callbacks may
 * still run until each notifier is removed. The mm may be alive or gone;
 * either way each notifier's own mmgrab keeps its bookkeeping valid.
 */
void umn_unregister_all(struct umn_file *uf)
{
	struct rb_node *n;

	spin_lock(&uf->lock);
	uf->closing = true;	/* callbacks stop touching the pending list */
	spin_unlock(&uf->lock);

	while ((n = rb_first(&uf->regs))) {
		struct umn_reg *reg = rb_entry(n, struct umn_reg, node);

		rb_erase(n, &uf->regs);
		mmu_interval_notifier_remove(&reg->mni);
		umn_reg_free(reg);
		cond_resched();
	}
	uf->nregs = 0;
	INIT_LIST_HEAD(&uf->pending);
	uf->npending = 0;
}
