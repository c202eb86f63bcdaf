// SPDX-License-Identifier: GPL-2.0
/*
 * ummunotify: registrations. Each one sits in two trees: the file's interval
 * tree by address, which the notifier (umn_notify.c) searches in
 * O(log n + hits) per invalidation, and an rbtree by cookie, so REGISTER and
 * UNREGISTER are O(log n) too. The report a registration can queue is
 * embedded in it: the notifier never allocates and never drops anything.
 */
#include <linux/atomic.h>
#include <linux/fs.h>
#include <linux/mm.h>
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

static void umn_reg_free(struct umn_reg *reg)
{
	kmem_cache_free(umn_reg_cache, reg);
	atomic_long_dec(&umn_live_registrations);
}

/*
 * Registering a notifier takes every mapping's lock and gives up with EINTR
 * on any pending signal. Nothing is registered then, so the call can be
 * restarted (transparently under SA_RESTART).
 */
static int umn_notifier_add(struct mmu_notifier *mn,
			    const struct mmu_notifier_ops *ops,
			    struct mm_struct *mm, bool *on)
{
	int ret;

	if (*on)
		return 0;
	mn->ops = ops;
	ret = mmu_notifier_register(mn, mm);
	if (ret == -EINTR)
		return -ERESTARTSYS;
	if (!ret)
		*on = true;
	return ret;
}

/*
 * The file's notifier goes on its mm with the first registration, so files
 * never used cost the mm nothing; so do the deferral slots of MAPPING_ONLY,
 * allocated before the notifier can use them. Caller holds uf->mutex and an
 * mmget.
 */
static int umn_notifiers_on(struct umn_file *uf)
{
	if (uf->mn_on)
		return 0;
	if (umn_snapshot_used(uf->features) && !uf->deferred) {
		uf->deferred = kvcalloc(UMN_DEFERRED_SLOTS, sizeof(*uf->deferred),
					GFP_KERNEL_ACCOUNT);
		if (!uf->deferred)
			return -ENOMEM;
	}
	return umn_notifier_add(&uf->mn, &umn_notifier_ops, uf->mm, &uf->mn_on);
}

int umn_register(struct umn_file *uf, const struct ummunotify_register_ioctl *r)
{
	struct umn_reg *reg;
	bool queued;
	u32 features, allowed;
	int ret;

	if (r->start >= r->end)
		return -EINVAL;

	reg = kmem_cache_zalloc(umn_reg_cache, GFP_KERNEL_ACCOUNT);
	if (!reg)
		return -ENOMEM;
	atomic_long_inc(&umn_live_registrations);
	reg->cookie = r->user_cookie;
	reg->it.start = r->start;
	reg->it.last = r->end - 1;
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

	/* Flags count only with the feature that defines them (V2 ignores flags). */
	allowed = (features & UMMUNOTIFY_FEATURE_ONESHOT) ? UMMUNOTIFY_REGISTER_ONESHOT : 0;
	ret = -EINVAL;
	if ((features & UMMUNOTIFY_FEATURE_STRICT) &&
	    ((r->flags & ~allowed) || r->reserved || r->end > TASK_SIZE))
		goto err_unlock;
	reg->oneshot = r->flags & allowed & UMMUNOTIFY_REGISTER_ONESHOT;

	if (uf->nregs >= READ_ONCE(umn_max_registrations)) {
		ret = (features & UMMUNOTIFY_FEATURE_LIMIT) ? -ENOSPC : -ENOMEM;
		goto err_unlock;
	}

	if (!umn_user_charge(uf->user)) {
		ret = (features & UMMUNOTIFY_FEATURE_LIMIT) ? -ENOSPC : -ENOMEM;
		goto err_unlock;
	}

	ret = umn_notifiers_on(uf);
	if (ret)
		goto err_uncharge;

	ret = -EINVAL;
	if (!umn_index_insert(uf, reg))
		goto err_uncharge;

	/*
	 * From here on every invalidation that starts sees it; one already in
	 * progress did not, so then it is reported at once.
	 */
	spin_lock(&uf->lock);
	interval_tree_insert(&reg->it, &uf->tree);
	reg->in_tree = true;
	queued = umn_report_new(uf, reg);
	spin_unlock(&uf->lock);
	if (queued)
		umn_wake(uf);
	uf->nregs++;
	mutex_unlock(&uf->mutex);
	mmput(uf->mm);
	return 0;

err_uncharge:
	umn_user_uncharge(uf->user, 1);
err_unlock:
	mutex_unlock(&uf->mutex);
err_put:
	mmput(uf->mm);
err_free:
	umn_reg_free(reg);
	return ret;
}

/*
 * Takes @reg out of the cookie index, the interval tree (unless a ONESHOT
 * report already took it out) and the report list (a pending report is
 * discarded), gives its charge back and frees it. Caller holds uf->mutex,
 * so no other UNREGISTER or read() can reach it.
 */
void umn_reg_forget(struct umn_file *uf, struct umn_reg *reg)
{
	rb_erase(&reg->node, &uf->regs);
	uf->nregs--;
	umn_user_uncharge(uf->user, 1);

	/*
	 * The notifier only reaches a registration through the interval tree
	 * and under the spinlock: once out of both, it is ours to free.
	 */
	spin_lock(&uf->lock);
	if (reg->in_tree) {
		interval_tree_remove(&reg->it, &uf->tree);
		reg->in_tree = false;
	}
	if (!list_empty(&reg->report)) {
		list_del_init(&reg->report);
		WRITE_ONCE(uf->npending, uf->npending - 1);
	}
	spin_unlock(&uf->lock);
	umn_reg_free(reg);
}

int umn_unregister(struct umn_file *uf, u64 cookie)
{
	struct umn_reg *reg;
	int ret = 0;

	if (mutex_lock_killable(&uf->mutex))
		return -EINTR;
	uf->used = true;
	reg = umn_lookup(uf, cookie);
	if (reg)
		umn_reg_forget(uf, reg);
	else
		/* With ONESHOT, an unknown cookie may be one already reported. */
		ret = (uf->features & UMMUNOTIFY_FEATURE_ONESHOT) ? -ENOENT : -EINVAL;
	mutex_unlock(&uf->mutex);
	return ret;
}

/*
 * From release(): no other user of the file is left, but the notifier may
 * still run until it is unregistered. The mm may be alive or gone (then the
 * kernel already detached the notifier); mmu_notifier_unregister() handles
 * both and waits for callbacks in progress. Our mmgrab keeps the mm valid.
 */
void umn_unregister_all(struct umn_file *uf)
{
	struct rb_node *n;

	spin_lock(&uf->lock);
	uf->closing = true;	/* callbacks stop queueing reports */
	spin_unlock(&uf->lock);

	if (uf->mn_on)
		mmu_notifier_unregister(&uf->mn, uf->mm);
	uf->mn_on = false;
	/* No callback runs any more: the slots are ours. */
	kvfree(uf->deferred);
	uf->deferred = NULL;

	while ((n = rb_first(&uf->regs))) {
		struct umn_reg *reg = rb_entry(n, struct umn_reg, node);

		rb_erase(n, &uf->regs);
		umn_reg_free(reg);
		cond_resched();
	}
	uf->tree = RB_ROOT_CACHED;
	umn_user_uncharge(uf->user, uf->nregs);
	uf->nregs = 0;
	INIT_LIST_HEAD(&uf->pending);
	uf->npending = 0;
}
