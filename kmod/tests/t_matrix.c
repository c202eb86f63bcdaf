// SPDX-License-Identifier: GPL-2.0
/*
 * The path matrix: every kernel path that changes the page behind a watched
 * range must be reported before the call that changed it returns (or, for
 * work the kernel does on its own, once it happened), in V2 mode and in
 * MAPPING_ONLY. Built on the kernel's kselftest harness: the fixture owns the
 * file and its counter page, and each FIXTURE_VARIANT is one feature mode,
 * so every TEST_F runs in every mode and no path can be tested in one only.
 *
 * Needs root in the test VM: hugetlb pages are reserved, KSM is started, and
 * page migration needs two NUMA nodes (the VM has them).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/mempolicy.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "ummunotify.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
/* UFFDIO_MOVE (6.8 on): not in Debian 12's user-space headers. */
#define UMN_UFFD_FEATURE_MOVE (1 << 16)
struct umn_uffdio_move {
	__u64 dst;
	__u64 src;
	__u64 len;
	__u64 mode;
	__s64 move;
};
#define UMN_UFFDIO_MOVE _IOWR(UFFDIO, 0x05, struct umn_uffdio_move)

#define HPAGE (2UL << 20)	/* x86_64 PMD and default hugetlb page size */

static size_t pg;
static __u32 watch_flags;	/* the variant's REGISTER flags */

/* ---- helpers ---------------------------------------------------------- */

static int watch(int fd, const void *start, size_t len, __u64 cookie)
{
	struct ummunotify_register_ioctl r = {
		.start = (uintptr_t)start,
		.end = (uintptr_t)start + len,
		.user_cookie = cookie,
		.flags = watch_flags,
	};

	return ioctl(fd, UMMUNOTIFY_REGISTER_REGION, &r);
}

/*
 * Reads every queued event (the file is non-blocking) up to and including
 * the LAST; marks seen[cookie] for each INVAL with cookie < nseen and checks
 * its hint lies in [lo, hi) when hi != 0. Returns the number of INVALs, or
 * -1 on a malformed stream.
 */
static int drain(int fd, char *seen, size_t nseen, uintptr_t lo, uintptr_t hi)
{
	struct ummunotify_event ev[64];
	int invals = 0;

	for (;;) {
		ssize_t r = read(fd, ev, sizeof(ev));
		int i;

		if (r < 0)
			return errno == EAGAIN ? invals : -1;
		if (r == 0 || r % sizeof(ev[0]))
			return -1;
		for (i = 0; i < r / (ssize_t)sizeof(ev[0]); i++) {
			if (ev[i].type == UMMUNOTIFY_EVENT_TYPE_LAST)
				return invals;
			if (ev[i].type != UMMUNOTIFY_EVENT_TYPE_INVAL ||
			    ev[i].hint_start >= ev[i].hint_end)
				return -1;
			if (hi && (ev[i].hint_start < lo || ev[i].hint_end > hi))
				return -1;
			/* A ONESHOT report is its registration's last: exact, and says so. */
			if ((watch_flags & UMMUNOTIFY_REGISTER_ONESHOT) &&
			    ev[i].flags != (UMMUNOTIFY_EVENT_FLAG_HINT | UMMUNOTIFY_EVENT_FLAG_REMOVED))
				return -1;
			if (ev[i].user_cookie_counter < nseen)
				seen[ev[i].user_cookie_counter]++;
			invals++;
		}
	}
}

static char *map_anon(size_t len, int touch)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p != MAP_FAILED && touch)
		memset(p, 0x5a, len);
	return p == MAP_FAILED ? NULL : p;
}

/* A 2 MiB aligned anonymous range of @len (a multiple of 2 MiB). */
static char *map_aligned(size_t len)
{
	char *p = mmap(NULL, len + HPAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *a;

	if (p == MAP_FAILED)
		return NULL;
	a = (char *)(((uintptr_t)p + HPAGE - 1) & ~(HPAGE - 1));
	if (a > p)
		munmap(p, a - p);
	munmap(a + len, p + HPAGE - a);
	return a;
}

static int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -1;
}

static long read_long(const char *path)
{
	char buf[64] = { 0 };
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? strtol(buf, NULL, 10) : -1;
}

static int set_deferred_slots(int n)
{
	char v[16];

	snprintf(v, sizeof(v), "%d", n);
	return write_file("/sys/module/ummunotify/parameters/deferred_slots", v);
}

/* At least @n free huge pages of the default size (2 MiB here). */
static int reserve_hugepages(long n)
{
	long have = read_long("/proc/sys/vm/nr_hugepages");
	char v[32];

	if (have < 0)
		return -1;
	snprintf(v, sizeof(v), "%ld", have + n);
	if (write_file("/proc/sys/vm/nr_hugepages", v))
		return -1;
	return read_long("/proc/sys/vm/nr_hugepages") >= have + n ? 0 : -1;
}

/* The NUMA node of the page at @p (move_pages query), or -errno. */
static int node_of(void *p)
{
	int status = -1;

	if (syscall(SYS_move_pages, 0, 1UL, &p, NULL, &status, 0))
		return -errno;
	return status;
}

static int move_to_node(void *p, int node)
{
	int status = -1;

	if (syscall(SYS_move_pages, 0, 1UL, &p, &node, &status, MPOL_MF_MOVE))
		return -errno;
	return status;
}

/* ---- the fixture: one file per test, one variant per mode -------------- */

FIXTURE(umn) {
	int fd;
	volatile __u64 *ctr;
	__u64 c0;		/* counter before the call under test */
	char seen[256];		/* reports per cookie after the call */
};

FIXTURE_VARIANT(umn) {
	__u32 features;
	__u32 reg_flags;	/* flags of every REGISTER */
	int spares_neighbours;	/* MAPPING_ONLY proves a VMA cut harmless */
};

FIXTURE_VARIANT_ADD(umn, v2) {
	.features = 0,
	.spares_neighbours = 0,
};

FIXTURE_VARIANT_ADD(umn, mapping_only) {
	.features = UMMUNOTIFY_FEATURE_MAPPING_ONLY,
	.spares_neighbours = 1,
};

/*
 * What the library asks for: registrations removed as they are reported.
 * Each case's registration is reported once, so the first report must
 * still come on every path.
 */
FIXTURE_VARIANT_ADD(umn, oneshot_mapping_only) {
	.features = UMMUNOTIFY_FEATURE_MAPPING_ONLY | UMMUNOTIFY_FEATURE_ONESHOT,
	.reg_flags = UMMUNOTIFY_REGISTER_ONESHOT,
	.spares_neighbours = 1,
};

FIXTURE_SETUP(umn)
{
	__u32 f = variant->features;

	pg = (size_t)sysconf(_SC_PAGESIZE);
	watch_flags = variant->reg_flags;
	/* A missing device is a failure here, never a skip. */
	self->fd = open(UMMUNOTIFY_DEVICE, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	ASSERT_LE(0, self->fd) TH_LOG("open %s: %s", UMMUNOTIFY_DEVICE, strerror(errno));
	ASSERT_EQ(0, ioctl(self->fd, UMMUNOTIFY_EXCHANGE_FEATURES, &f));
	ASSERT_EQ(variant->features, f);
	self->ctr = mmap(NULL, pg, PROT_READ, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, (void *)self->ctr);
	/* Absent from modules without deferral: the tests that need it say so. */
	set_deferred_slots(8);
}

FIXTURE_TEARDOWN(umn)
{
	close(self->fd);
}

/* Before the call under test: nothing pending, counter noted. */
#define BEFORE() do {							\
	ASSERT_LE(0, drain(self->fd, NULL, 0, 0, 0));			\
	self->c0 = *self->ctr;						\
	memset(self->seen, 0, sizeof(self->seen));			\
} while (0)

/*
 * Right after the call under test returned: the counter moved and @cookie
 * is reported, with a hint inside [lo, hi).
 */
#define REPORTED(cookie, lo, hi) do {					\
	__u64 _c = *self->ctr;						\
	ASSERT_NE(self->c0, _c) TH_LOG("counter did not move: no report"); \
	ASSERT_LE(1, drain(self->fd, self->seen, sizeof(self->seen),	\
			   (uintptr_t)(lo), (uintptr_t)(hi)));		\
	ASSERT_EQ(1, self->seen[cookie]);				\
} while (0)

#define NOT_REPORTED() do {						\
	ASSERT_EQ(self->c0, *self->ctr);				\
	ASSERT_EQ(0, drain(self->fd, NULL, 0, 0, 0));			\
} while (0)

/* ---- anonymous memory -------------------------------------------------- */

TEST_F(umn, anon_munmap)
{
	char *p = map_anon(3 * pg, 1);

	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, watch(self->fd, p, 3 * pg, 1));
	BEFORE();
	ASSERT_EQ(0, munmap(p + pg, pg));
	REPORTED(1, p, p + 3 * pg);
}

TEST_F(umn, anon_dontneed)
{
	char *p = map_anon(2 * pg, 1);

	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, watch(self->fd, p, 2 * pg, 1));
	BEFORE();
	ASSERT_EQ(0, madvise(p, pg, MADV_DONTNEED));
	REPORTED(1, p, p + 2 * pg);
}

TEST_F(umn, mremap_move)
{
	char *p = map_anon(2 * pg, 1);
	char *dst = map_anon(2 * pg, 0);

	ASSERT_NE(NULL, p);
	ASSERT_NE(NULL, dst);
	ASSERT_EQ(0, watch(self->fd, p, 2 * pg, 1));
	BEFORE();
	ASSERT_EQ(dst, mremap(p, 2 * pg, 2 * pg, MREMAP_MAYMOVE | MREMAP_FIXED, dst));
	REPORTED(1, p, p + 2 * pg);
	ASSERT_EQ(0x5a, dst[pg]);
}

TEST_F(umn, mremap_shrink)
{
	char *p = map_anon(4 * pg, 1);

	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, watch(self->fd, p + 2 * pg, 2 * pg, 1));
	BEFORE();
	ASSERT_EQ(p, mremap(p, 4 * pg, 2 * pg, 0));
	REPORTED(1, p + 2 * pg, p + 4 * pg);
}

TEST_F(umn, map_fixed_over)
{
	char *p = map_anon(2 * pg, 1);

	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, watch(self->fd, p, 2 * pg, 1));
	BEFORE();
	ASSERT_EQ(p + pg, mmap(p + pg, pg, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0));
	REPORTED(1, p, p + 2 * pg);
}

/* The parent's write after fork copies the page: a new frame. */
TEST_F(umn, cow_break_after_fork)
{
	char *p = map_anon(pg, 1);
	int go[2];
	pid_t child;

	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, watch(self->fd, p, pg, 1));
	ASSERT_EQ(0, pipe(go));
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {	/* keeps the page shared until told */
		char c;

		close(go[1]);
		_exit(read(go[0], &c, 1) < 0);
	}
	close(go[0]);
	BEFORE();		/* V2 reported fork's write protection */
	p[0] = 1;
	REPORTED(1, p, p + pg);
	close(go[1]);
	ASSERT_EQ(child, waitpid(child, NULL, 0));
}

TEST_F(umn, protnone_then_dontneed)
{
	char *p = map_anon(2 * pg, 1);

	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, watch(self->fd, p, 2 * pg, 1));
	ASSERT_EQ(0, mprotect(p, 2 * pg, PROT_NONE));
	BEFORE();
	ASSERT_EQ(0, madvise(p, 2 * pg, MADV_DONTNEED));
	REPORTED(1, p, p + 2 * pg);
}

/* ---- shmem and hugetlb memfd: the same four calls on each -------------- */

enum file_op { OP_PUNCH, OP_TRUNCATE, OP_REMOVE, OP_MUNMAP };

/*
 * A memfd of two @unit pages mapped shared and touched; the last 4 KiB of
 * the first page is watched; @op takes the first page away.
 */
static void memfd_case(struct __test_metadata *_metadata,
		       FIXTURE_DATA(umn) *self, unsigned int flags, size_t unit,
		       enum file_op op)
{
	int mfd = memfd_create("umn-matrix", MFD_CLOEXEC | flags);
	char *p;
	int rc = -1;

	ASSERT_LE(0, mfd) TH_LOG("memfd_create: %s", strerror(errno));
	ASSERT_EQ(0, ftruncate(mfd, 2 * unit));
	p = mmap(NULL, 2 * unit, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	ASSERT_NE(MAP_FAILED, p) TH_LOG("mmap: %s", strerror(errno));
	memset(p, 0x5a, 2 * unit);
	ASSERT_EQ(0, watch(self->fd, p + unit - pg, pg, 1));
	BEFORE();
	switch (op) {
	case OP_PUNCH:
		rc = fallocate(mfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, unit);
		break;
	case OP_TRUNCATE:
		rc = ftruncate(mfd, 0);
		break;
	case OP_REMOVE:
		rc = madvise(p, unit, MADV_REMOVE);
		break;
	case OP_MUNMAP:
		rc = munmap(p, unit);
		break;
	}
	ASSERT_EQ(0, rc) TH_LOG("op %d: %s", op, strerror(errno));
	REPORTED(1, p + unit - pg, p + unit);
	close(mfd);
}

TEST_F(umn, shmem_punch_hole) { memfd_case(_metadata, self, 0, pg, OP_PUNCH); }
TEST_F(umn, shmem_truncate) { memfd_case(_metadata, self, 0, pg, OP_TRUNCATE); }
TEST_F(umn, shmem_madv_remove) { memfd_case(_metadata, self, 0, pg, OP_REMOVE); }
TEST_F(umn, shmem_munmap) { memfd_case(_metadata, self, 0, pg, OP_MUNMAP); }

#define HUGETLB_CASE(name, op)						\
TEST_F(umn, name)							\
{									\
	ASSERT_EQ(0, reserve_hugepages(2)) TH_LOG("cannot reserve 2 huge pages"); \
	memfd_case(_metadata, self, MFD_HUGETLB, HPAGE, op);		\
}
HUGETLB_CASE(hugetlb_punch_hole, OP_PUNCH)
HUGETLB_CASE(hugetlb_truncate, OP_TRUNCATE)
HUGETLB_CASE(hugetlb_madv_remove, OP_REMOVE)
HUGETLB_CASE(hugetlb_munmap, OP_MUNMAP)

/* ---- work the kernel does on its own or on request --------------------- */

/* Small pages collapsed into a new huge page: every frame changes. */
TEST_F(umn, madv_collapse)
{
	char *a = map_aligned(HPAGE);
	int rc = -1, i;

	ASSERT_NE(NULL, a);
	/*
	 * Faulted in as small pages, then collapsing is allowed again, after
	 * the counter is noted: khugepaged may collapse the range first, which
	 * must be reported just the same.
	 */
	ASSERT_EQ(0, madvise(a, HPAGE, MADV_NOHUGEPAGE));
	memset(a, 0x5a, HPAGE);
	ASSERT_EQ(0, watch(self->fd, a + 16 * pg, pg, 1));
	BEFORE();
	ASSERT_EQ(0, madvise(a, HPAGE, MADV_HUGEPAGE));
	for (i = 0; i < 10 && rc; i++)	/* EAGAIN: pages briefly busy */
		rc = madvise(a, HPAGE, MADV_COLLAPSE);
	ASSERT_EQ(0, rc) TH_LOG("MADV_COLLAPSE: %s", strerror(errno));
	REPORTED(1, a + 16 * pg, a + 17 * pg);
}

/* ksmd merges two identical pages: one of them gets the other's frame. */
TEST_F_TIMEOUT(umn, ksm_merge, 240)
{
	char *p = map_anon(2 * pg, 1);
	long sharing = 0;
	int i;

	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, write_file("/sys/kernel/mm/ksm/pages_to_scan", "10000"));
	ASSERT_EQ(0, write_file("/sys/kernel/mm/ksm/sleep_millisecs", "10"));
	ASSERT_EQ(0, write_file("/sys/kernel/mm/ksm/run", "1"));
	ASSERT_EQ(0, watch(self->fd, p, 2 * pg, 1));
	BEFORE();
	ASSERT_EQ(0, madvise(p, 2 * pg, MADV_MERGEABLE));
	for (i = 0; i < 2000 && sharing < 1; i++) {
		usleep(100 * 1000);
		sharing = read_long("/sys/kernel/mm/ksm/pages_sharing");
	}
	write_file("/sys/kernel/mm/ksm/run", "2");	/* unmerge all, stop */
	ASSERT_LE(1, sharing) TH_LOG("ksmd merged nothing");
	REPORTED(1, p, p + 2 * pg);
}

/*
 * A page moved to the other NUMA node gets a new frame. A PROT_NONE page
 * (as NUMA hinting leaves it) is moved by mbind(), since move_pages() does
 * not see PROT_NONE pages before 6.x; the node is checked afterwards.
 */
static void migrate_case(struct __test_metadata *_metadata,
			 FIXTURE_DATA(umn) *self, int prot_none)
{
	char *p = map_anon(pg, 1);
	unsigned long mask;
	int from, to;

	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, access("/sys/devices/system/node/node1", F_OK))
		TH_LOG("the guest needs two NUMA nodes");
	from = node_of(p);
	ASSERT_LE(0, from) TH_LOG("move_pages query: %d", from);
	to = from ? 0 : 1;
	mask = 1UL << to;
	ASSERT_EQ(0, watch(self->fd, p, pg, 1));
	if (prot_none)
		ASSERT_EQ(0, mprotect(p, pg, PROT_NONE));
	BEFORE();
	if (prot_none) {
		ASSERT_EQ(0, syscall(SYS_mbind, p, pg, MPOL_BIND, &mask, 8 * sizeof(mask),
				     MPOL_MF_MOVE | MPOL_MF_STRICT))
			TH_LOG("mbind: %s", strerror(errno));
	} else {
		ASSERT_EQ(to, move_to_node(p, to));
	}
	REPORTED(1, p, p + pg);
	ASSERT_EQ(0, mprotect(p, pg, PROT_READ));
	ASSERT_EQ(to, node_of(p));
}

TEST_F(umn, migrate_page) { migrate_case(_metadata, self, 0); }
TEST_F(umn, migrate_prot_none_page) { migrate_case(_metadata, self, 1); }

/* UFFDIO_MOVE (6.8 on) takes the source page away from its address. */
TEST_F(umn, uffdio_move)
{
	struct uffdio_api api = { .api = UFFD_API, .features = UMN_UFFD_FEATURE_MOVE };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	struct umn_uffdio_move mv = { 0 };
	char *src = map_anon(pg, 1);
	char *dst = map_anon(pg, 0);
	int uffd;

	ASSERT_NE(NULL, src);
	ASSERT_NE(NULL, dst);
	uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	ASSERT_LE(0, uffd) TH_LOG("userfaultfd: %s", strerror(errno));
	if (ioctl(uffd, UFFDIO_API, &api) && errno == EINVAL) {
		struct uffdio_api plain = { .api = UFFD_API };

		/* Refused only for the feature: this kernel has no UFFDIO_MOVE. */
		ASSERT_EQ(0, ioctl(uffd, UFFDIO_API, &plain));
		SKIP(return, "not applicable: no UFFDIO_MOVE before 6.8");
	}
	reg.range.start = (uintptr_t)dst;
	reg.range.len = pg;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_REGISTER, &reg));
	ASSERT_EQ(0, watch(self->fd, src, pg, 1));
	BEFORE();
	mv.dst = (uintptr_t)dst;
	mv.src = (uintptr_t)src;
	mv.len = pg;
	ASSERT_EQ(0, ioctl(uffd, UMN_UFFDIO_MOVE, &mv)) TH_LOG("UFFDIO_MOVE: %s", strerror(errno));
	ASSERT_EQ((__s64)pg, mv.move);
	REPORTED(1, src, src + pg);
	ASSERT_EQ(0x5a, dst[0]);
	close(uffd);
}

/* ---- the deferral itself (MAPPING_ONLY) -------------------------------- */

/*
 * A 2 MiB aligned mapping, touched, with [b, 2b) watched (b = 16 pages);
 * munmap of [2b, 3b) cuts the VMA, and the kernel announces its huge-page
 * check over the whole 2 MiB around the cut. With @huge the range is one
 * transparent huge page, which the cut really splits (the frames stay).
 */
static char *cut_setup(struct __test_metadata *_metadata, FIXTURE_DATA(umn) *self,
		       int huge)
{
	char *p = map_aligned(HPAGE);

	ASSERT_NE(NULL, p);
	ASSERT_EQ(0, madvise(p, HPAGE, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE));
	memset(p, 0x5a, HPAGE);
	ASSERT_EQ(0, watch(self->fd, p + 16 * pg, 16 * pg, 1));
	return p;
}

static void cut_case(struct __test_metadata *_metadata, FIXTURE_DATA(umn) *self,
		     const FIXTURE_VARIANT(umn) *variant, int huge)
{
	char *p = cut_setup(_metadata, self, huge);

	BEFORE();
	ASSERT_EQ(0, munmap(p + 32 * pg, 16 * pg));
	if (variant->spares_neighbours) {
		NOT_REPORTED();		/* proven harmless: frames unchanged */
	} else {
		REPORTED(1, p + 16 * pg, p + 32 * pg);
	}
	ASSERT_EQ(0x5a, p[16 * pg]);
	ASSERT_EQ(0x5a, p[48 * pg]);
}

TEST_F(umn, vma_cut_spares_neighbours) { cut_case(_metadata, self, variant, 0); }
TEST_F(umn, vma_cut_splits_huge_page) { cut_case(_metadata, self, variant, 1); }

/* With no free deferral slot, the same cut is reported in every mode. */
TEST_F(umn, no_free_slot_reports)
{
	char *p = cut_setup(_metadata, self, 0);

	ASSERT_EQ(0, set_deferred_slots(0));
	BEFORE();
	ASSERT_EQ(0, munmap(p + 32 * pg, 16 * pg));
	REPORTED(1, p + 16 * pg, p + 32 * pg);
	ASSERT_EQ(0, set_deferred_slots(8));
}

/*
 * Several CPUs at once: threads break copy-on-write on their own pages
 * (each page its own registration) while a child keeps them shared, so
 * deferred invalidations overlap in time and compete for slots. Every page
 * must be reported, each exactly once per drain.
 */
#define CONC_THREADS 4
#define CONC_PAGES 128
static char *conc_base;

static void *conc_writer(void *arg)
{
	long t = (long)arg, i;

	for (i = t; i < CONC_PAGES; i += CONC_THREADS)
		conc_base[i * pg] = 1;
	return NULL;
}

static void concurrent_case(struct __test_metadata *_metadata,
			    FIXTURE_DATA(umn) *self, int slots)
{
	pthread_t th[CONC_THREADS];
	int go[2], i;
	pid_t child;

	conc_base = map_anon(CONC_PAGES * pg, 1);
	ASSERT_NE(NULL, conc_base);
	/* No huge page: each write breaks one small page. */
	ASSERT_EQ(0, madvise(conc_base, CONC_PAGES * pg, MADV_NOHUGEPAGE));
	for (i = 0; i < CONC_PAGES; i++)
		ASSERT_EQ(0, watch(self->fd, conc_base + i * pg, pg, (__u64)i));
	ASSERT_EQ(0, set_deferred_slots(slots));
	ASSERT_EQ(0, pipe(go));
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		char c;

		close(go[1]);
		_exit(read(go[0], &c, 1) < 0);
	}
	close(go[0]);
	BEFORE();
	for (i = 0; i < CONC_THREADS; i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, conc_writer, (void *)(long)i));
	for (i = 0; i < CONC_THREADS; i++)
		ASSERT_EQ(0, pthread_join(th[i], NULL));
	ASSERT_NE(self->c0, *self->ctr);
	ASSERT_EQ(CONC_PAGES, drain(self->fd, self->seen, sizeof(self->seen),
				    (uintptr_t)conc_base,
				    (uintptr_t)conc_base + CONC_PAGES * pg));
	for (i = 0; i < CONC_PAGES; i++)
		ASSERT_EQ(1, self->seen[i]) TH_LOG("page %d not reported", i);
	close(go[1]);
	ASSERT_EQ(child, waitpid(child, NULL, 0));
	ASSERT_EQ(0, set_deferred_slots(8));
}

TEST_F(umn, concurrent_cow_all_slots) { concurrent_case(_metadata, self, 8); }
TEST_F(umn, concurrent_cow_one_slot) { concurrent_case(_metadata, self, 1); }

/*
 * A registration made while an invalidation of its range is in progress was
 * not in the tree when that invalidation started, which may be about to
 * change its pages: it must be reported at once. A thread unmaps a large
 * populated region (a long zap); meanwhile this thread keeps registering,
 * under fresh cookies, the region's last page (inside the zap) and an
 * unrelated buffer q. Some registrations land inside the zap: those of the
 * region must be reported, those of q (nothing touches it) not.
 */
#define BIG_ZAP (128UL << 20)
#define MAX_COOKIES (1UL << 21)
static volatile int zap_running;

static void *zap_thread(void *arg)
{
	zap_running = 1;
	munmap(arg, BIG_ZAP);
	zap_running = 0;
	return NULL;
}

TEST_F_TIMEOUT(umn, register_during_invalidation, 120)
{
	char *big = map_anon(BIG_ZAP, 0);
	char *q = map_anon(pg, 1);
	char *seen = calloc(MAX_COOKIES, 1);
	__u64 cookie = 2;
	long inside = 0, in_big = 0, in_q = 0, c;
	pthread_t th;

	ASSERT_NE(NULL, big);
	ASSERT_NE(NULL, q);
	ASSERT_NE(NULL, seen);
	ASSERT_EQ(0, madvise(big, BIG_ZAP, MADV_NOHUGEPAGE));	/* one PTE per page: a long zap */
	memset(big, 1, BIG_ZAP);
	ASSERT_EQ(0, watch(self->fd, q, pg, 1));	/* the notifier is on */
	BEFORE();
	ASSERT_EQ(0, pthread_create(&th, NULL, zap_thread, big));
	while (!zap_running)
		;
	/* Even cookies: the region's last page; odd: q. */
	while (zap_running && cookie + 2 < MAX_COOKIES) {
		ASSERT_EQ(0, watch(self->fd, big + BIG_ZAP - pg, pg, cookie++));
		ASSERT_EQ(0, watch(self->fd, q, pg, cookie++));
		inside++;
	}
	ASSERT_EQ(0, pthread_join(th, NULL));
	ASSERT_LE(0, drain(self->fd, seen, MAX_COOKIES, 0, 0));
	for (c = 2; c < (long)cookie; c++) {
		if (seen[c] && c % 2 == 0)
			in_big++;
		else if (seen[c])
			in_q++;
	}
	TH_LOG("%ld pairs registered during the zap window: %ld of the zapped region reported, %ld of q",
	       inside, in_big, in_q);
	ASSERT_LE(1, in_big);
	ASSERT_EQ(0, in_q);	/* unrelated: spared */
	ASSERT_EQ(0x5a, q[0]);
	free(seen);
}

TEST_HARNESS_MAIN
