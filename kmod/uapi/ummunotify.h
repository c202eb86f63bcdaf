/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR MIT) */
/*
 * /dev/ummunotify: userspace notification of MMU invalidations.
 *
 * Binary compatible with the 2010 ummunotify V2 ABI: same device, ioctl
 * numbers, structure layouts, event and counter semantics. This one header is
 * used by the kernel module (kmod/) and by user space (native/, kmod/tests/).
 *
 * Model
 * -----
 * open("/dev/ummunotify", O_RDONLY) binds the new file to the opener's
 * address space (mm). The file holds a set of *registrations*: byte ranges
 * [start, end) of that address space, each named by a 64-bit cookie chosen by
 * user space. Whenever the kernel invalidates any part of a registered range
 * (munmap, mremap, madvise(MADV_DONTNEED), mmap(MAP_FIXED) over it, brk
 * shrink, shmdt, page migration, process exit, ... and, unless
 * UMMUNOTIFY_FEATURE_MAPPING_ONLY is on, mprotect, fork's copy-on-write
 * write protection, soft-dirty clearing), the kernel:
 *
 *   1. queues an INVAL report for that registration (at most one report per
 *      registration is ever pending: it is preallocated with the
 *      registration, so no event is ever dropped and nothing is allocated at
 *      invalidation time), and
 *   2. increments the 64-bit counter at offset 0 of the page that mmap() on
 *      the file maps, before the invalidating system call returns. An
 *      invalidation moves it once however many registrations it hits.
 *      Guarantee: whenever a report is queued after user space read a LAST
 *      carrying value C, the counter is no longer C.
 *
 * A registration stays live after it is reported; it may be hit again
 * (unless it is a UMMUNOTIFY_REGISTER_ONESHOT one, removed as it is
 * reported: see UMMUNOTIFY_FEATURE_ONESHOT). It
 * sees every invalidation that starts after REGISTER_REGION returned. One
 * made while an invalidation overlapping its range is in progress (on
 * another thread) is reported at once, since that invalidation may change
 * its pages without having seen it (the 2010 module could miss it).
 * Invalidations are page granular and the kernel sometimes invalidates more
 * than what changed (e.g. a 2 MiB range around a VMA cut, for its
 * transparent-huge-page check; MAPPING_ONLY skips that one when it changes
 * no page frame): reports can be spurious, never missing.
 *
 * Open
 * ----
 *   open(UMMUNOTIFY_DEVICE, O_RDONLY [| O_NONBLOCK | O_CLOEXEC])
 *   Errors: EINVAL  opened for writing (O_WRONLY or O_RDWR);
 *           ENOMEM  out of memory;
 *           EINVAL  the opener has no address space (kernel thread).
 *
 * read()
 * ------
 * Returns an array of whole struct ummunotify_event: the pending INVAL
 * reports in the order they were first queued, then, once the list has been
 * emptied, one LAST event whose user_cookie_counter is the counter value at
 * that moment. A LAST is owed after every batch of reports (not when nothing
 * was ever queued). If the buffer has no room for the LAST it comes with the
 * next read(). One read() never returns the same cookie twice.
 * Blocks while there is nothing to return, unless O_NONBLOCK.
 *   Errors: EINVAL  count < sizeof(struct ummunotify_event);
 *           EAGAIN  O_NONBLOCK and nothing to read;
 *           EINTR   (or restart) a signal arrived while blocked;
 *           EFAULT  the buffer is not writable (no report is lost: reports
 *                   not copied stay queued);
 *           ENOMEM  out of memory for the bounce buffer;
 *           EIO     UMMUNOTIFY_FEATURE_OWNER_ONLY and the caller's mm is not
 *                   the file's.
 *
 * poll()/epoll, SIGIO
 * -------------------
 * EPOLLIN | EPOLLRDNORM while read() would not block. fcntl(F_SETOWN) +
 * O_ASYNC deliver SIGIO (POLL_IN) whenever a report is queued.
 * With UMMUNOTIFY_FEATURE_OWNER_ONLY, poll from another mm returns EPOLLERR.
 *
 * mmap()
 * ------
 *   mmap(NULL, page_size, PROT_READ, MAP_SHARED or MAP_PRIVATE, fd, 0)
 * maps the counter page read-only: a __u64 at offset 0 (native endianness),
 * the rest of the page reads as zero. User space compares it with the
 * counter of the last LAST event it read: equal means nothing to drain.
 *   Errors: EINVAL  length is not exactly one page or offset is not 0;
 *           EACCES  PROT_WRITE on a shared mapping (the file is read-only),
 *                   or mprotect() adding write or exec later;
 *           EPERM   PROT_WRITE on a private mapping, or PROT_EXEC;
 *           EIO     UMMUNOTIFY_FEATURE_OWNER_ONLY and the caller's mm is not
 *                   the file's.
 *
 * ioctl()
 * -------
 * Every ioctl: ENOTTY for an unknown command; EFAULT for an unreadable or
 * unwritable argument; EIO with UMMUNOTIFY_FEATURE_OWNER_ONLY when the
 * caller's mm is not the file's; EINTR if a fatal signal arrives while it
 * waits for another thread's call on the same file.
 *
 * UMMUNOTIFY_EXCHANGE_FEATURES  (arg: __u32 *, in/out)
 *   in: the feature bits requested; out: the subset this kernel supports,
 *   which is now the file's feature mask (replacing any previous one). The
 *   default mask is 0 (pure V2 behaviour). Allowed any number of times, but
 *   only before any other use of the file (REGISTER_REGION,
 *   UNREGISTER_REGION, read()).
 *   Errors: EINVAL  the file has already been used.
 *
 * UMMUNOTIFY_REGISTER_REGION  (arg: struct ummunotify_register_ioctl *)
 *   Watch [start, end) of the file's address space under user_cookie.
 *   Overlapping and identical ranges are allowed; cookies must be distinct.
 *   Errors: EINVAL  start >= end;
 *           EINVAL  user_cookie is already registered on this file (a
 *                   ONESHOT registration keeps its cookie until read()
 *                   has handed out its report);
 *           EINVAL  (UMMUNOTIFY_FEATURE_STRICT) flags has a bit unknown or
 *                   not enabled by the file's features,
 *                   reserved != 0, or end is past the user address space;
 *           ENOSPC  (UMMUNOTIFY_FEATURE_LIMIT) the file already holds
 *                   max_registrations registrations, or the opener's user
 *                   (effective uid at open) already holds
 *                   max_user_registrations in all its files together
 *                   (module parameters);
 *           ENOMEM  out of memory, or (without UMMUNOTIFY_FEATURE_LIMIT) one
 *                   of those two limits is reached;
 *           ESRCH   the file's address space has exited (only reachable
 *                   from another mm, without OWNER_ONLY);
 *           EINTR   a signal arrived while the file's first registration
 *                   attached the file's notifier to the address space (it
 *                   takes every mapping's lock and stops for signals);
 *                   nothing was registered: call again. Restarted by the
 *                   kernel instead when the handler has SA_RESTART.
 *
 *   With UMMUNOTIFY_FEATURE_ONESHOT, flags may hold
 *   UMMUNOTIFY_REGISTER_ONESHOT (see there); without the feature it is
 *   ignored like any other flag (EINVAL with UMMUNOTIFY_FEATURE_STRICT).
 *
 * UMMUNOTIFY_UNREGISTER_REGION  (arg: __u64 *, the cookie)
 *   Stop watching the registration. When it returns, no report for the
 *   cookie will be delivered any more (a pending one is discarded).
 *   Errors: EINVAL  no registration with that cookie (without
 *                   UMMUNOTIFY_FEATURE_ONESHOT);
 *           ENOENT  no registration with that cookie (with
 *                   UMMUNOTIFY_FEATURE_ONESHOT): never registered, already
 *                   unregistered, or a ONESHOT registration whose report
 *                   read() has handed out. For a cookie registered with
 *                   UMMUNOTIFY_REGISTER_ONESHOT this means "already gone":
 *                   treat it as success.
 *
 * /proc/<pid>/fdinfo/<fd>
 * -----------------------
 * Besides the usual lines: "ummunotify-features", "ummunotify-registrations",
 * "ummunotify-pending", "ummunotify-counter", "ummunotify-mm-alive",
 * "ummunotify-user-registrations" and "ummunotify-user-limit" (the opener's
 * count across all its files, and max_user_registrations),
 * "ummunotify-filter" (none: V2; protection: MAPPING_ONLY without frame
 * snapshots; frames: MAPPING_ONLY with them), "ummunotify-deferred" and
 * "ummunotify-spared" (invalidations deferred for a frame check, and those
 * of them proven harmless), "ummunotify-removed" (ONESHOT registrations
 * removed as they were reported, since open) (UMMUNOTIFY_FEATURE_FDINFO
 * says the kernel provides them). "ummunotify-registrations" counts every
 * registration the cookie index holds: a removed ONESHOT one until read()
 * hands out its report.
 *
 * Module parameters (/sys/module/ummunotify/parameters/)
 * ------------------------------------------------------
 *   max_registrations (rw, default 1048576): per-file registration limit.
 *   max_user_registrations (rw, default 1% of RAM in registrations, at least
 *     65536): live registrations of one user (the opener's effective uid)
 *     across all its files; given back on UNREGISTER, close and exit.
 *   user_registrations (ro): one "uid count" line per user with a file open.
 *   deferred_slots (rw, default 8, at most 8): invalidations a MAPPING_ONLY
 *     file may defer at once; 0 reports every one at its start.
 *   registrations (ro): registrations live in all files (a leak check).
 */
#ifndef _UAPI_LINUX_UMMUNOTIFY_H
#define _UAPI_LINUX_UMMUNOTIFY_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define UMMUNOTIFY_DEVICE "/dev/ummunotify"

/* Event types delivered by read(). */
enum {
	/* A registration was invalidated; user_cookie_counter is its cookie. */
	UMMUNOTIFY_EVENT_TYPE_INVAL = 0,
	/* The report list was emptied; user_cookie_counter is the counter. */
	UMMUNOTIFY_EVENT_TYPE_LAST = 1,
};

/* Event flags. */
enum {
	/*
	 * Set on an INVAL event when exactly one invalidation hit the
	 * registration since it was last reported: [hint_start, hint_end) is
	 * the invalidated part, clipped to the registration. Clear when it
	 * was hit more than once: the hint is then the whole registration.
	 */
	UMMUNOTIFY_EVENT_FLAG_HINT = 1 << 0,
	/*
	 * Set on the INVAL event of a UMMUNOTIFY_REGISTER_ONESHOT
	 * registration: the kernel removed it as it queued this report. Once
	 * read() has handed the event out the cookie is unknown to the file
	 * (free for a new REGISTER; UNREGISTER gives ENOENT). Never set
	 * without UMMUNOTIFY_FEATURE_ONESHOT.
	 */
	UMMUNOTIFY_EVENT_FLAG_REMOVED = 1 << 1,
};

/* 32 bytes, as in V2. */
struct ummunotify_event {
	__u32 type;		/* UMMUNOTIFY_EVENT_TYPE_* */
	__u32 flags;		/* UMMUNOTIFY_EVENT_FLAG_* (INVAL only; 0 on LAST) */
	__u64 hint_start;	/* INVAL: start of the hint range (see HINT); LAST: 0 */
	__u64 hint_end;		/* INVAL: end of the hint range, exclusive; LAST: 0 */
	__u64 user_cookie_counter; /* INVAL: the cookie; LAST: the counter */
};

/* 32 bytes, as in V2. */
struct ummunotify_register_ioctl {
	__u64 start;		/* first byte of the range (need not be page aligned) */
	__u64 end;		/* end of the range, exclusive; must be > start */
	__u64 user_cookie;	/* names the registration in events and UNREGISTER */
	__u32 flags;		/* UMMUNOTIFY_REGISTER_* (with FEATURE_ONESHOT), else 0 */
	__u32 reserved;		/* must be 0 with FEATURE_STRICT */
};

/*
 * Feature bits for UMMUNOTIFY_EXCHANGE_FEATURES (our extensions; V2 programs
 * never ask for them and so see V2 behaviour).
 */

/*
 * Report only invalidations that can change the VA->page mapping; skip only
 * what is proven not to. Skipped:
 *   - protection-only and soft-dirty invalidations (mprotect, fork's
 *     copy-on-write write protection, NUMA hinting, clear_refs), on every
 *     kernel and architecture;
 *   - on x86_64 only: an invalidation of at most 2 MiB that starts while no
 *     mmu_gather is open in the mm and after which every watched page in
 *     its range maps the same page frame as before it (or is unmapped both
 *     before and after). The module reads the frames at its start and its
 *     end with a lockless page-table walk. This is what cutting a VMA
 *     inside a 2 MiB aligned range announces (munmap or MAP_FIXED over one
 *     of several adjacent mappings the kernel merged into one VMA): a
 *     transparent-huge-page check over the whole 2 MiB that changes no
 *     frame, even when it really splits a huge page.
 * Everything else is reported, before the invalidating system call returns:
 * at its start when an mmu_gather is open (munmap, zap, madvise, exit),
 * when the range is larger than 2 MiB, when the file's deferral slots
 * (module parameter deferred_slots, up to 8) are all busy, and on every
 * architecture but x86_64; otherwise at its end, once the frames are known
 * to have changed (copy-on-write, mremap, migration, KSM, collapse, hugetlb
 * punch hole/truncate/MADV_REMOVE, UFFDIO_MOVE). No decision depends on
 * TLB-flush callbacks, so the same holds on 6.1, 6.12 and later kernels.
 * Skipped invalidations neither queue a report nor move the counter;
 * fdinfo counts deferred and spared ones. No errno of its own.
 */
#define UMMUNOTIFY_FEATURE_MAPPING_ONLY (1U << 0)

/*
 * Strict argument validation for REGISTER_REGION: EINVAL for unknown bits in
 * flags, nonzero reserved, and end past the user address space (TASK_SIZE).
 * Without it, flags and reserved are ignored, as in V2.
 */
#define UMMUNOTIFY_FEATURE_STRICT (1U << 1)

/*
 * Documented registration limits: REGISTER_REGION fails with ENOSPC once the
 * file holds max_registrations registrations, or the opener's user holds
 * max_user_registrations in all its files together. The limits bound kernel
 * memory, so they are enforced without this bit too, but then fail with
 * ENOMEM (the errno V2 gave when it ran out of memory).
 */
#define UMMUNOTIFY_FEATURE_LIMIT (1U << 2)

/*
 * Use of the file from an address space other than the opener's (a forked
 * child, a process the fd was passed to) fails with EIO: ioctl(), read(),
 * mmap(); poll() reports EPOLLERR. The owner is unaffected. Without it, as in
 * V2, every operation acts on the opener's address space whoever calls it.
 */
#define UMMUNOTIFY_FEATURE_OWNER_ONLY (1U << 3)

/*
 * Informational: /proc/<pid>/fdinfo/<fd> shows the ummunotify-* lines. The
 * lines are always there; asking for the bit only tells whether they are.
 */
#define UMMUNOTIFY_FEATURE_FDINFO (1U << 4)

/*
 * One-shot registrations: REGISTER_REGION honours UMMUNOTIFY_REGISTER_ONESHOT
 * in flags, and UNREGISTER_REGION of an unknown cookie fails with ENOENT
 * instead of EINVAL. Registrations made without the flag behave as in V2.
 *
 * A ONESHOT registration is removed by the kernel when its first report is
 * queued: it leaves the address lookup inside the notifier callback (no
 * allocation, no sleeping lock: the callback may run where it must not
 * block), so no later invalidation sees it and its report is always exact
 * (UMMUNOTIFY_EVENT_FLAG_HINT set, hint = the invalidated part clipped to
 * the registration) and carries UMMUNOTIFY_EVENT_FLAG_REMOVED. Until read()
 * hands that report out, the cookie still names it: UNREGISTER then
 * succeeds and discards the report (as for any pending report), and a new
 * REGISTER with the same cookie fails with EINVAL. Once read() has handed
 * it out, the registration is freed and given back to the registration
 * limits, and UNREGISTER of the cookie fails with ENOENT. So a user that
 * registers a range per cached object, and drops the object when its report
 * arrives, needs no UNREGISTER for it; one that drops an object for another
 * reason still calls UNREGISTER, and treats ENOENT as success (the report
 * crossed the call). No errno of its own besides that ENOENT.
 */
#define UMMUNOTIFY_FEATURE_ONESHOT (1U << 5)

#define UMMUNOTIFY_FEATURE_ALL (UMMUNOTIFY_FEATURE_MAPPING_ONLY | \
				UMMUNOTIFY_FEATURE_STRICT | \
				UMMUNOTIFY_FEATURE_LIMIT | \
				UMMUNOTIFY_FEATURE_OWNER_ONLY | \
				UMMUNOTIFY_FEATURE_FDINFO | \
				UMMUNOTIFY_FEATURE_ONESHOT)

/*
 * Flags of struct ummunotify_register_ioctl. Each is honoured only when
 * the feature that defines it was granted; otherwise it is ignored as V2
 * ignores flags (or refused with EINVAL under UMMUNOTIFY_FEATURE_STRICT).
 */

/* Remove the registration when it is reported (UMMUNOTIFY_FEATURE_ONESHOT). */
#define UMMUNOTIFY_REGISTER_ONESHOT (1U << 0)

#define UMMUNOTIFY_MAGIC 'U'

#define UMMUNOTIFY_EXCHANGE_FEATURES _IOWR(UMMUNOTIFY_MAGIC, 1, __u32)
#define UMMUNOTIFY_REGISTER_REGION   _IOW(UMMUNOTIFY_MAGIC, 2, struct ummunotify_register_ioctl)
#define UMMUNOTIFY_UNREGISTER_REGION _IOW(UMMUNOTIFY_MAGIC, 3, __u64)

#endif /* _UAPI_LINUX_UMMUNOTIFY_H */
