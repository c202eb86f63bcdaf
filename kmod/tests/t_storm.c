// SPDX-License-Identifier: GPL-2.0
/*
 * Lossless storm: many one-page registrations, several threads unmapping and
 * remapping pages concurrently, a reader draining. Every invalidated
 * registration is reported at least once after its last invalidation, never
 * more often than it was invalidated, never twice in one read(), and a
 * registration never invalidated is never reported.
 *
 *   UMN_STORM_REGS (50000)  UMN_STORM_THREADS (4)  UMN_STORM_OPS (per thread, 20000)
 */
#include "umn_test.h"

#include <pthread.h>
#include <sys/prctl.h>
#include <stdatomic.h>
#include <time.h>

static size_t pg;
static long nregs, nthreads, nops;
static char *region;
static unsigned *inv;		/* invalidations per page, by its owner thread */
static unsigned *rep;		/* reports per page, by the reader */
static unsigned *stamp;		/* read() number that last reported the page */
static atomic_int writers_done;
static long dup_in_read, bad_cookie, bad_hint;

/*
 * Separate: neighbouring pages get different protections, so every page is a
 * VMA of its own and unmapping one never cuts a VMA. Merged: one VMA, so
 * every munmap or MAP_FIXED cuts it, and the kernel announces an invalidation
 * of the 2 MiB around each cut for its huge-page check (with huge pages off,
 * that check changes nothing). Mapping-only must skip those announcements,
 * so the exact checks below hold in both layouts.
 */
static int merged;

static int page_prot(long page)
{
	return (!merged && (page & 1)) ? PROT_READ : PROT_READ | PROT_WRITE;
}

struct writer {
	long id;
	unsigned seed;
	int failed;
};

static void *writer(void *arg)
{
	struct writer *w = arg;
	long i;

	for (i = 0; i < nops; i++) {
		/* Pages owned by this thread: id, id + nthreads, ... */
		long k = rand_r(&w->seed) % ((nregs - w->id + nthreads - 1) / nthreads);
		long page = w->id + k * nthreads;
		char *p = region + page * pg;
		int prot = page_prot(page);

		if (rand_r(&w->seed) & 1) {
			if (munmap(p, pg) ||
			    mmap(p, pg, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
				 -1, 0) != p)
				w->failed = 1;
		} else {
			/* MAP_FIXED over a mapped page: one invalidation. */
			if (mmap(p, pg, prot, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
				 -1, 0) != p)
				w->failed = 1;
		}
		inv[page]++;
	}
	atomic_fetch_add(&writers_done, 1);
	return NULL;
}

static unsigned read_no;

/* One read(); returns events handled, 0 on EAGAIN. */
static int read_once(int fd, struct ummunotify_event *ev, int max, __u64 *last)
{
	ssize_t r = read(fd, ev, (size_t)max * sizeof(*ev));
	int i, n;

	if (r < 0)
		return 0;
	n = (int)(r / (ssize_t)sizeof(*ev));
	read_no++;
	for (i = 0; i < n; i++) {
		__u64 c = ev[i].user_cookie_counter;

		if (ev[i].type == UMMUNOTIFY_EVENT_TYPE_LAST) {
			*last = c;
			continue;
		}
		if (c >= (__u64)nregs) {
			bad_cookie++;
			continue;
		}
		if (stamp[c] == read_no)
			dup_in_read++;
		stamp[c] = read_no;
		rep[c]++;
		if (ev[i].hint_start != (uintptr_t)region + c * pg ||
		    ev[i].hint_end != (uintptr_t)region + (c + 1) * pg)
			bad_hint++;
	}
	return n;
}

static void storm(void)
{
	int fd = umn_open(O_NONBLOCK, UMMUNOTIFY_FEATURE_MAPPING_ONLY);
	volatile __u64 *ctr = umn_counter(fd);
	struct ummunotify_event ev[256];
	pthread_t th[64];
	struct writer w[64];
	__u64 last = 0;
	long i, lost = 0, extra = 0, phantom = 0, reported = 0, invalidated = 0;
	struct timespec t0, t1;

	pg = pgsz();
	nregs = env_long("UMN_STORM_REGS", 50000);
	nthreads = env_long("UMN_STORM_THREADS", 4);
	nops = env_long("UMN_STORM_OPS", 20000);
	REQUIRE(nthreads >= 1 && nthreads <= 64 && nregs >= nthreads);

	region = mmap(NULL, nregs * pg, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	REQUIRE(region != MAP_FAILED);
	for (i = 1; i < nregs; i += 2)
		if (page_prot(i) != (PROT_READ | PROT_WRITE))
			REQUIRE(mprotect(region + i * pg, pg, page_prot(i)) == 0);
	inv = calloc(nregs, sizeof(*inv));
	rep = calloc(nregs, sizeof(*rep));
	stamp = calloc(nregs, sizeof(*stamp));
	REQUIRE(inv && rep && stamp);

	for (i = 0; i < nregs; i++)
		REQUIRE(umn_reg(fd, region + i * pg, pg, (__u64)i) == 0);
	CHECK_EQ(fdinfo_get(fd, "ummunotify-registrations"), nregs);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < nthreads; i++) {
		w[i] = (struct writer){ .id = i, .seed = (unsigned)(i * 7919 + 1) };
		REQUIRE(pthread_create(&th[i], NULL, writer, &w[i]) == 0);
	}
	/* This thread is the reader, draining while the writers run. */
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		/* Read before the drain: the last drain follows every munmap. */
		int done = atomic_load(&writers_done) == nthreads;

		poll(&p, 1, 10);
		while (read_once(fd, ev, 256, &last))
			;
		if (done)
			break;
	}
	for (i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);

	for (i = 0; i < nthreads; i++)
		CHECK_EQ(w[i].failed, 0);
	for (i = 0; i < nregs; i++) {
		invalidated += inv[i] > 0;
		reported += rep[i];
		if (inv[i] && !rep[i])
			lost++;
		if (rep[i] > inv[i] && inv[i])
			extra++;
		if (!inv[i] && rep[i])
			phantom++;
	}
	fprintf(stderr, "  storm (%s VMAs): %ld regs, %ld threads x %ld ops, %.2fs, %ld pages "
		"invalidated, %ld reports, %u reads, counter %llu\n",
		merged ? "merged" : "separate", nregs, nthreads, nops,
		(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
		invalidated, reported, read_no, (unsigned long long)*ctr);
	CHECK_EQ(lost, 0);
	CHECK_EQ(extra, 0);
	CHECK_EQ(phantom, 0);
	CHECK_EQ(dup_in_read, 0);
	CHECK_EQ(bad_cookie, 0);
	CHECK_EQ(bad_hint, 0);
	CHECK(invalidated > 0);
	/* Fully drained: the last LAST carries the current counter. */
	CHECK_EQ(last, *ctr);
	CHECK_EQ(fdinfo_get(fd, "ummunotify-pending"), 0);
	close(fd);
	munmap(region, nregs * pg);
	free(inv);
	free(rep);
	free(stamp);
	atomic_store(&writers_done, 0);
	read_no = 0;
	dup_in_read = bad_cookie = bad_hint = 0;
}

TEST(lossless_storm)
{
	merged = 0;
	storm();
}

TEST(lossless_storm_merged_vma)
{
	/* No transparent huge pages: a real split may be reported (on 6.6+). */
	REQUIRE(prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0);
	merged = 1;
	storm();
	merged = 0;
	REQUIRE(prctl(PR_SET_THP_DISABLE, 0, 0, 0, 0) == 0);
}

TF_MAIN(TF_CASE(lossless_storm), TF_CASE(lossless_storm_merged_vma))
