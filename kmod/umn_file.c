// SPDX-License-Identifier: GPL-2.0
/*
 * ummunotify: file operations of /dev/ummunotify: open/release, ioctl,
 * read, poll, fasync, the counter page mmap and fdinfo.
 */
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/poll.h>
#include <linux/sched.h>
#include <linux/cred.h>
#include <linux/sched/mm.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/version.h>

#include "umn.h"

/* Events handed out by one read() at most (one page of them). */
#define UMN_READ_BATCH (PAGE_SIZE / sizeof(struct ummunotify_event))

static int umn_open(struct inode *inode, struct file *filp)
{
	struct umn_file *uf;
	int ret;

	if ((filp->f_flags & O_ACCMODE) != O_RDONLY)
		return -EINVAL;
	if (!current->mm)
		return -EINVAL;

	uf = kzalloc(sizeof(*uf), GFP_KERNEL_ACCOUNT);
	if (!uf)
		return -ENOMEM;

	uf->counter_page = alloc_page(GFP_KERNEL_ACCOUNT | __GFP_ZERO);
	if (!uf->counter_page) {
		ret = -ENOMEM;
		goto err_free;
	}
	uf->counter = page_address(uf->counter_page);

	mutex_init(&uf->mutex);
	uf->regs = RB_ROOT;
	uf->tree = RB_ROOT_CACHED;
	spin_lock_init(&uf->lock);
	INIT_LIST_HEAD(&uf->pending);
	init_waitqueue_head(&uf->wait);

	uf->user = umn_user_get(current_euid());
	if (!uf->user) {
		ret = -ENOMEM;
		goto err_page;
	}
	mmgrab(current->mm);
	uf->mm = current->mm;

	filp->private_data = uf;
	ret = stream_open(inode, filp);
	if (ret)
		goto err_mm;
	return 0;

err_mm:
	mmdrop(uf->mm);
	umn_user_put(uf->user);
err_page:
	__free_page(uf->counter_page);
err_free:
	kfree(uf);
	return ret;
}

static int umn_release(struct inode *inode, struct file *filp)
{
	struct umn_file *uf = filp->private_data;

	umn_unregister_all(uf);
	umn_user_put(uf->user);
	mmdrop(uf->mm);
	__free_page(uf->counter_page);
	mutex_destroy(&uf->mutex);
	kfree(uf);
	return 0;
}

static long umn_exchange_features(struct umn_file *uf, u32 __user *uarg)
{
	u32 req, got;
	long ret = 0;

	if (get_user(req, uarg))
		return -EFAULT;
	got = req & UMN_FEATURES_SUPPORTED;

	if (mutex_lock_killable(&uf->mutex))
		return -EINTR;
	if (uf->used)
		ret = -EINVAL;
	else if (put_user(got, uarg))
		ret = -EFAULT;
	else
		WRITE_ONCE(uf->features, got);
	mutex_unlock(&uf->mutex);
	return ret;
}

static long umn_ioctl(struct file *filp, unsigned int cmd, unsigned long arg)
{
	struct umn_file *uf = filp->private_data;
	void __user *uarg = (void __user *)arg;
	struct ummunotify_register_ioctl r;
	u64 cookie;

	switch (cmd) {
	case UMMUNOTIFY_EXCHANGE_FEATURES:
	case UMMUNOTIFY_REGISTER_REGION:
	case UMMUNOTIFY_UNREGISTER_REGION:
		break;
	default:
		return -ENOTTY;
	}
	if (umn_foreign(uf, current->mm))
		return -EIO;

	switch (cmd) {
	case UMMUNOTIFY_EXCHANGE_FEATURES:
		return umn_exchange_features(uf, uarg);
	case UMMUNOTIFY_REGISTER_REGION:
		if (copy_from_user(&r, uarg, sizeof(r)))
			return -EFAULT;
		return umn_register(uf, &r);
	default: /* UMMUNOTIFY_UNREGISTER_REGION */
		if (get_user(cookie, (u64 __user *)uarg))
			return -EFAULT;
		return umn_unregister(uf, cookie);
	}
}

/*
 * Puts events back at the head of the list after a failed copy-out, so that
 * nothing is lost. Caller holds uf->mutex, so no registration in @regs has
 * been unregistered or freed meanwhile, and uf->lock.
 */
static void umn_requeue(struct umn_file *uf, struct ummunotify_event *ev,
			struct umn_reg **regs, size_t from, size_t to)
{
	size_t i;

	for (i = to; i-- > from;) {
		struct umn_reg *reg = regs[i];

		if (!reg) {		/* the LAST */
			WRITE_ONCE(uf->need_last, true);
			continue;
		}
		if (list_empty(&reg->report)) {
			reg->flags = ev[i].flags;
			reg->hint_start = ev[i].hint_start;
			reg->hint_end = ev[i].hint_end;
			list_add(&reg->report, &uf->pending);
			WRITE_ONCE(uf->npending, uf->npending + 1);
		} else {
			/* Hit again meanwhile: two hits, whole range. */
			umn_hint_whole(reg);
			list_move(&reg->report, &uf->pending);
		}
	}
}

static ssize_t umn_read(struct file *filp, char __user *buf, size_t count,
			loff_t *pos)
{
	struct umn_file *uf = filp->private_data;
	struct ummunotify_event *ev;
	struct umn_reg **regs;
	size_t max, n = 0, done, i;
	ssize_t ret;

	if (umn_foreign(uf, current->mm))
		return -EIO;
	if (count < sizeof(*ev))
		return -EINVAL;

	max = min_t(size_t, count / sizeof(*ev), UMN_READ_BATCH);
	ev = kmalloc_array(max, sizeof(*ev), GFP_KERNEL);
	regs = kmalloc_array(max, sizeof(*regs), GFP_KERNEL);
	if (!ev || !regs) {
		ret = -ENOMEM;
		goto out_free;
	}

	for (;;) {
		if (mutex_lock_interruptible(&uf->mutex)) {
			ret = -ERESTARTSYS;
			goto out_free;
		}
		uf->used = true;
		spin_lock(&uf->lock);
		if (uf->npending || uf->need_last)
			break;		/* with both locks held */
		spin_unlock(&uf->lock);
		mutex_unlock(&uf->mutex);

		if (filp->f_flags & O_NONBLOCK) {
			ret = -EAGAIN;
			goto out_free;
		}
		ret = wait_event_interruptible(uf->wait, umn_readable(uf));
		if (ret)
			goto out_free;
	}

	/* One critical section: a cookie cannot appear twice in one read. */
	while (n < max && !list_empty(&uf->pending)) {
		struct umn_reg *reg = list_first_entry(&uf->pending,
						       struct umn_reg, report);

		list_del_init(&reg->report);
		WRITE_ONCE(uf->npending, uf->npending - 1);
		ev[n] = (struct ummunotify_event) {
			.type = UMMUNOTIFY_EVENT_TYPE_INVAL,
			.flags = reg->flags,
			.hint_start = reg->hint_start,
			.hint_end = reg->hint_end,
			.user_cookie_counter = reg->cookie,
		};
		regs[n++] = reg;
	}
	if (n < max && list_empty(&uf->pending) && uf->need_last) {
		ev[n] = (struct ummunotify_event) {
			.type = UMMUNOTIFY_EVENT_TYPE_LAST,
			.user_cookie_counter = *uf->counter,
		};
		regs[n++] = NULL;
		WRITE_ONCE(uf->need_last, false);
	}
	spin_unlock(&uf->lock);

	done = (n * sizeof(*ev) - copy_to_user(buf, ev, n * sizeof(*ev))) /
	       sizeof(*ev);
	if (done < n) {
		spin_lock(&uf->lock);
		umn_requeue(uf, ev, regs, done, n);
		spin_unlock(&uf->lock);
	}
	/*
	 * A ONESHOT registration whose report was handed out is gone: it left
	 * the tree when it was reported and the list above, so the mutex we
	 * hold makes it ours alone.
	 */
	for (i = 0; i < done; i++)
		if (regs[i] && regs[i]->oneshot)
			umn_reg_forget(uf, regs[i]);
	mutex_unlock(&uf->mutex);
	ret = done ? (ssize_t)(done * sizeof(*ev)) : -EFAULT;

out_free:
	kfree(regs);
	kfree(ev);
	return ret;
}

static __poll_t umn_poll(struct file *filp, struct poll_table_struct *wait)
{
	struct umn_file *uf = filp->private_data;

	poll_wait(filp, &uf->wait, wait);
	if (umn_foreign(uf, current->mm))
		return EPOLLERR;
	return umn_readable(uf) ? EPOLLIN | EPOLLRDNORM : 0;
}

static int umn_fasync(int fd, struct file *filp, int on)
{
	struct umn_file *uf = filp->private_data;

	return fasync_helper(fd, filp, on, &uf->fasync);
}

static void umn_vma_flags(struct vm_area_struct *vma, vm_flags_t set,
			  vm_flags_t clear)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	vm_flags_mod(vma, set, clear);
#else
	vma->vm_flags = (vma->vm_flags | set) & ~clear;
#endif
}

/*
 * Runs under mmap_lock held for writing: must not take uf->mutex (which
 * nests outside mmap_lock).
 */
static int umn_mmap(struct file *filp, struct vm_area_struct *vma)
{
	struct umn_file *uf = filp->private_data;

	if (umn_foreign(uf, vma->vm_mm))
		return -EIO;
	if (vma->vm_end - vma->vm_start != PAGE_SIZE || vma->vm_pgoff != 0)
		return -EINVAL;
	if (vma->vm_flags & (VM_WRITE | VM_EXEC))
		return -EPERM;
	umn_vma_flags(vma, VM_DONTEXPAND | VM_DONTDUMP, VM_MAYWRITE | VM_MAYEXEC);
	return vm_insert_page(vma, vma->vm_start, uf->counter_page);
}

static void umn_show_fdinfo(struct seq_file *m, struct file *filp)
{
	struct umn_file *uf = filp->private_data;
	unsigned long npending, ndeferred, nspared, nremoved;
	u64 counter;

	spin_lock(&uf->lock);
	npending = uf->npending;
	counter = *uf->counter;
	ndeferred = uf->ndeferred;
	nspared = uf->nspared;
	nremoved = uf->nremoved;
	spin_unlock(&uf->lock);

	seq_printf(m, "ummunotify-features:\t%#x\n", READ_ONCE(uf->features));
	seq_printf(m, "ummunotify-registrations:\t%lu\n", READ_ONCE(uf->nregs));
	/* The opener's count across all its files, and the limit on it. */
	seq_printf(m, "ummunotify-user-registrations:\t%ld\n", umn_user_count(uf->user));
	seq_printf(m, "ummunotify-user-limit:\t%lu\n", READ_ONCE(umn_max_user_registrations));
	seq_printf(m, "ummunotify-pending:\t%lu\n", npending);
	seq_printf(m, "ummunotify-counter:\t%llu\n", counter);
	seq_printf(m, "ummunotify-mm-alive:\t%d\n",
		   atomic_read(&uf->mm->mm_users) > 0);
	/* MAPPING_ONLY: how the filter worked (see umn_notify.c). */
	seq_printf(m, "ummunotify-filter:\t%s\n",
		   !(READ_ONCE(uf->features) & UMMUNOTIFY_FEATURE_MAPPING_ONLY) ? "none" :
		   umn_snapshot_used(READ_ONCE(uf->features)) ? "frames" : "protection");
	seq_printf(m, "ummunotify-deferred:\t%lu\n", ndeferred);
	seq_printf(m, "ummunotify-spared:\t%lu\n", nspared);
	/* ONESHOT registrations removed as they were reported. */
	seq_printf(m, "ummunotify-removed:\t%lu\n", nremoved);
}

const struct file_operations umn_fops = {
	.owner = THIS_MODULE,
	.open = umn_open,
	.release = umn_release,
	.read = umn_read,
	.poll = umn_poll,
	.fasync = umn_fasync,
	.mmap = umn_mmap,
	.unlocked_ioctl = umn_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
	.show_fdinfo = umn_show_fdinfo,
};
