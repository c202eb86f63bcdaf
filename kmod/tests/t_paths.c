// SPDX-License-Identifier: GPL-2.0
/*
 * Every invalidation path produces an event; with mapping-only, protection
 * changes (mprotect, fork) do not, while the V2 default reports them, and
 * neither does the kernel's huge-page check when a VMA is cut (neighbours of
 * a munmap are spared), while a copy-on-write or a zap still is reported.
 */
#include "umn_test.h"

#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/wait.h>

/* Expects exactly one INVAL for @cookie then a LAST; returns the INVAL. */
static struct ummunotify_event expect_one(int fd, __u64 cookie)
{
	struct ummunotify_event ev[8] = { 0 };
	int n = umn_drain(fd, ev, 8, 1000);

	CHECK_EQ(n, 2);
	CHECK_EQ(ev[0].type, UMMUNOTIFY_EVENT_TYPE_INVAL);
	CHECK_EQ(ev[0].user_cookie_counter, cookie);
	CHECK_EQ(ev[1].type, UMMUNOTIFY_EVENT_TYPE_LAST);
	return ev[0];
}

static void expect_none(int fd, volatile __u64 *ctr, __u64 c0)
{
	struct ummunotify_event ev[8];

	CHECK_EQ(*ctr, c0);
	CHECK_EQ(umn_drain(fd, ev, 8, 0), 0);
}

#define CHECK_HINT(e, s, en) do {					\
	CHECK_EQ((e).flags, UMMUNOTIFY_EVENT_FLAG_HINT);		\
	CHECK_EQ((e).hint_start, (uintptr_t)(s));			\
	CHECK_EQ((e).hint_end, (uintptr_t)(en));			\
} while (0)

TEST(path_munmap)
{
	size_t pg = pgsz();
	int fd = umn_open(0, 0);
	volatile __u64 *ctr = umn_counter(fd);
	char *p = map_anon(3 * pg, 1);
	struct ummunotify_event e;

	CHECK_OK(umn_reg(fd, p, 3 * pg, 1));
	CHECK_OK(munmap(p + 2 * pg, pg));
	CHECK_EQ(*ctr, 1);
	e = expect_one(fd, 1);
	CHECK_HINT(e, p + 2 * pg, p + 3 * pg);
	close(fd);
}

TEST(path_mremap_move)
{
	size_t pg = pgsz();
	int fd = umn_open(0, 0);
	volatile __u64 *ctr = umn_counter(fd);
	char *p = map_anon(3 * pg, 1);
	char *dst = map_anon(3 * pg, 0);
	struct ummunotify_event e;

	CHECK_OK(umn_reg(fd, p, 3 * pg, 2));
	CHECK(mremap(p, 3 * pg, 3 * pg, MREMAP_MAYMOVE | MREMAP_FIXED, dst) == dst);
	CHECK(*ctr >= 1);
	e = expect_one(fd, 2);
	/* Moving may invalidate in several steps: HINT optional. */
	CHECK(e.hint_start >= (uintptr_t)p && e.hint_end <= (uintptr_t)p + 3 * pg);
	CHECK(e.hint_start < e.hint_end);
	CHECK_EQ(dst[0], 1);
	close(fd);
}

TEST(path_mremap_shrink)
{
	size_t pg = pgsz();
	int fd = umn_open(0, 0);
	char *p = map_anon(3 * pg, 1);
	struct ummunotify_event e;

	CHECK_OK(umn_reg(fd, p, 3 * pg, 3));
	CHECK(mremap(p, 3 * pg, pg, 0) == p);
	e = expect_one(fd, 3);
	CHECK_HINT(e, p + pg, p + 3 * pg);
	close(fd);
}

TEST(path_madvise_dontneed)
{
	size_t pg = pgsz();
	int fd = umn_open(0, UMMUNOTIFY_FEATURE_MAPPING_ONLY);
	char *p = map_anon(3 * pg, 1);
	struct ummunotify_event e;

	CHECK_OK(umn_reg(fd, p, 3 * pg, 4));
	CHECK_OK(madvise(p + pg, pg, MADV_DONTNEED));
	e = expect_one(fd, 4);
	CHECK_HINT(e, p + pg, p + 2 * pg);
	CHECK_EQ(p[pg], 0);	/* a new zero page now */
	close(fd);
}

TEST(path_mmap_fixed_over)
{
	size_t pg = pgsz();
	int fd = umn_open(0, UMMUNOTIFY_FEATURE_MAPPING_ONLY);
	char *p = map_anon(3 * pg, 1);
	struct ummunotify_event e;

	CHECK_OK(umn_reg(fd, p, 3 * pg, 5));
	CHECK(mmap(p + pg, pg, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == p + pg);
	e = expect_one(fd, 5);
	CHECK_HINT(e, p + pg, p + 2 * pg);
	close(fd);
}

TEST(path_shmdt)
{
	size_t pg = pgsz();
	int fd = umn_open(0, UMMUNOTIFY_FEATURE_MAPPING_ONLY);
	int id = shmget(IPC_PRIVATE, 3 * pg, IPC_CREAT | 0600);
	char *p;
	struct ummunotify_event e;

	REQUIRE(id >= 0);
	p = shmat(id, NULL, 0);
	shmctl(id, IPC_RMID, NULL);
	REQUIRE(p != (void *)-1);
	p[0] = 1;
	CHECK_OK(umn_reg(fd, p, 3 * pg, 6));
	CHECK_OK(shmdt(p));
	e = expect_one(fd, 6);
	CHECK_HINT(e, p, p + 3 * pg);
	close(fd);
}

TEST(path_brk_shrink)
{
	size_t pg = pgsz();
	int fd = umn_open(0, UMMUNOTIFY_FEATURE_MAPPING_ONLY);
	struct ummunotify_event ev[8];
	uintptr_t cur = (uintptr_t)sbrk(0), base;
	int n;

	/* No malloc from here to the shrink: it could move the break too. */
	REQUIRE(sbrk((intptr_t)(((cur + pg - 1) & ~(pg - 1)) - cur)) != (void *)-1);
	base = (uintptr_t)sbrk(0);
	REQUIRE(sbrk((intptr_t)(3 * pg)) != (void *)-1);
	((char *)base)[2 * pg] = 1;
	CHECK_OK(umn_reg(fd, (void *)base, 3 * pg, 7));
	REQUIRE(sbrk(-(intptr_t)pg) != (void *)-1);
	n = umn_drain(fd, ev, 8, 1000);
	REQUIRE_EQ(n, 2);
	CHECK_EQ(ev[0].user_cookie_counter, 7);
	CHECK_HINT(ev[0], base + 2 * pg, base + 3 * pg);
	close(fd);
}

/*
 * A process exits with registrations live: its file, passed to us, gets a
 * report per registration (and the counter moves); closing it afterwards
 * (the file outliving the mm) is clean. Without OWNER_ONLY we may read it.
 */
static void exit_case(__u32 features)
{
	size_t pg = pgsz();
	int sv[2], fd, status, n, i, seen = 0;
	struct ummunotify_event ev[16];
	pid_t pid;

	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		int cfd = umn_open(O_NONBLOCK, features);
		char *p = map_anon(4 * pg, 1);

		for (i = 0; i < 4; i++)
			if (umn_reg(cfd, p + i * pg, pg, 100 + i))
				_exit(2);
		if (send_fd(sv[1], cfd))
			_exit(3);
		_exit(0);	/* registrations still live */
	}
	fd = recv_fd(sv[0]);
	REQUIRE(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	REQUIRE(fd >= 0);

	CHECK_EQ(fdinfo_get(fd, "ummunotify-mm-alive"), 0);
	CHECK_EQ(fdinfo_get(fd, "ummunotify-registrations"), 4);
	CHECK_EQ(fdinfo_get(fd, "ummunotify-pending"), 4);
	CHECK(fdinfo_get(fd, "ummunotify-counter") >= 1);

	if (features & UMMUNOTIFY_FEATURE_OWNER_ONLY) {
		CHECK_ERR(read(fd, ev, sizeof(ev)), EIO);
	} else {
		n = umn_drain(fd, ev, 16, 1000);
		REQUIRE_EQ(n, 5);
		for (i = 0; i < 4; i++) {
			CHECK_EQ(ev[i].type, UMMUNOTIFY_EVENT_TYPE_INVAL);
			if (ev[i].user_cookie_counter >= 100 && ev[i].user_cookie_counter < 104)
				seen |= 1 << (ev[i].user_cookie_counter - 100);
		}
		CHECK_EQ(seen, 0xf);
		CHECK_EQ(ev[4].type, UMMUNOTIFY_EVENT_TYPE_LAST);
		CHECK_EQ(ev[4].user_cookie_counter, fdinfo_get(fd, "ummunotify-counter"));
		/* Unregistering after the mm is gone works too. */
		CHECK_OK(umn_unreg(fd, 101));
		CHECK_EQ(fdinfo_get(fd, "ummunotify-registrations"), 3);
		/* Registering into a dead mm: ESRCH. */
		CHECK_ERR(umn_reg(fd, (void *)0x10000, pg, 1), ESRCH);
	}
	close(fd);
}

TEST(path_process_exit)
{
	exit_case(0);
}

TEST(path_process_exit_owner_only)
{
	exit_case(UMMUNOTIFY_FEATURE_OWNER_ONLY | UMMUNOTIFY_FEATURE_MAPPING_ONLY);
}

TEST(mprotect_v2_reports)
{
	size_t pg = pgsz();
	int fd = umn_open(0, 0);
	volatile __u64 *ctr = umn_counter(fd);
	char *p = map_anon(2 * pg, 1);
	struct ummunotify_event e;

	CHECK_OK(umn_reg(fd, p, 2 * pg, 8));
	CHECK_OK(mprotect(p, 2 * pg, PROT_READ));
	CHECK(*ctr >= 1);
	e = expect_one(fd, 8);
	(void)e;
	close(fd);
}

TEST(mprotect_mapping_only_silent)
{
	size_t pg = pgsz();
	int fd = umn_open(0, UMMUNOTIFY_FEATURE_MAPPING_ONLY);
	volatile __u64 *ctr = umn_counter(fd);
	char *p = map_anon(2 * pg, 1);

	CHECK_OK(umn_reg(fd, p, 2 * pg, 8));
	CHECK_OK(mprotect(p, 2 * pg, PROT_READ));
	CHECK_OK(mprotect(p, 2 * pg, PROT_READ | PROT_WRITE));
	CHECK_OK(mprotect(p, pg, PROT_NONE));
	expect_none(fd, ctr, 0);
	/* But a real unmap still is reported. */
	CHECK_OK(munmap(p, 2 * pg));
	expect_one(fd, 8);
	close(fd);
}

static void fork_and_reap(void)
{
	int status;
	pid_t pid = fork();

	REQUIRE(pid >= 0);
	if (pid == 0)
		_exit(0);
	REQUIRE(waitpid(pid, &status, 0) == pid);
}

TEST(fork_v2_reports)
{
	size_t pg = pgsz();
	int fd = umn_open(0, 0);
	volatile __u64 *ctr = umn_counter(fd);
	char *p = map_anon(2 * pg, 1);

	CHECK_OK(umn_reg(fd, p, 2 * pg, 9));
	fork_and_reap();
	CHECK(*ctr >= 1);
	expect_one(fd, 9);
	close(fd);
}

TEST(fork_mapping_only_silent)
{
	size_t pg = pgsz();
	int fd = umn_open(0, UMMUNOTIFY_FEATURE_MAPPING_ONLY);
	volatile __u64 *ctr = umn_counter(fd);
	char *p = map_anon(2 * pg, 1);

	CHECK_OK(umn_reg(fd, p, 2 * pg, 9));
	fork_and_reap();
	expect_none(fd, ctr, 0);
	CHECK_EQ(p[0], 1);	/* reading does not change the mapping */
	expect_none(fd, ctr, 0);
	close(fd);
}


#define SZ_2M (2UL << 20)

/*
 * A 2 MiB aligned, 2 MiB long private anonymous mapping with every page
 * touched: cutting it anywhere inside makes the kernel check for a huge page
 * over the whole 2 MiB. MADV_NOHUGEPAGE keeps it mapped by small pages, the
 * case where that check changes nothing.
 */
static char *map_aligned_2m(void)
{
	char *res = mmap(NULL, 2 * SZ_2M, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	char *p;

	REQUIRE(res != MAP_FAILED);
	p = (char *)(((uintptr_t)res + SZ_2M - 1) & ~(SZ_2M - 1));
	REQUIRE(mmap(p, SZ_2M, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == p);
	CHECK_OK(madvise(p, SZ_2M, MADV_NOHUGEPAGE));
	for (size_t i = 0; i < SZ_2M; i += pgsz())
		p[i] = 2;
	return p;
}

/*
 * The buffer-reuse pattern: adjacent buffers (the kernel merges adjacent
 * anonymous mappings into one VMA, as here), one freed. Mapping-only
 * reports the freed one only; its neighbours keep their pages.
 */
TEST(munmap_in_vma_spares_neighbours)
{
	size_t b = 16 * pgsz();
	int fd = umn_open(0, UMMUNOTIFY_FEATURE_MAPPING_ONLY);
	volatile __u64 *ctr = umn_counter(fd);
	char *p = map_aligned_2m();
	struct ummunotify_event e;

	CHECK_OK(umn_reg(fd, p + b, b, 21));
	CHECK_OK(umn_reg(fd, p + 2 * b, b, 22));
	CHECK_OK(umn_reg(fd, p + 3 * b, b, 23));
	CHECK_OK(munmap(p + 2 * b, b));
	CHECK(*ctr >= 1);
	e = expect_one(fd, 22);
	CHECK_HINT(e, p + 2 * b, p + 3 * b);
	CHECK_EQ(p[b], 2);
	CHECK_EQ(p[3 * b], 2);
	expect_none(fd, ctr, *ctr);
	/* The neighbours are still watched. */
	CHECK_OK(munmap(p + 3 * b, b));
	expect_one(fd, 23);
	close(fd);
}

/* V2 reports the freed buffer too (and may report its neighbours). */
TEST(munmap_in_vma_v2_reports)
{
	size_t b = 16 * pgsz();
	int fd = umn_open(0, 0);
	char *p = map_aligned_2m();
	struct ummunotify_event ev[8];
	int n, i, seen = 0;

	CHECK_OK(umn_reg(fd, p + b, b, 21));
	CHECK_OK(umn_reg(fd, p + 2 * b, b, 22));
	CHECK_OK(munmap(p + 2 * b, b));
	n = umn_drain(fd, ev, 8, 1000);
	REQUIRE(n >= 2);
	for (i = 0; i < n - 1; i++)
		if (ev[i].user_cookie_counter == 22)
			seen = 1;
	CHECK(seen);
	CHECK_EQ(ev[n - 1].type, UMMUNOTIFY_EVENT_TYPE_LAST);
	close(fd);
}

/* A zap of exactly one aligned 2 MiB: the shape of the skipped check, but real. */
TEST(dontneed_whole_2m_reported)
{
	size_t pg = pgsz();
	int fd = umn_open(0, UMMUNOTIFY_FEATURE_MAPPING_ONLY);
	char *p = map_aligned_2m();
	struct ummunotify_event e;

	CHECK_OK(umn_reg(fd, p + 5 * pg, 2 * pg, 24));
	CHECK_OK(madvise(p, SZ_2M, MADV_DONTNEED));
	e = expect_one(fd, 24);
	CHECK_HINT(e, p + 5 * pg, p + 7 * pg);
	CHECK_EQ(p[5 * pg], 0);
	close(fd);
}

/*
 * Writing to a page shared copy-on-write with a child gives the parent a new
 * page: a mapping change with no mmu_gather, which mapping-only defers and
 * reports once the frame has changed.
 */
TEST(cow_break_mapping_only_reports)
{
	size_t pg = pgsz();
	int fd = umn_open(0, UMMUNOTIFY_FEATURE_MAPPING_ONLY);
	volatile __u64 *ctr = umn_counter(fd);
	char *p = map_anon(2 * pg, 1);
	struct ummunotify_event e;
	int go[2], status;
	char c;
	pid_t pid;

	CHECK_OK(umn_reg(fd, p, 2 * pg, 25));
	REQUIRE(pipe(go) == 0);
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {		/* holds the shared pages until told */
		close(go[1]);
		_exit(read(go[0], &c, 1) == 1 ? 0 : 1);
	}
	close(go[0]);
	expect_none(fd, ctr, 0);	/* fork's write protection: skipped */
	p[pg] = 3;			/* copy on write */
	e = expect_one(fd, 25);
	CHECK_HINT(e, p + pg, p + 2 * pg);
	REQUIRE(write(go[1], "x", 1) == 1);
	close(go[1]);
	REQUIRE(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(fd);
}

/* mremap moves page tables without an mmu_gather: still reported. */
TEST(mremap_move_mapping_only_reports)
{
	size_t pg = pgsz();
	int fd = umn_open(0, UMMUNOTIFY_FEATURE_MAPPING_ONLY);
	char *p = map_anon(3 * pg, 1);
	char *dst = map_anon(3 * pg, 0);
	struct ummunotify_event e;

	CHECK_OK(umn_reg(fd, p, 3 * pg, 26));
	CHECK(mremap(p, 3 * pg, 3 * pg, MREMAP_MAYMOVE | MREMAP_FIXED, dst) == dst);
	e = expect_one(fd, 26);
	CHECK(e.hint_start >= (uintptr_t)p && e.hint_end <= (uintptr_t)p + 3 * pg);
	CHECK(e.hint_start < e.hint_end);
	close(fd);
}

TF_MAIN(TF_CASE(path_munmap), TF_CASE(path_mremap_move), TF_CASE(path_mremap_shrink),
	TF_CASE(path_madvise_dontneed), TF_CASE(path_mmap_fixed_over),
	TF_CASE(path_shmdt), TF_CASE(path_brk_shrink), TF_CASE(path_process_exit),
	TF_CASE(path_process_exit_owner_only), TF_CASE(mprotect_v2_reports),
	TF_CASE(mprotect_mapping_only_silent), TF_CASE(fork_v2_reports),
	TF_CASE(fork_mapping_only_silent), TF_CASE(munmap_in_vma_spares_neighbours),
	TF_CASE(munmap_in_vma_v2_reports), TF_CASE(dontneed_whole_2m_reported),
	TF_CASE(cow_break_mapping_only_reports), TF_CASE(mremap_move_mapping_only_reports))
