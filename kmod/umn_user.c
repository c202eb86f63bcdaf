// SPDX-License-Identifier: GPL-2.0
/*
 * ummunotify: per-user accounting of registrations, as inotify bounds its
 * watches per user. The device is open to every user (mode 0666) and each
 * registration costs unswappable kernel memory, so the live registrations of
 * all files a user opened count against max_user_registrations. The user is
 * the opener's effective uid; the count follows each file to its release.
 *
 * The kernel's ucounts cannot take a new counter type from a module, so this
 * is the equivalent: a small hash of the users who have a file open, each
 * entry holding an atomic count. REGISTER charges one before it inserts,
 * UNREGISTER and release() give them back.
 */
#include <linux/atomic.h>
#include <linux/hashtable.h>
#include <linux/refcount.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/sysfs.h>
#include <linux/uidgid.h>
#include <linux/user_namespace.h>

#include "umn.h"

struct umn_user {
	struct hlist_node node;		/* in umn_users, under umn_users_lock */
	kuid_t uid;
	refcount_t files;		/* open files of this user */
	atomic_long_t regs;		/* their live registrations */
};

static DEFINE_HASHTABLE(umn_users, 6);
static DEFINE_SPINLOCK(umn_users_lock);

static struct umn_user *umn_user_find(kuid_t uid)
{
	struct umn_user *u;

	hash_for_each_possible(umn_users, u, node, __kuid_val(uid))
		if (uid_eq(u->uid, uid))
			return u;
	return NULL;
}

/* The entry of @uid with one more file on it; NULL when out of memory. */
struct umn_user *umn_user_get(kuid_t uid)
{
	struct umn_user *u, *fresh;

	spin_lock(&umn_users_lock);
	u = umn_user_find(uid);
	if (u)
		refcount_inc(&u->files);
	spin_unlock(&umn_users_lock);
	if (u)
		return u;

	fresh = kzalloc(sizeof(*fresh), GFP_KERNEL_ACCOUNT);
	if (!fresh)
		return NULL;
	fresh->uid = uid;
	refcount_set(&fresh->files, 1);
	atomic_long_set(&fresh->regs, 0);

	spin_lock(&umn_users_lock);
	u = umn_user_find(uid);	/* another open of the same user won */
	if (u)
		refcount_inc(&u->files);
	else
		hash_add(umn_users, &fresh->node, __kuid_val(uid));
	spin_unlock(&umn_users_lock);
	if (u) {
		kfree(fresh);
		return u;
	}
	return fresh;
}

/* A file of the user is released (its registrations already given back). */
void umn_user_put(struct umn_user *u)
{
	if (!refcount_dec_and_lock(&u->files, &umn_users_lock))
		return;
	hash_del(&u->node);
	spin_unlock(&umn_users_lock);
	WARN_ON_ONCE(atomic_long_read(&u->regs) != 0);
	kfree(u);
}

/* One more registration for @u; false (nothing charged) past the limit. */
bool umn_user_charge(struct umn_user *u)
{
	if (atomic_long_inc_return(&u->regs) >
	    (long)READ_ONCE(umn_max_user_registrations)) {
		atomic_long_dec(&u->regs);
		return false;
	}
	return true;
}

void umn_user_uncharge(struct umn_user *u, unsigned long n)
{
	atomic_long_sub(n, &u->regs);
}

long umn_user_count(const struct umn_user *u)
{
	return atomic_long_read(&u->regs);
}

/* "uid registrations" per user with a file open, for the read-only parameter. */
int umn_users_show(char *buf)
{
	struct umn_user *u;
	int bkt, len = 0;

	spin_lock(&umn_users_lock);
	hash_for_each(umn_users, bkt, u, node) {
		if (len >= PAGE_SIZE - 48)
			break;	/* one page; a sysfs read cannot be longer */
		len += sysfs_emit_at(buf, len, "%u %ld\n",
				     from_kuid_munged(&init_user_ns, u->uid),
				     atomic_long_read(&u->regs));
	}
	spin_unlock(&umn_users_lock);
	return len;
}
