// SPDX-License-Identifier: GPL-2.0
/*
 * ummunotify kernel benchmark (run inside the test VM):
 *   - an mmap + touch + munmap loop with 0 registrations and the same loop
 *     with UMN_BENCH_REGS (100000) registrations elsewhere in the address
 *     space (none is hit), in the same run: the ratio (target <= 1.5x).
 *     The 0-registration loop runs in a forked helper process (its own mm,
 *     never registered) in rounds interleaved with the loaded loop, so slow
 *     drifts of an emulated machine hit both alike; best round of each.
 *     The parent's own loop before it registers anything is shown too;
 *   - REGISTER and UNREGISTER cost with that many registrations live.
 * Prints human text and one JSON line (starts with '{').
 *
 *   UMN_BENCH_REGS (100000)  UMN_BENCH_ITERS (4000)  UMN_BENCH_ROUNDS (15)
 *   UMN_BENCH_PAGES (4, pages per mmap)  UMN_BENCH_EXTRA (10000)
 *   UMN_BENCH_CPU (0: CPU both loops are pinned to; -1: no pinning)
 *
 * Build: make -C kmod/tests OUT=<dir>   (produces <dir>/umn_bench)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
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

/* Best (lowest) ns per iteration over @rounds rounds of @iters. */
static double loop_ns(long iters, long rounds, size_t pages)
{
	double best = 1e30;

	for (long r = 0; r < rounds; r++) {
		double t0 = now_ns();

		for (long i = 0; i < iters; i++) {
			char *p = mmap(NULL, pages * pg, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

			if (p == MAP_FAILED)
				die("mmap");
			for (size_t k = 0; k < pages; k++)
				p[k * pg] = (char)k;
			if (munmap(p, pages * pg))
				die("munmap");
		}
		double ns = (now_ns() - t0) / iters;

		if (ns < best)
			best = ns;
	}
	return best;
}

/* The helper: runs one round per command byte, answers with the ns/iter. */
struct helper {
	int cmd, res;
	pid_t pid;
};

static struct helper start_helper(long iters, size_t pages, int close_fd)
{
	int c[2], r[2];
	struct helper h;

	if (pipe(c) || pipe(r))
		die("pipe");
	h.pid = fork();
	if (h.pid < 0)
		die("fork");
	if (h.pid == 0) {
		char b;

		close(close_fd);
		close(c[1]);
		close(r[0]);
		while (read(c[0], &b, 1) == 1 && b == 'g') {
			double ns = loop_ns(iters, 1, pages);

			if (write(r[1], &ns, sizeof(ns)) != sizeof(ns))
				_exit(1);
		}
		_exit(0);
	}
	close(c[0]);
	close(r[1]);
	h.cmd = c[1];
	h.res = r[0];
	return h;
}

static double helper_round(struct helper *h)
{
	double ns;

	if (write(h->cmd, "g", 1) != 1 || read(h->res, &ns, sizeof(ns)) != sizeof(ns))
		die("helper");
	return ns;
}

static int reg(int fd, uintptr_t start, size_t len, __u64 cookie)
{
	struct ummunotify_register_ioctl r = {
		.start = start, .end = start + len, .user_cookie = cookie,
	};

	return ioctl(fd, UMMUNOTIFY_REGISTER_REGION, &r);
}

static int unreg(int fd, __u64 cookie)
{
	return ioctl(fd, UMMUNOTIFY_UNREGISTER_REGION, &cookie);
}

int main(void)
{
	long nregs = env_long("UMN_BENCH_REGS", 100000);
	long iters = env_long("UMN_BENCH_ITERS", 4000);
	long rounds = env_long("UMN_BENCH_ROUNDS", 15);
	long extra = env_long("UMN_BENCH_EXTRA", 10000);
	size_t pages = (size_t)env_long("UMN_BENCH_PAGES", 4);
	long cpu = env_long("UMN_BENCH_CPU", 0);
	__u32 feat = UMMUNOTIFY_FEATURE_MAPPING_ONLY | UMMUNOTIFY_FEATURE_STRICT;
	struct utsname u;
	double base, base_self, base_empty, loaded = 1e30, t0, fill_ns, reg_ns, unreg_ns;
	struct helper h;
	char *far;
	int fd;

	pg = (size_t)sysconf(_SC_PAGESIZE);
	uname(&u);
	if (cpu >= 0) {
		/*
		 * The helper and this process on one CPU: on an emulated machine
		 * the vCPUs can run at very different speeds (host contention),
		 * which would show up as a bogus ratio.
		 */
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set))
			die("sched_setaffinity");
	}
	fd = open(UMMUNOTIFY_DEVICE, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die("open " UMMUNOTIFY_DEVICE);
	if (ioctl(fd, UMMUNOTIFY_EXCHANGE_FEATURES, &feat))
		die("EXCHANGE_FEATURES");

	/* Registrations live in a reserved PROT_NONE area the loop never touches. */
	far = mmap(NULL, (size_t)(nregs + extra) * pg, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (far == MAP_FAILED)
		die("mmap reserve");

	h = start_helper(iters, pages, fd);
	loop_ns(iters / 10 + 1, 1, pages);	/* warm up */
	helper_round(&h);
	base_self = loop_ns(iters, rounds, pages);

	t0 = now_ns();
	for (long i = 0; i < nregs; i++)
		if (reg(fd, (uintptr_t)far + (size_t)i * pg, pg, (__u64)i))
			die("REGISTER");
	fill_ns = (now_ns() - t0) / nregs;

	base = 1e30;
	for (long r = 0; r < rounds; r++) {
		double a = helper_round(&h), b = loop_ns(iters, 1, pages);

		if (a < base)
			base = a;
		if (b < loaded)
			loaded = b;
	}
	close(h.cmd);
	waitpid(h.pid, NULL, 0);

	/* REGISTER/UNREGISTER with nregs live. */
	t0 = now_ns();
	for (long i = 0; i < extra; i++)
		if (reg(fd, (uintptr_t)far + (size_t)(nregs + i) * pg, pg, (__u64)(nregs + i)))
			die("REGISTER extra");
	reg_ns = (now_ns() - t0) / extra;
	t0 = now_ns();
	for (long i = 0; i < extra; i++)
		if (unreg(fd, (__u64)(nregs + i)))
			die("UNREGISTER extra");
	unreg_ns = (now_ns() - t0) / extra;

	/* Tear down, then the loop again with the notifier machinery present but empty. */
	for (long i = 0; i < nregs; i++)
		if (unreg(fd, (__u64)i))
			die("UNREGISTER");
	base_empty = loop_ns(iters, rounds, pages);
	close(fd);

	printf("ummunotify bench on %s: mmap+touch(%zu pages)+munmap, best of %ld x %ld, cpu %ld\n",
	       u.release, pages, rounds, iters, cpu);
	printf("  0 registrations (helper process):  %10.0f ns/iter\n", base);
	printf("  0 registrations (this process):    %10.0f ns/iter (before registering)\n", base_self);
	printf("  %ld registrations elsewhere:     %10.0f ns/iter  ratio %.3fx (target <= 1.5x)\n",
	       nregs, loaded, loaded / base);
	printf("  0 registrations (after teardown):  %10.0f ns/iter  ratio %.3fx\n",
	       base_empty, loaded / base_empty);
	printf("  REGISTER while filling to %ld: %.0f ns; at %ld live: REGISTER %.0f ns, UNREGISTER %.0f ns\n",
	       nregs, fill_ns, nregs, reg_ns, unreg_ns);
	printf("{\"bench\":\"ummunotify-kmod\",\"kernel\":\"%s\",\"regs\":%ld,\"pages\":%zu,"
	       "\"iters\":%ld,\"rounds\":%ld,\"loop_ns_0\":%.0f,\"loop_ns_0_self\":%.0f,\"loop_ns_regs\":%.0f,"
	       "\"loop_ns_0_after\":%.0f,\"ratio\":%.4f,\"ratio_vs_after\":%.4f,"
	       "\"register_fill_ns\":%.0f,\"register_ns\":%.0f,\"unregister_ns\":%.0f}\n",
	       u.release, nregs, pages, iters, rounds, base, base_self, loaded, base_empty,
	       loaded / base, loaded / base_empty, fill_ns, reg_ns, unreg_ns);
	return 0;
}
