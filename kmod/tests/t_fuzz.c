// SPDX-License-Identifier: GPL-2.0
/*
 * Bad input: threads issue random ioctls (random commands and sizes, valid,
 * invalid, unmapped, PROT_NONE, straddling and kernel pointers), reads,
 * polls, mmaps and address-space churn on a few shared files while the files
 * are closed and reopened under them, and forked children use them from
 * another address space; once as root and once (a quarter of the calls) as
 * the unprivileged user nobody. Half the registrations ask for ONESHOT, on
 * files that mostly enable it, so removals at report time (in the notifier)
 * race UNREGISTER, read(), close() and exit. Afterwards no registration may be left,
 * the module must unload (its exit path WARNs on a leak, which fails the VM
 * run), slab usage must be back to its baseline, and it must load again.
 *
 *   UMN_FUZZ_CALLS (1000000 ioctls)  UMN_FUZZ_THREADS (4)  UMN_FUZZ_SEED
 *   UMMUNOTIFY_KO  path of ummunotify.ko for the unload/reload part (root);
 *                  unset: the case fails.
 */
#include "umn_test.h"

#include <grp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

#define NSLOTS 4
#define ARENA_PAGES 256

static _Atomic int slots[NSLOTS];
static atomic_long ioctls_done;
static long ioctls_target;
static size_t pg;
static char *arena;
static atomic_long n_ok, n_err;

struct fuzzer {
	unsigned long long rng;
	char *scratch;		/* 2 pages RW, then 1 PROT_NONE, then a hole */
};

static unsigned long long rnd(struct fuzzer *f)
{
	/* xorshift64* */
	f->rng ^= f->rng >> 12;
	f->rng ^= f->rng << 25;
	f->rng ^= f->rng >> 27;
	return f->rng * 2685821657736338717ULL;
}

static int pick(struct fuzzer *f, int n)
{
	return (int)(rnd(f) % (unsigned)n);
}

static int open_slot_fd(struct fuzzer *f)
{
	int fd = open(UMMUNOTIFY_DEVICE, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	/* ONESHOT on most files: its removals race everything below. */
	__u32 feat = (__u32)rnd(f) | (pick(f, 4) ? UMMUNOTIFY_FEATURE_ONESHOT : 0);

	if (fd >= 0 && pick(f, 4))
		ioctl(fd, UMMUNOTIFY_EXCHANGE_FEATURES, &feat);
	if (fd >= 0 && !pick(f, 4)) {
		fcntl(fd, F_SETOWN, getpid());
		fcntl(fd, F_SETFL, O_NONBLOCK | O_ASYNC);
	}
	return fd;
}

static __u64 rand_addr(struct fuzzer *f)
{
	switch (pick(f, 8)) {
	case 0: return 0;
	case 1: return rnd(f);
	case 2: return 0x7ffffffff000ULL + (rnd(f) % 0x3000);
	case 3: return ~0ULL - (rnd(f) % 0x3000);
	default: return (uintptr_t)arena + rnd(f) % (ARENA_PAGES * pg);
	}
}

static void *rand_ptr(struct fuzzer *f, size_t want)
{
	switch (pick(f, 10)) {
	case 0: return NULL;
	case 1: return f->scratch + 2 * pg;		/* PROT_NONE */
	case 2: return f->scratch + 3 * pg;		/* unmapped */
	case 3: return f->scratch + 2 * pg - want / 2;	/* straddles */
	case 4: return (void *)0xffffffff81000000ULL;	/* kernel */
	case 5: return (void *)(uintptr_t)rnd(f);
	case 6: return (void *)(uintptr_t)(rnd(f) & 0xfff);
	default: return f->scratch + pick(f, (int)pg);
	}
}

static unsigned int rand_cmd(struct fuzzer *f)
{
	static const unsigned int valid[] = {
		UMMUNOTIFY_EXCHANGE_FEATURES, UMMUNOTIFY_REGISTER_REGION,
		UMMUNOTIFY_UNREGISTER_REGION,
	};

	switch (pick(f, 6)) {
	case 0: return (unsigned int)rnd(f);
	case 1: return _IOC(pick(f, 4), 'U', pick(f, 8), pick(f, 64));
	case 2: return valid[pick(f, 3)] ^ (1u << pick(f, 32));
	default: return valid[pick(f, 3)];
	}
}

static void fill_scratch(struct fuzzer *f, void *p, unsigned int cmd)
{
	if ((char *)p < f->scratch || (char *)p >= f->scratch + 2 * pg - 64)
		return;
	if (cmd == UMMUNOTIFY_REGISTER_REGION && pick(f, 4)) {
		struct ummunotify_register_ioctl r = {
			.start = rand_addr(f),
			.user_cookie = pick(f, 10) ? rnd(f) & 1023 : rnd(f),
			.flags = pick(f, 2) ? UMMUNOTIFY_REGISTER_ONESHOT :
				 pick(f, 8) ? 0 : (__u32)rnd(f),
			.reserved = pick(f, 8) ? 0 : (__u32)rnd(f),
		};
		r.end = pick(f, 8) ? r.start + 1 + rnd(f) % (8 * pg) : rand_addr(f);
		memcpy(p, &r, sizeof(r));
	} else if (cmd == UMMUNOTIFY_UNREGISTER_REGION && pick(f, 2)) {
		__u64 c = rnd(f) & 1023;

		memcpy(p, &c, sizeof(c));
	} else {
		for (int i = 0; i < 64; i += 8) {
			__u64 v = rnd(f);

			memcpy((char *)p + i, &v, 8);
		}
	}
}

static void count(long r)
{
	if (r < 0)
		atomic_fetch_add_explicit(&n_err, 1, memory_order_relaxed);
	else
		atomic_fetch_add_explicit(&n_ok, 1, memory_order_relaxed);
}

static void one_op(struct fuzzer *f)
{
	int slot = pick(f, NSLOTS);
	int fd = atomic_load(&slots[slot]);
	int op = pick(f, 100);

	if (op < 80) {
		unsigned int cmd = rand_cmd(f);
		void *arg = rand_ptr(f, 32);

		fill_scratch(f, arg, cmd);
		count(syscall(SYS_ioctl, fd, cmd, arg));
		atomic_fetch_add_explicit(&ioctls_done, 1, memory_order_relaxed);
	} else if (op < 87) {
		static const size_t sizes[] = { 0, 1, 31, 32, 33, 64, 4096, 8192, 1 << 20 };
		size_t n = sizes[pick(f, 9)];

		count(syscall(SYS_read, fd, rand_ptr(f, n), n));
	} else if (op < 89) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		count(poll(&p, 1, 0));
	} else if (op < 91) {
		static const int prots[] = { PROT_READ, PROT_READ | PROT_WRITE, PROT_NONE, PROT_EXEC };
		size_t len = (size_t)pick(f, 3) * pg + (pick(f, 4) ? 0 : 1);
		void *m = mmap(NULL, len, prots[pick(f, 4)],
			       pick(f, 2) ? MAP_SHARED : MAP_PRIVATE, fd,
			       (off_t)(pick(f, 4) ? 0 : pg * pick(f, 3)));

		count(m == MAP_FAILED ? -1 : 0);
		if (m != MAP_FAILED)
			munmap(m, len);
	} else if (op < 98) {
		/* Address-space churn: fires the notifiers. */
		size_t at = (size_t)pick(f, ARENA_PAGES - 4) * pg;
		size_t len = (size_t)(1 + pick(f, 4)) * pg;

		switch (pick(f, 4)) {
		case 0: count(munmap(arena + at, len)); break;
		case 1: count(madvise(arena + at, len, MADV_DONTNEED)); break;
		case 2: count(mprotect(arena + at, len, pick(f, 2) ? PROT_READ : PROT_READ | PROT_WRITE)); break;
		default:
			count(mmap(arena + at, len, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED ? -1 : 0);
			/* Populate without touching: another thread may unmap it. */
			if (pick(f, 2))
				madvise(arena + at, len, 23 /* MADV_POPULATE_WRITE */);
		}
	} else if (op == 98 && pick(f, 64) == 0) {
		/*
		 * A forked child pokes the inherited files: EIO with OWNER_ONLY,
		 * else it acts on our address space from another mm.
		 */
		pid_t pid = fork();

		if (pid == 0) {
			for (int i = 0; i < 32; i++) {
				int cfd = atomic_load(&slots[pick(f, NSLOTS)]);
				unsigned int cmd = rand_cmd(f);
				void *arg = rand_ptr(f, 32);
				struct pollfd p = { .fd = cfd, .events = POLLIN };

				fill_scratch(f, arg, cmd);
				syscall(SYS_ioctl, cfd, cmd, arg);
				syscall(SYS_read, cfd, rand_ptr(f, 64), 64);
				poll(&p, 1, 0);
			}
			_exit(0);
		}
		count(pid);
		if (pid > 0)
			waitpid(pid, NULL, 0);
	} else {
		/* Close under the other threads' feet, then reopen. */
		int nfd = open_slot_fd(f);
		int old = atomic_exchange(&slots[slot], nfd);

		if (old >= 0)
			close(old);
	}
}

static void *fuzz_thread(void *arg)
{
	struct fuzzer *f = arg;

	while (atomic_load_explicit(&ioctls_done, memory_order_relaxed) < ioctls_target)
		one_op(f);
	return NULL;
}

/*
 * The fuzz itself: threads hammer the shared files until @calls ioctls ran,
 * then every file is closed.
 */
static void fuzz_run(long calls, long nthreads, unsigned long long seed)
{
	struct fuzzer fz[16];
	pthread_t th[16];
	struct timespec t0, t1;
	double secs;
	int i;

	pg = pgsz();
	ioctls_target = calls;
	REQUIRE(nthreads >= 1 && nthreads <= 16);
	signal(SIGIO, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);

	arena = mmap(NULL, ARENA_PAGES * pg, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(arena != MAP_FAILED);
	for (i = 0; i < (int)nthreads; i++) {
		fz[i].rng = seed * 0x9e3779b97f4a7c15ULL + (unsigned long long)i + 1;
		fz[i].scratch = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE,
				     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		REQUIRE(fz[i].scratch != MAP_FAILED);
		REQUIRE(mprotect(fz[i].scratch + 2 * pg, pg, PROT_NONE) == 0);
		REQUIRE(munmap(fz[i].scratch + 3 * pg, pg) == 0);
	}
	for (i = 0; i < NSLOTS; i++)
		atomic_store(&slots[i], open_slot_fd(&fz[0]));

	fprintf(stderr, "  fuzz: %ld ioctls, %ld threads, seed %llu, uid %u\n",
		ioctls_target, nthreads, seed, (unsigned)getuid());
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < (int)nthreads; i++)
		REQUIRE(pthread_create(&th[i], NULL, fuzz_thread, &fz[i]) == 0);
	for (i = 0; i < (int)nthreads; i++)
		pthread_join(th[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	fprintf(stderr, "  fuzz: %ld ioctls in %.1fs (%.0f/s); calls ok %ld, failed %ld\n",
		atomic_load(&ioctls_done), secs, atomic_load(&ioctls_done) / secs,
		atomic_load(&n_ok), atomic_load(&n_err));
	CHECK(atomic_load(&ioctls_done) >= ioctls_target);
	CHECK(atomic_load(&n_ok) > 0);

	for (i = 0; i < NSLOTS; i++)
		if (slots[i] >= 0)
			close(slots[i]);
}

/*
 * The same fuzz as an unprivileged user (nobody), a quarter of the calls:
 * what any local user can do to the device. Afterwards nothing is left.
 */
TEST(fuzz_as_nobody)
{
	long calls = env_long("UMN_FUZZ_CALLS", 1000000) / 4;
	long nthreads = env_long("UMN_FUZZ_THREADS", 4);
	unsigned long long seed = (unsigned long long)env_long("UMN_FUZZ_SEED", (long)time(NULL));
	long long live0 = umn_param("registrations");
	int st;
	pid_t pid;

	CHECK_MSG(live0 >= 0, "module parameter 'registrations' unreadable");
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			CANNOT_RUN("cannot become nobody (not root?)");
		fuzz_run(calls, nthreads, seed + 1);
		exit(tf_failures ? 1 : 0);
	}
	REQUIRE(waitpid(pid, &st, 0) == pid);
	CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "fuzz as nobody failed (status %#x)", st);
	CHECK_EQ(umn_param("registrations"), live0);
}

TEST(fuzz_then_unload)
{
	long nthreads = env_long("UMN_FUZZ_THREADS", 4);
	unsigned long long seed = (unsigned long long)env_long("UMN_FUZZ_SEED", (long)time(NULL));
	const char *ko = getenv("UMMUNOTIFY_KO");
	long long slab0, slab1, live0;
	int i, fd;

	fd = umn_open(0, 0);	/* fails if the device is missing */
	close(fd);
	live0 = umn_param("registrations");
	drop_caches();
	slab0 = meminfo_kb("SUnreclaim");

	fuzz_run(env_long("UMN_FUZZ_CALLS", 1000000), nthreads, seed);

	/* Every registration died with its file. */
	CHECK_MSG(live0 >= 0, "module parameter 'registrations' unreadable");
	CHECK_EQ(umn_param("registrations"), live0);

	if (!ko || !*ko)
		CANNOT_RUN("UMMUNOTIFY_KO unset: cannot check unload and slab");
	if (geteuid() != 0)
		CANNOT_RUN("not root: cannot unload the module");
	/* Let deferred frees (RCU, delayed fput) finish. */
	usleep(500 * 1000);
	CHECK_OK(syscall(SYS_delete_module, "ummunotify", O_NONBLOCK));
	usleep(500 * 1000);
	drop_caches();
	slab1 = meminfo_kb("SUnreclaim");
	fprintf(stderr, "  slab: SUnreclaim %lld kB before, %lld kB after unload (%+lld kB)\n",
		slab0, slab1, slab1 - slab0);
	CHECK_MSG(slab1 - slab0 < 4096, "SUnreclaim grew by %lld kB", slab1 - slab0);

	int kfd = open(ko, O_RDONLY | O_CLOEXEC);

	REQUIRE(kfd >= 0);
	CHECK_OK(syscall(SYS_finit_module, kfd, "", 0));
	close(kfd);
	for (i = 0; i < 100; i++) {	/* devtmpfs creates the node */
		struct stat st;

		if (stat(UMMUNOTIFY_DEVICE, &st) == 0)
			break;
		usleep(20 * 1000);
	}
	fd = open(UMMUNOTIFY_DEVICE, O_RDONLY);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	CHECK_EQ(umn_param("registrations"), 0);
}

TF_MAIN(TF_CASE(fuzz_as_nobody), TF_CASE(fuzz_then_unload))
