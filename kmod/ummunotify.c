// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/ummunotify: placeholder that registers the misc device so the test VM
 * can prove the module loads. The V2 ABI itself is being built separately.
 */
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>

#include "ummunotify.h"

static int ummunotify_open(struct inode *inode, struct file *filp)
{
	return -ENODEV;
}

static const struct file_operations ummunotify_fops = {
	.owner = THIS_MODULE,
	.open = ummunotify_open,
};

static struct miscdevice ummunotify_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "ummunotify",
	.fops = &ummunotify_fops,
	.mode = 0666,
};

module_misc_device(ummunotify_misc);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Userspace notification of MMU invalidations");
