// SPDX-License-Identifier: GPL-2.0
/*
 * ummunotify: module init/exit, module parameters and the misc device
 * /dev/ummunotify (mode 0666: any user may watch their own address space).
 */
#include <linux/atomic.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/slab.h>

#include "umn.h"

unsigned long umn_max_registrations = 1UL << 20;
module_param_named(max_registrations, umn_max_registrations, ulong, 0644);
MODULE_PARM_DESC(max_registrations,
		 "Per-file registration limit (ENOSPC with UMMUNOTIFY_FEATURE_LIMIT, else ENOMEM)");

/*
 * How many of a file's deferral slots MAPPING_ONLY may use (0 to
 * UMN_DEFERRED_SLOTS). Lowering it only makes reports less precise; the tests
 * set 0 to check that an invalidation finding no free slot is reported.
 */
unsigned int umn_deferred_slots = UMN_DEFERRED_SLOTS;
module_param_named(deferred_slots, umn_deferred_slots, uint, 0644);
MODULE_PARM_DESC(deferred_slots,
		 "Deferral slots per file for MAPPING_ONLY (0-8; 0: report every invalidation at its start)");

/*
 * Live registrations of one user across all its files. 0 at load: sized in
 * umn_init() to 1% of RAM (the share inotify gives its watches), at least
 * 65536 so a registration cache is usable on a small machine.
 */
unsigned long umn_max_user_registrations;
module_param_named(max_user_registrations, umn_max_user_registrations, ulong, 0644);
MODULE_PARM_DESC(max_user_registrations,
		 "Live registrations per user, all files together (ENOSPC with UMMUNOTIFY_FEATURE_LIMIT, else ENOMEM); default: 1% of RAM");

static int umn_param_get_users(char *buf, const struct kernel_param *kp)
{
	return umn_users_show(buf);
}

atomic_long_t umn_live_registrations = ATOMIC_LONG_INIT(0);

static int umn_param_get_live(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%ld\n", atomic_long_read(&umn_live_registrations));
}

static int umn_param_set_readonly(const char *val, const struct kernel_param *kp)
{
	return -EPERM;
}

static const struct kernel_param_ops umn_live_ops = {
	.set = umn_param_set_readonly,
	.get = umn_param_get_live,
};
module_param_cb(registrations, &umn_live_ops, NULL, 0444);
MODULE_PARM_DESC(registrations, "Registrations live in all files (read-only)");

static const struct kernel_param_ops umn_users_ops = {
	.set = umn_param_set_readonly,
	.get = umn_param_get_users,
};
module_param_cb(user_registrations, &umn_users_ops, NULL, 0444);
MODULE_PARM_DESC(user_registrations,
		 "Live registrations per user with a file open, one \"uid count\" line each (read-only)");

#define UMN_USER_LIMIT_FLOOR 65536UL

static unsigned long umn_default_user_limit(void)
{
	unsigned long ram = totalram_pages() << PAGE_SHIFT;
	unsigned long cost = kmem_cache_size(umn_reg_cache);

	return max(ram / 100 / cost, UMN_USER_LIMIT_FLOOR);
}

struct kmem_cache *umn_reg_cache;

static struct miscdevice umn_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "ummunotify",
	.fops = &umn_fops,
	.mode = 0666,
};

static int __init umn_init(void)
{
	int ret;

	umn_reg_cache = KMEM_CACHE(umn_reg, SLAB_ACCOUNT);
	if (!umn_reg_cache)
		return -ENOMEM;
	if (!umn_max_user_registrations)
		umn_max_user_registrations = umn_default_user_limit();

	ret = misc_register(&umn_misc);
	if (ret)
		goto err_cache;
	return 0;

err_cache:
	kmem_cache_destroy(umn_reg_cache);
	return ret;
}

static void __exit umn_exit(void)
{
	misc_deregister(&umn_misc);
	/* Every file holds a module reference, so nothing can be live here. */
	WARN_ON(atomic_long_read(&umn_live_registrations) != 0);
	kmem_cache_destroy(umn_reg_cache);
}

module_init(umn_init);
module_exit(umn_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Userspace notification of MMU invalidations (ummunotify V2 ABI)");
MODULE_VERSION("0.1.0");
