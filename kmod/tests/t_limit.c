// SPDX-License-Identifier: GPL-2.0
/*
 * The per-file registration limit (module parameter max_registrations):
 * ENOSPC with UMMUNOTIFY_FEATURE_LIMIT, ENOMEM without, and failed
 * registrations do not grow kernel memory. Needs root (writes the parameter).
 *   UMN_LIMIT (1000)  UMN_LIMIT_TRIES (100000)
 */
#include "umn_test.h"

static long long saved_limit = -1;

static void restore_limit(void)
{
	if (saved_limit >= 0)
		umn_param_set("max_registrations", saved_limit);
}

static void set_limit(long long v)
{
	long long cur = umn_param("max_registrations");

	if (cur < 0)
		CANNOT_RUN("no /sys/module/ummunotify/parameters/max_registrations");
	if (saved_limit < 0) {
		saved_limit = cur;
		atexit(restore_limit);
	}
	if (umn_param_set("max_registrations", v))
		CANNOT_RUN("cannot write max_registrations (not root?)");
	REQUIRE_EQ(umn_param("max_registrations"), v);
}

static void fill(int fd, char *p, long n)
{
	for (long i = 0; i < n; i++)
		REQUIRE(umn_reg(fd, p + (i % 64) * 4096, 4096, (__u64)i) == 0);
}

TEST(limit_enospc)
{
	long limit = env_long("UMN_LIMIT", 1000);
	char *p = map_anon(64 * pgsz(), 0);
	int fd, fd2;

	set_limit(limit);
	fd = umn_open(0, UMMUNOTIFY_FEATURE_LIMIT | UMMUNOTIFY_FEATURE_STRICT);
	fill(fd, p, limit);
	CHECK_EQ(fdinfo_get(fd, "ummunotify-registrations"), limit);
	CHECK_ERR(umn_reg(fd, p, 4096, 1u << 30), ENOSPC);
	/* The limit counts live registrations. */
	CHECK_OK(umn_unreg(fd, 0));
	CHECK_OK(umn_reg(fd, p, 4096, 1u << 30));
	CHECK_ERR(umn_reg(fd, p, 4096, 1u << 31), ENOSPC);

	/* Per file: another file has its own budget; V2 files get ENOMEM. */
	fd2 = umn_open(0, 0);
	fill(fd2, p, limit);
	CHECK_ERR(umn_reg(fd2, p, 4096, 1u << 30), ENOMEM);
	close(fd2);
	close(fd);
}

TEST(limit_memory_flat)
{
	long tries = env_long("UMN_LIMIT_TRIES", 100000);
	long long live0, live1, slab0, slab1;
	char *p = map_anon(64 * pgsz(), 0);
	int fd;

	set_limit(100);
	fd = umn_open(0, UMMUNOTIFY_FEATURE_LIMIT);
	fill(fd, p, 100);
	live0 = umn_param("registrations");
	CHECK(live0 >= 100);
	/* Warm up, then measure. */
	for (long i = 0; i < 1000; i++)
		umn_reg(fd, p, 4096, 1000000 + i);
	slab0 = meminfo_kb("SUnreclaim");
	for (long i = 0; i < tries; i++) {
		if (umn_reg(fd, p + (i % 64) * 4096, 4096, 1000000 + i) != -1 || errno != ENOSPC) {
			TF_FAIL("try %ld: not ENOSPC (errno %d)", i, errno);
			break;
		}
	}
	slab1 = meminfo_kb("SUnreclaim");
	live1 = umn_param("registrations");
	fprintf(stderr, "  %ld refused registrations: SUnreclaim %lld -> %lld kB, live %lld -> %lld\n",
		tries, slab0, slab1, live0, live1);
	CHECK_EQ(live1, live0);
	CHECK_EQ(fdinfo_get(fd, "ummunotify-registrations"), 100);
	/* 100000 leaked registrations would be > 10 MB; allow noise. */
	CHECK_MSG(slab1 - slab0 < 1024, "SUnreclaim grew by %lld kB", slab1 - slab0);
	close(fd);
	CHECK_EQ(umn_param("registrations"), live0 - 100);
}

TF_MAIN(TF_CASE(limit_enospc), TF_CASE(limit_memory_flat))
