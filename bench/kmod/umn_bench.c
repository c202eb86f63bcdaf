// SPDX-License-Identifier: GPL-2.0
/*
 * ummunotify kernel benchmark (run inside the test VM).
 *
 * An mmap + touch + munmap loop (UMN_BENCH_PAGES pages per iteration) runs
 * in three sibling processes forked from one clean parent, all pinned to the
 * same CPU, in interleaved rounds (best round of each is kept):
 *   A: 0 registrations (no ummunotify file at all);
 *   C: 1 registration (the notifier machinery on, a one-node tree);
 *   B: UMN_BENCH_REGS (100000) registrations elsewhere in the address space,
 *      none of them hit by the loop.
 * Reported: B/A (the target: <= 1.5x) and B/C (what the number of
 * registrations itself costs). B also times REGISTER while filling, and
 * REGISTER and UNREGISTER of UMN_BENCH_EXTRA more with all of them live.
 * Two more siblings time what a registration cache pays per reallocated
 * one-page buffer (mmap, touch, REGISTER, munmap, read the report):
 *   D: with UNREGISTER after the report (V2);
 *   E: UMMUNOTIFY_REGISTER_ONESHOT, no UNREGISTER.
 * E/D is the same-run ratio of UMMUNOTIFY_FEATURE_ONESHOT.
 * Siblings rather than "before/after" in one process: on an emulated
 * machine a process's speed drifts with its history and the host's load,
 * which showed up as bogus ratios.
 *
 * Prints human text and one JSON line (the line starting with '{').
 *
 *   UMN_BENCH_REGS (100000)  UMN_BENCH_ITERS (4000)  UMN_BENCH_ROUNDS (15)
 *   UMN_BENCH_PAGES (4)  UMN_BENCH_EXTRA (10000)
 *   UMN_BENCH_CPU (0: the CPU all loops are pinned to; -1: no pinning)
 *   UMN_BENCH_CYCLE_ITERS (UMN_BENCH_ITERS: iterations of D and E per round)
 *
 * Build: make -C kmod/tests OUT=<dir>   (produces <dir>/umn_bench)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ummunotify.h"

static size_t pg;
static long iters, extra, cycle_iters;
static size_t pages;
static char *far;		/* reserved PROT_NONE area for the registrations */

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static long env_long(const char *name, long dflt)
{
	const char *s = getenv(name);

	return s && *s ? strtol(s, NULL, 0) : dflt;
}

static void die(const char *what)
{
	fprintf(stderr, "umn_bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* ns per iteration of one round. */
static double loop_ns(long n)
{
	double t0 = now_ns();

	for (long i = 0; i < n; i++) {
		char *p = mmap(NULL, pages * pg, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			die("mmap");
		for (size_t k = 0; k < pages; k++)
			p[k * pg] = (char)k;
		if (munmap(p, pages * pg))
			die("munmap");
	}
	return (now_ns() - t0) / n;
}

static int reg_flags(int fd, uintptr_t start, size_t len, __u64 cookie, __u32 flags)
{
	struct ummunotify_register_ioctl r = {
		.start = start, .end = start + len, .user_cookie = cookie,
		.flags = flags,
	};

	return ioctl(fd, UMMUNOTIFY_REGISTER_REGION, &r);
}

static int reg(int fd, uintptr_t start, size_t len, __u64 cookie)
{
	return reg_flags(fd, start, len, cookie, 0);
}

static int unreg(int fd, __u64 cookie)
{
	return ioctl(fd, UMMUNOTIFY_UNREGISTER_REGION, &cookie);
}

/*
 * ns per reallocated buffer, as a registration cache sees it: mmap + touch
 * one page, REGISTER it, munmap, read() its report and the LAST, and (V2)
 * UNREGISTER the cookie; with @oneshot the registration is made ONESHOT
 * and no UNREGISTER follows (the kernel removed it as it reported it).
 */
static double cycle_ns(int fd, int oneshot, long n)
{
	struct ummunotify_event ev[4];
	double t0 = now_ns();
	static __u64 cookie;

	for (long i = 0; i < n; i++) {
		char *p = mmap(NULL, pg, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		ssize_t got;

		if (p == MAP_FAILED)
			die("mmap");
		p[0] = 1;
		if (reg_flags(fd, (uintptr_t)p, pg, ++cookie,
			      oneshot ? UMMUNOTIFY_REGISTER_ONESHOT : 0))
			die("REGISTER (cycle)");
		if (munmap(p, pg))
			die("munmap");
		got = read(fd, ev, sizeof(ev));
		if (got != 2 * (ssize_t)sizeof(ev[0]) || ev[0].user_cookie_counter != cookie ||
		    ev[1].type != UMMUNOTIFY_EVENT_TYPE_LAST) {
			errno = EPROTO;
			die("read (cycle): not one report and a LAST");
		}
		if (!oneshot && unreg(fd, cookie))
			die("UNREGISTER (cycle)");
	}
	return (now_ns() - t0) / n;
}

/* What a helper reports after setting up. */
struct setup {
	double fill_ns, reg_ns, unreg_ns;
};

struct helper {
	int cmd, res;
	pid_t pid;
};

/*
 * Registers @n regions (0: no file at all), then runs a round per 'g'.
 * n == CYCLE_V2 / CYCLE_ONESHOT: a file of its own, and the rounds time
 * cycle_ns() instead of the mmap loop.
 */
#define CYCLE_V2 (-1)
#define CYCLE_ONESHOT (-2)

static void helper_main(long n, int cmd, int res)
{
	__u32 feat = UMMUNOTIFY_FEATURE_MAPPING_ONLY | UMMUNOTIFY_FEATURE_STRICT;
	struct setup s = { 0 };
	int fd = -1;
	double t0;
	char b;

	if (n < 0) {
		__u32 want = feat | (n == CYCLE_ONESHOT ? UMMUNOTIFY_FEATURE_ONESHOT : 0);

		fd = open(UMMUNOTIFY_DEVICE, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
		if (fd < 0)
			die("open " UMMUNOTIFY_DEVICE);
		feat = want;
		if (ioctl(fd, UMMUNOTIFY_EXCHANGE_FEATURES, &feat))
			die("EXCHANGE_FEATURES");
		if (feat != want) {
			errno = EOPNOTSUPP;
			die("EXCHANGE_FEATURES: ONESHOT not granted");
		}
		cycle_ns(fd, n == CYCLE_ONESHOT, cycle_iters / 4 + 1);	/* warm up */
		if (write(res, &s, sizeof(s)) != sizeof(s))
			_exit(1);
		while (read(cmd, &b, 1) == 1 && b == 'g') {
			double ns = cycle_ns(fd, n == CYCLE_ONESHOT, cycle_iters);

			if (write(res, &ns, sizeof(ns)) != sizeof(ns))
				_exit(1);
		}
		close(fd);
		_exit(0);
	}
	if (n > 0) {
		fd = open(UMMUNOTIFY_DEVICE, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			die("open " UMMUNOTIFY_DEVICE);
		if (ioctl(fd, UMMUNOTIFY_EXCHANGE_FEATURES, &feat))
			die("EXCHANGE_FEATURES");
		t0 = now_ns();
		for (long i = 0; i < n; i++)
			if (reg(fd, (uintptr_t)far + (size_t)i * pg, pg, (__u64)i))
				die("REGISTER");
		s.fill_ns = (now_ns() - t0) / n;
		if (n > 1 && extra > 0) {
			t0 = now_ns();
			for (long i = 0; i < extra; i++)
				if (reg(fd, (uintptr_t)far + (size_t)(n + i) * pg, pg, (__u64)(n + i)))
					die("REGISTER extra");
			s.reg_ns = (now_ns() - t0) / extra;
			t0 = now_ns();
			for (long i = 0; i < extra; i++)
				if (unreg(fd, (__u64)(n + i)))
					die("UNREGISTER extra");
			s.unreg_ns = (now_ns() - t0) / extra;
		}
	}
	loop_ns(iters / 4 + 1);		/* warm up */
	if (write(res, &s, sizeof(s)) != sizeof(s))
		_exit(1);
	while (read(cmd, &b, 1) == 1 && b == 'g') {
		double ns = loop_ns(iters);

		if (write(res, &ns, sizeof(ns)) != sizeof(ns))
			_exit(1);
	}
	if (fd >= 0)
		close(fd);
	_exit(0);
}

static struct helper start_helper(long n)
{
	int c[2], r[2];
	struct helper h;

	if (pipe(c) || pipe(r))
		die("pipe");
	h.pid = fork();
	if (h.pid < 0)
		die("fork");
	if (h.pid == 0) {
		close(c[1]);
		close(r[0]);
		helper_main(n, c[0], r[1]);
	}
	close(c[0]);
	close(r[1]);
	h.cmd = c[1];
	h.res = r[0];
	return h;
}

static struct setup helper_setup(struct helper *h)
{
	struct setup s;

	if (read(h->res, &s, sizeof(s)) != sizeof(s))
		die("helper setup");
	return s;
}

static double helper_round(struct helper *h)
{
	double ns;

	if (write(h->cmd, "g", 1) != 1 || read(h->res, &ns, sizeof(ns)) != sizeof(ns))
		die("helper round");
	return ns;
}

static void helper_stop(struct helper *h)
{
	/* Not just EOF: the other helpers hold copies of this pipe. */
	if (write(h->cmd, "q", 1) != 1)
		die("helper stop");
	close(h->cmd);
	close(h->res);
	waitpid(h->pid, NULL, 0);
}

int main(void)
{
	long nregs = env_long("UMN_BENCH_REGS", 100000);
	long rounds = env_long("UMN_BENCH_ROUNDS", 15);
	long cpu = env_long("UMN_BENCH_CPU", 0);
	double a = 1e30, b = 1e30, c = 1e30, d = 1e30, e = 1e30;
	struct helper ha, hb, hc, hd, he;
	struct setup sb, sc;
	struct utsname u;

	iters = env_long("UMN_BENCH_ITERS", 4000);
	extra = env_long("UMN_BENCH_EXTRA", 10000);
	cycle_iters = env_long("UMN_BENCH_CYCLE_ITERS", iters);
	pages = (size_t)env_long("UMN_BENCH_PAGES", 4);
	pg = (size_t)sysconf(_SC_PAGESIZE);
	uname(&u);
	if (nregs < 1 || iters < 1 || rounds < 1 || pages < 1 || cycle_iters < 1) {
		fprintf(stderr, "umn_bench: bad sizes\n");
		return 2;
	}
	if (cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set))
			die("sched_setaffinity");
	}
	/* Inherited by all helpers: the same layout everywhere. */
	far = mmap(NULL, (size_t)(nregs + extra) * pg, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (far == MAP_FAILED)
		die("mmap reserve");

	ha = start_helper(0);
	hc = start_helper(1);
	hb = start_helper(nregs);
	hd = start_helper(CYCLE_V2);
	he = start_helper(CYCLE_ONESHOT);
	helper_setup(&ha);
	sc = helper_setup(&hc);
	sb = helper_setup(&hb);
	helper_setup(&hd);
	helper_setup(&he);
	(void)sc;

	for (long r = 0; r < rounds; r++) {
		double x;

		/* Rotate the order so no helper always runs right after another. */
		for (int k = 0; k < 5; k++) {
			switch ((r + k) % 5) {
			case 3:
				x = helper_round(&hd);
				if (x < d)
					d = x;
				break;
			case 4:
				x = helper_round(&he);
				if (x < e)
					e = x;
				break;
			case 0:
				x = helper_round(&ha);
				if (x < a)
					a = x;
				break;
			case 1:
				x = helper_round(&hc);
				if (x < c)
					c = x;
				break;
			default:
				x = helper_round(&hb);
				if (x < b)
					b = x;
			}
		}
	}
	helper_stop(&ha);
	helper_stop(&hb);
	helper_stop(&hc);
	helper_stop(&hd);
	helper_stop(&he);

	printf("ummunotify bench on %s: mmap+touch(%zu pages)+munmap, best of %ld rounds x %ld, cpu %ld\n",
	       u.release, pages, rounds, iters, cpu);
	printf("  A: 0 registrations (no file):   %10.0f ns/iter\n", a);
	printf("  C: 1 registration:              %10.0f ns/iter  C/A %.3fx\n", c, c / a);
	printf("  B: %ld registrations elsewhere: %10.0f ns/iter  B/A %.3fx (target <= 1.5x), B/C %.3fx\n",
	       nregs, b, b / a, b / c);
	printf("  REGISTER while filling to %ld: %.0f ns; at %ld live: REGISTER %.0f ns, UNREGISTER %.0f ns\n",
	       nregs, sb.fill_ns, nregs, sb.reg_ns, sb.unreg_ns);
	printf("  reallocated buffer (mmap+touch 1 page, REGISTER, munmap, read report):\n"
	       "    D: + UNREGISTER (V2):        %10.0f ns/iter\n"
	       "    E: ONESHOT, no UNREGISTER:   %10.0f ns/iter  E/D %.3fx\n", d, e, e / d);
	printf("{\"bench\":\"ummunotify-kmod\",\"kernel\":\"%s\",\"regs\":%ld,\"pages\":%zu,"
	       "\"iters\":%ld,\"rounds\":%ld,\"loop_ns_0\":%.0f,\"loop_ns_1\":%.0f,"
	       "\"loop_ns_regs\":%.0f,\"ratio\":%.4f,\"ratio_vs_1\":%.4f,"
	       "\"register_fill_ns\":%.0f,\"register_ns\":%.0f,\"unregister_ns\":%.0f,"
	       "\"cycle_iters\":%ld,\"cycle_ns_v2\":%.0f,\"cycle_ns_oneshot\":%.0f,"
	       "\"cycle_ratio\":%.4f}\n",
	       u.release, nregs, pages, iters, rounds, a, c, b, b / a, b / c,
	       sb.fill_ns, sb.reg_ns, sb.unreg_ns, cycle_iters, d, e, e / d);
	return 0;
}
