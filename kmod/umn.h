/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ummunotify: internal declarations shared by umn_main.c, umn_file.c and
 * umn_reg.c.
 *
 * Locking, outermost first:
 *   umn_file.mutex   serialises REGISTER, UNREGISTER, EXCHANGE_FEATURES and
 *                    the dequeue/copy-out of read(); protects the cookie
 *                    index, nregs, features and used. May be held while
 *                    faulting on user memory (so it nests outside mmap_lock)
 *                    and must never be taken under mmap_lock (mmap handler)
 *                    nor in the notifier callback.
 *   umn_file.lock    spinlock: the interval tree of registrations, the
 *                    pending report list, each registration's report state,
 *                    the counter, need_last, closing and the deferred
 *                    invalidations. Taken by the notifier callbacks, which may
 *                    run where sleeping is not allowed; never held across anything
 *                    that sleeps or faults, never held while taking another
 *                    lock.
 */
#ifndef UMN_H
#define UMN_H

#include <linux/interval_tree.h>
#include <linux/list.h>
#include <linux/mmu_notifier.h>
#include <linux/mutex.h>
#include <linux/rbtree.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/uidgid.h>
#include <linux/version.h>
#include <linux/wait.h>

#include "ummunotify.h"

/* Features this module implements. */
#define UMN_FEATURES_SUPPORTED UMMUNOTIFY_FEATURE_ALL

/*
 * MAPPING_ONLY proves an invalidation harmless by comparing the page frames
 * behind the watched pages before and after it (umn_notify.c). That needs a
 * lockless page table walk, done here only where it is known safe (x86_64,
 * the walk GUP-fast does); elsewhere MAPPING_ONLY skips only protection-only
 * events and reports every other invalidation when it starts.
 */
#ifdef CONFIG_X86_64
#define UMN_CAN_SNAPSHOT 1
#else
#define UMN_CAN_SNAPSHOT 0
#endif

/*
 * An invalidation in progress whose report waits for the proof. Only ranges
 * of at most one PMD's worth of pages (the kernel's huge-page check of a VMA
 * cut covers exactly that) are candidates; larger ones are reported at once.
 * When every slot is busy, further ones are reported at once: correct, only
 * less precise.
 */
#define UMN_DEFERRED_SLOTS 8
#define UMN_SNAP_PAGES (PMD_SIZE >> PAGE_SHIFT)
#define UMN_SNAP_UNWATCHED (~0UL)	/* page outside every registration */

/* An invalidation in progress, as a slot records it. */
struct umn_active {
	const struct mmu_notifier_range *range;	/* identity; NULL: free slot */
	unsigned long start;
	unsigned long end;			/* exclusive */
};

struct umn_deferred {
	struct umn_active inv;
	/* Per page of [start, end): pfn + 1, 0 unmapped, or UMN_SNAP_UNWATCHED. */
	unsigned long frame[UMN_SNAP_PAGES];
};

struct umn_user;

#define UMN_ACTIVE_SLOTS 16

struct umn_file {
	struct mm_struct *mm;		/* the opener's mm, mmgrab()bed */
	struct umn_user *user;		/* the opener's euid: its registration count */
	struct page *counter_page;	/* mapped read-only by mmap() */
	u64 *counter;			/* kernel address of the counter */

	struct mutex mutex;
	struct rb_root regs;		/* struct umn_reg by cookie */
	unsigned long nregs;
	u32 features;			/* written under mutex, read with READ_ONCE */
	bool used;			/* features are frozen */
	/* On the mm from the first REGISTER on; the flags are under mutex. */
	struct mmu_notifier mn;		/* invalidation start/end, release */
	bool mn_on;

	spinlock_t lock;
	struct rb_root_cached tree;	/* struct umn_reg.it by address */
	struct list_head pending;	/* struct umn_reg.report, FIFO */
	unsigned long npending;
	bool need_last;			/* a LAST is owed after the reports */
	/*
	 * Invalidations in progress (started, not ended) that could report,
	 * by range. A registration made while one overlapping it is in
	 * progress may have missed it (it was not in the tree when that one
	 * started): it is reported at once. Past UMN_ACTIVE_SLOTS the rest are
	 * only counted, and any registration then is reported.
	 */
	struct umn_active active[UMN_ACTIVE_SLOTS];
	unsigned long active_overflow;
	bool closing;			/* release() started: queue nothing */
	/* MAPPING_ONLY with UMN_CAN_SNAPSHOT: allocated with the notifier. */
	struct umn_deferred *deferred;	/* UMN_DEFERRED_SLOTS of them */
	unsigned long ndeferred;	/* invalidations deferred so far */
	unsigned long nspared;		/* ... and proven harmless */
	unsigned long nremoved;		/* ONESHOT registrations removed as reported */

	wait_queue_head_t wait;
	struct fasync_struct *fasync;
};

/*
 * A registration's life, and who frees it (always with uf->mutex held, or
 * from release() when nobody else is left):
 *   - REGISTER puts it in uf->regs (mutex) and uf->tree (lock);
 *   - a report queues it on uf->pending (lock). A ONESHOT one also leaves
 *     uf->tree then, in the notifier callback (in_tree false): from then on
 *     only uf->regs and uf->pending reach it;
 *   - UNREGISTER takes it out of all three and frees it;
 *   - read() takes reports off uf->pending; it frees the ONESHOT ones it
 *     handed out (they are in uf->regs only, under the mutex read() holds);
 *   - release() frees whatever uf->regs still holds.
 */
struct umn_reg {
	struct interval_tree_node it;	/* the range (last inclusive); in uf->tree, under uf->lock */
	struct rb_node node;		/* in uf->regs, under uf->mutex */
	u64 cookie;
	bool oneshot;			/* UMMUNOTIFY_REGISTER_ONESHOT granted; set before insertion */

	/* Under uf->lock: the one preallocated report. */
	bool in_tree;			/* in uf->tree */
	struct list_head report;	/* on uf->pending iff queued */
	u64 hint_start;
	u64 hint_end;
	u32 flags;			/* UMMUNOTIFY_EVENT_FLAG_* */
};

/* umn_main.c */
extern unsigned long umn_max_registrations;
extern unsigned long umn_max_user_registrations;
extern unsigned int umn_deferred_slots;
extern atomic_long_t umn_live_registrations;
extern struct kmem_cache *umn_reg_cache;
extern const struct file_operations umn_fops;

/* umn_user.c */
struct umn_user *umn_user_get(kuid_t uid);
void umn_user_put(struct umn_user *u);
bool umn_user_charge(struct umn_user *u);
void umn_user_uncharge(struct umn_user *u, unsigned long n);
long umn_user_count(const struct umn_user *u);
int umn_users_show(char *buf);

/* umn_reg.c */
int umn_register(struct umn_file *uf, const struct ummunotify_register_ioctl *r);
int umn_unregister(struct umn_file *uf, u64 cookie);
void umn_unregister_all(struct umn_file *uf);
void umn_reg_forget(struct umn_file *uf, struct umn_reg *reg);

/* umn_notify.c, under uf->lock */
bool umn_report_new(struct umn_file *uf, struct umn_reg *reg);
void umn_wake(struct umn_file *uf);

/* umn_notify.c */
extern const struct mmu_notifier_ops umn_notifier_ops;
bool umn_snapshot_used(u32 features);

/* Hit again before being read: the hint becomes the whole registration. */
static inline void umn_hint_whole(struct umn_reg *reg)
{
	reg->flags &= UMMUNOTIFY_EVENT_FLAG_REMOVED;
	reg->hint_start = reg->it.start;
	reg->hint_end = (u64)reg->it.last + 1;
}

static inline bool umn_readable(struct umn_file *uf)
{
	return READ_ONCE(uf->npending) || READ_ONCE(uf->need_last);
}

/* With OWNER_ONLY, calls from another address space fail. */
static inline bool umn_foreign(struct umn_file *uf, struct mm_struct *mm)
{
	return (READ_ONCE(uf->features) & UMMUNOTIFY_FEATURE_OWNER_ONLY) &&
	       mm != uf->mm;
}

#endif /* UMN_H */
