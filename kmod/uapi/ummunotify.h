/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR MIT) */
/*
 * /dev/ummunotify: userspace notification of MMU invalidations.
 *
 * Binary compatible with the 2010 ummunotify V2 ABI. This one header is used
 * by the kernel module (kmod/) and by user space (native/, kmod/tests/).
 */
#ifndef _UAPI_LINUX_UMMUNOTIFY_H
#define _UAPI_LINUX_UMMUNOTIFY_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define UMMUNOTIFY_DEVICE "/dev/ummunotify"

/* Event types delivered by read(). */
enum {
	UMMUNOTIFY_EVENT_TYPE_INVAL = 0,
	UMMUNOTIFY_EVENT_TYPE_LAST = 1,
};

/* Event flags. */
enum {
	UMMUNOTIFY_EVENT_FLAG_HINT = 1 << 0,
};

struct ummunotify_event {
	__u32 type;
	__u32 flags;
	__u64 hint_start;
	__u64 hint_end;
	__u64 user_cookie_counter;
};

struct ummunotify_register_ioctl {
	__u64 start;
	__u64 end;
	__u64 user_cookie;
	__u32 flags;
	__u32 reserved;
};

/*
 * Feature bits for UMMUNOTIFY_EXCHANGE_FEATURES (our extensions; V2 programs
 * never ask for them and so see V2 behaviour).
 */
#define UMMUNOTIFY_FEATURE_MAPPING_ONLY (1U << 0) /* skip protection-only invalidations */

#define UMMUNOTIFY_MAGIC 'U'

#define UMMUNOTIFY_EXCHANGE_FEATURES _IOWR(UMMUNOTIFY_MAGIC, 1, __u32)
#define UMMUNOTIFY_REGISTER_REGION   _IOW(UMMUNOTIFY_MAGIC, 2, struct ummunotify_register_ioctl)
#define UMMUNOTIFY_UNREGISTER_REGION _IOW(UMMUNOTIFY_MAGIC, 3, __u64)

#endif /* _UAPI_LINUX_UMMUNOTIFY_H */
