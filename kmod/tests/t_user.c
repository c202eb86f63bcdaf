// SPDX-License-Identifier: GPL-2.0
/*
 * The per-user limit (max_user_registrations): the registrations of all
 * files one user opened count together, stop at the limit with ENOSPC
 * (LIMIT) or ENOMEM (V2), leave other users alone, and are given back on
 * unregister, close and process exit. Run as root: each case drops to
 * unprivileged users (nobody 65534, and 65533) in forked children.
 *
 *   UMN_USER_SLAB_REGS  registrations for the slab measurement (default 200000)
 */
#include "umn_test.h"

#include <grp.h>
#include <sys/wait.h>

#define NOBODY 65534
#define OTHER 65533
#define NFILES 4

static void become(uid_t uid)
{
	if (setgroups(0, NULL) || setgid(uid) || setuid(uid))
		CANNOT_RUN("cannot become uid %u (not root?)", (unsigned)uid);
}

/* The count the module shows for @uid in user_registrations; -1: no line. */
static long user_count(uid_t uid)
{
	FILE *f = fopen("/sys/module/ummunotify/parameters/user_registrations", "r");
	unsigned u;
	long n, found = -1;

	if (!f)
		return -2;
	while (fscanf(f, "%u %ld", &u, &n) == 2)
		if (u == uid)
			found = n;
	fclose(f);
	return found;
}

/* Runs @fn(arg) in a child as @uid; returns its exit status (0: passed). */
static int as_user(uid_t uid, int (*fn)(void *), void *arg)
{
	pid_t pid = fork();
	int st;

	REQUIRE(pid >= 0);
	if (pid == 0) {
		become(uid);
		exit(fn(arg) || tf_failures ? 1 : 0);
	}
	REQUIRE(waitpid(pid, &st, 0) == pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

struct limit_case {
	long limit;
	int ready[2];	/* child -> parent: holding its registrations */
	int done[2];	/* parent -> child: let go */
};

/*
 * As nobody: registers on NFILES files round robin until the limit, checks
 * the errno on both kinds of file, then holds them until told.
 */
static int fill_to_limit(void *arg)
{
	struct limit_case *lc = arg;
	size_t pg = pgsz();
	char *p = map_anon(pg, 1);
	int fd[NFILES], v2, i;
	long ok = 0;
	__u64 cookie = 1;
	char c;

	for (i = 0; i < NFILES; i++)
		fd[i] = umn_open(0, UMMUNOTIFY_FEATURE_LIMIT | UMMUNOTIFY_FEATURE_FDINFO);
	for (;;) {
		if (umn_reg(fd[cookie % NFILES], p, pg, cookie) < 0)
			break;
		ok++;
		cookie++;
	}
	CHECK_EQ(errno, ENOSPC);
	CHECK_EQ(ok, lc->limit);
	for (i = 0; i < NFILES; i++) {
		CHECK_EQ(fdinfo_get(fd[i], "ummunotify-user-registrations"), lc->limit);
		CHECK_EQ(fdinfo_get(fd[i], "ummunotify-user-limit"), lc->limit);
	}
	/* A V2 file of the same user: the V2 errno. */
	v2 = umn_open(0, 0);
	CHECK_ERR(umn_reg(v2, p, pg, 1), ENOMEM);
	/* Unregistering one makes room for exactly one. */
	cookie--;
	CHECK_OK(umn_unreg(fd[cookie % NFILES], cookie));
	CHECK_OK(umn_reg(v2, p, pg, 1));
	CHECK_ERR(umn_reg(v2, p, pg, 2), ENOMEM);
	close(v2);
	CHECK_EQ(fdinfo_get(fd[0], "ummunotify-user-registrations"), lc->limit - 1);
	/* Closing two files gives their registrations back. */
	close(fd[0]);
	close(fd[1]);
	CHECK_EQ(fdinfo_get(fd[2], "ummunotify-user-registrations"), 2 * (lc->limit / NFILES));
	REQUIRE(write(lc->ready[1], "r", 1) == 1);
	REQUIRE(read(lc->done[0], &c, 1) == 1);
	return 0;	/* exits holding fd[2], fd[3]: exit gives them back */
}

static int other_user_unaffected(void *arg)
{
	size_t pg = pgsz();
	char *p = map_anon(pg, 1);
	int fd = umn_open(0, UMMUNOTIFY_FEATURE_LIMIT);
	long i;

	(void)arg;
	for (i = 0; i < 1000; i++)
		CHECK_OK(umn_reg(fd, p, pg, (__u64)i));
	close(fd);
	return 0;
}

TEST(limit_across_files_per_user)
{
	long long saved = umn_param("max_user_registrations");
	struct limit_case lc = { .limit = 4000 };
	pid_t pid;
	int st;
	char c;

	REQUIRE(saved > 0);
	REQUIRE(pipe(lc.ready) == 0 && pipe(lc.done) == 0);
	REQUIRE(umn_param_set("max_user_registrations", lc.limit) == 0);
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		become(NOBODY);
		exit(fill_to_limit(&lc) || tf_failures ? 1 : 0);
	}
	REQUIRE(read(lc.ready[0], &c, 1) == 1);
	/* nobody is at its limit (less what it gave back); another user is not. */
	CHECK_EQ(user_count(NOBODY), 2 * (lc.limit / NFILES));
	CHECK_EQ(as_user(OTHER, other_user_unaffected, NULL), 0);
	CHECK_EQ(user_count(OTHER), -1);	/* its files are gone: no line */
	REQUIRE(write(lc.done[1], "d", 1) == 1);
	REQUIRE(waitpid(pid, &st, 0) == pid);
	CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "nobody's side failed (status %#x)", st);
	/* Process exit closed the rest: nothing left for nobody. */
	CHECK_EQ(user_count(NOBODY), -1);
	CHECK_EQ(umn_param("registrations"), 0);
	umn_param_set("max_user_registrations", saved);
}

/* Tries @n registrations on 8 files, then stops itself holding them. */
static void register_n(long n)
{
	long i, done = 0;
	size_t pg = pgsz();
	char *p = map_anon(pg, 1);
	int fd[8];

	for (i = 0; i < 8; i++)
		fd[i] = umn_open(0, UMMUNOTIFY_FEATURE_LIMIT);
	for (i = 0; i < n; i++)
		if (umn_reg(fd[i % 8], p, pg, (__u64)i) == 0)
			done++;
	/* The parent counts and measures while we hold them. */
	kill(getpid(), SIGSTOP);
}

/*
 * Slab grows by a bounded amount per registration, and no further once a
 * user hits the limit: nobody registers twice the limit's worth, only the
 * limit sticks. Prints the growth per registration.
 */
TEST(slab_growth_bounded)
{
	long long saved = umn_param("max_user_registrations");
	long n = env_long("UMN_USER_SLAB_REGS", 200000), want = 2 * n;
	long long slab0, slab1;
	pid_t pid;
	int st;

	REQUIRE(saved > 0);
	REQUIRE(umn_param_set("max_user_registrations", n) == 0);
	drop_caches();
	slab0 = meminfo_kb("SUnreclaim");
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		become(NOBODY);
		/* Asks for twice the limit: half must fail. */
		register_n(want);
		exit(0);
	}
	REQUIRE(waitpid(pid, &st, WUNTRACED) == pid);
	CHECK(WIFSTOPPED(st));
	CHECK_EQ(user_count(NOBODY), n);
	slab1 = meminfo_kb("SUnreclaim");
	printf("  slab: %ld registrations held by nobody: SUnreclaim %+lld kB, %.0f bytes each\n",
	       n, slab1 - slab0, (slab1 - slab0) * 1024.0 / n);
	/* Bounded: the objects of n registrations plus slack, not of 2n. */
	CHECK_MSG((slab1 - slab0) * 1024 < (long long)n * 256,
		  "SUnreclaim grew %lld kB for %ld registrations", slab1 - slab0, n);
	kill(pid, SIGKILL);
	REQUIRE(waitpid(pid, &st, 0) == pid);
	CHECK_EQ(user_count(NOBODY), -1);
	umn_param_set("max_user_registrations", saved);
}

/* The default is 1% of RAM in registrations, at least 65536. */
TEST(default_limit_sized_to_memory)
{
	long long lim = umn_param("max_user_registrations");
	long long ram_kb = meminfo_kb("MemTotal");

	printf("  max_user_registrations %lld on %lld MiB of RAM\n", lim, ram_kb / 1024);
	CHECK(lim >= 65536);
	/* 1% of RAM divided by an object of at least 64 bytes. */
	CHECK(lim <= (ram_kb * 1024 / 100) / 64 || lim == 65536);
}

TF_MAIN(TF_CASE(default_limit_sized_to_memory), TF_CASE(limit_across_files_per_user),
	TF_CASE(slab_growth_bounded))
