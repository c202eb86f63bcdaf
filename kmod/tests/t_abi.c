// SPDX-License-Identifier: GPL-2.0
/* The V2 ABI: layouts, the basic flow, HINT rules, read/poll/mmap/SIGIO. */
#include "umn_test.h"

#include <pthread.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/time.h>

TEST(layout_and_numbers)
{
	/* Binary compatibility with programs built against the V2 header. */
	CHECK_EQ(sizeof(struct ummunotify_event), 32);
	CHECK_EQ(sizeof(struct ummunotify_register_ioctl), 32);
	CHECK_EQ(UMMUNOTIFY_EXCHANGE_FEATURES, 0xc0045501u);
	CHECK_EQ(UMMUNOTIFY_REGISTER_REGION, 0x40205502u);
	CHECK_EQ(UMMUNOTIFY_UNREGISTER_REGION, 0x40085503u);
	CHECK_EQ(UMMUNOTIFY_EVENT_TYPE_INVAL, 0);
	CHECK_EQ(UMMUNOTIFY_EVENT_TYPE_LAST, 1);
	CHECK_EQ(UMMUNOTIFY_EVENT_FLAG_HINT, 1);
	CHECK_EQ(UMMUNOTIFY_FEATURE_MAPPING_ONLY, 1);
	/* Ours: new bits only, never a V2 value changed. */
	CHECK_EQ(UMMUNOTIFY_FEATURE_ONESHOT, 1 << 5);
	CHECK_EQ(UMMUNOTIFY_REGISTER_ONESHOT, 1);
	CHECK_EQ(UMMUNOTIFY_EVENT_FLAG_REMOVED, 2);
}

TEST(v2_flow)
{
	size_t pg = pgsz();
	int fd = umn_open(0, 0);
	volatile __u64 *ctr = umn_counter(fd);
	char *p = map_anon(3 * pg, 1);
	struct ummunotify_event ev[8];
	__u64 c0;
	int n;

	CHECK_EQ(*ctr, 0);
	CHECK_OK(umn_reg(fd, p, 3 * pg, 0x1234));
	c0 = *ctr;
	CHECK_OK(munmap(p + pg, pg));
	CHECK_EQ(*ctr, c0 + 1);

	n = umn_drain(fd, ev, 8, 1000);
	REQUIRE_EQ(n, 2);
	CHECK_EQ(ev[0].type, UMMUNOTIFY_EVENT_TYPE_INVAL);
	CHECK_EQ(ev[0].flags, UMMUNOTIFY_EVENT_FLAG_HINT);
	CHECK_EQ(ev[0].hint_start, (uintptr_t)p + pg);
	CHECK_EQ(ev[0].hint_end, (uintptr_t)p + 2 * pg);
	CHECK_EQ(ev[0].user_cookie_counter, 0x1234);
	CHECK_EQ(ev[1].type, UMMUNOTIFY_EVENT_TYPE_LAST);
	CHECK_EQ(ev[1].flags, 0);
	CHECK_EQ(ev[1].user_cookie_counter, *ctr);
	CHECK_EQ(ev[1].user_cookie_counter, c0 + 1);

	/* Nothing more to read. */
	CHECK_EQ(umn_drain(fd, ev, 8, 0), 0);

	CHECK_OK(umn_unreg(fd, 0x1234));
	CHECK_OK(munmap(p, pg));
	CHECK_OK(munmap(p + 2 * pg, pg));
	CHECK_EQ(*ctr, c0 + 1);
	CHECK_EQ(umn_drain(fd, ev, 8, 0), 0);
	close(fd);
}

TEST(hint_cleared_on_second_hit)
{
	size_t pg = pgsz();
	int fd = umn_open(0, 0);
	volatile __u64 *ctr = umn_counter(fd);
	char *p = map_anon(4 * pg, 1);
	struct ummunotify_event ev[8];
	int n;

	CHECK_OK(umn_reg(fd, p, 4 * pg, 7));
	CHECK_OK(munmap(p, pg));
	CHECK_OK(munmap(p + 3 * pg, pg));
	CHECK_EQ(*ctr, 2);
	n = umn_drain(fd, ev, 8, 1000);
	REQUIRE_EQ(n, 2);
	CHECK_EQ(ev[0].user_cookie_counter, 7);
	CHECK_EQ(ev[0].flags, 0);
	CHECK_EQ(ev[0].hint_start, (uintptr_t)p);
	CHECK_EQ(ev[0].hint_end, (uintptr_t)p + 4 * pg);
	CHECK_EQ(ev[1].type, UMMUNOTIFY_EVENT_TYPE_LAST);
	CHECK_EQ(ev[1].user_cookie_counter, 2);

	/* After the read, the next hit has a HINT again. */
	CHECK_OK(munmap(p + 2 * pg, pg));
	n = umn_drain(fd, ev, 8, 1000);
	REQUIRE_EQ(n, 2);
	CHECK_EQ(ev[0].flags, UMMUNOTIFY_EVENT_FLAG_HINT);
	CHECK_EQ(ev[0].hint_start, (uintptr_t)p + 2 * pg);
	CHECK_EQ(ev[0].hint_end, (uintptr_t)p + 3 * pg);
	CHECK_EQ(ev[1].user_cookie_counter, 3);
	close(fd);
}

TEST(hint_clipped_to_registration)
{
	size_t pg = pgsz();
	int fd = umn_open(0, 0);
	char *p = map_anon(4 * pg, 1);
	struct ummunotify_event ev[8];
	int n;

	/* Not page aligned on purpose. */
	CHECK_OK(umn_reg(fd, p + pg + 100, pg, 9));
	CHECK_OK(munmap(p, 4 * pg));
	n = umn_drain(fd, ev, 8, 1000);
	REQUIRE_EQ(n, 2);
	CHECK_EQ(ev[0].flags, UMMUNOTIFY_EVENT_FLAG_HINT);
	CHECK_EQ(ev[0].hint_start, (uintptr_t)p + pg + 100);
	CHECK_EQ(ev[0].hint_end, (uintptr_t)p + 2 * pg + 100);
	close(fd);
}

TEST(overlapping_registrations)
{
	size_t pg = pgsz();
	int fd = umn_open(0, 0);
	volatile __u64 *ctr = umn_counter(fd);
	char *p = map_anon(4 * pg, 1);
	struct ummunotify_event ev[8];
	int n, i, seen = 0;

	CHECK_OK(umn_reg(fd, p, 4 * pg, 1));
	CHECK_OK(umn_reg(fd, p, 4 * pg, 2));	/* identical range */
	CHECK_OK(umn_reg(fd, p + pg, 2 * pg, 3));
	CHECK_OK(umn_reg(fd, p + 3 * pg, pg, 4));	/* not hit */
	CHECK_OK(munmap(p + pg, pg));
	/* One invalidation: one increment, however many registrations hit. */
	CHECK_EQ(*ctr, 1);
	n = umn_drain(fd, ev, 8, 1000);
	REQUIRE_EQ(n, 4);
	for (i = 0; i < 3; i++) {
		CHECK_EQ(ev[i].type, UMMUNOTIFY_EVENT_TYPE_INVAL);
		CHECK_EQ(ev[i].flags, UMMUNOTIFY_EVENT_FLAG_HINT);
		CHECK_EQ(ev[i].hint_start, (uintptr_t)p + pg);
		CHECK_EQ(ev[i].hint_end, (uintptr_t)p + 2 * pg);
		if (ev[i].user_cookie_counter >= 1 && ev[i].user_cookie_counter <= 3)
			seen |= 1 << ev[i].user_cookie_counter;
	}
	CHECK_EQ(seen, 0xe);
	CHECK_EQ(ev[3].type, UMMUNOTIFY_EVENT_TYPE_LAST);
	close(fd);
}

TEST(duplicate_cookie)
{
	size_t pg = pgsz();
	int fd = umn_open(0, 0);
	char *p = map_anon(2 * pg, 0);

	CHECK_OK(umn_reg(fd, p, pg, 42));
	CHECK_ERR(umn_reg(fd, p + pg, pg, 42), EINVAL);
	CHECK_ERR(umn_reg(fd, p, pg, 42), EINVAL);
	CHECK_EQ(fdinfo_get(fd, "ummunotify-registrations"), 1);
	/* Free again after unregistering. */
	CHECK_OK(umn_unreg(fd, 42));
	CHECK_OK(umn_reg(fd, p + pg, pg, 42));
	CHECK_ERR(umn_unreg(fd, 43), EINVAL);
	close(fd);
}

TEST(exchange_features_rules)
{
	size_t pg = pgsz();
	char *p = map_anon(pg, 0);
	int fd = umn_open(0, 0);
	struct ummunotify_event ev;
	__u32 f;

	/* Supported subset comes back; may be repeated before use. */
	f = ~0u;
	CHECK_OK(ioctl(fd, UMMUNOTIFY_EXCHANGE_FEATURES, &f));
	CHECK_EQ(f, UMMUNOTIFY_FEATURE_ALL);
	f = UMMUNOTIFY_FEATURE_MAPPING_ONLY | (1u << 31);
	CHECK_OK(ioctl(fd, UMMUNOTIFY_EXCHANGE_FEATURES, &f));
	CHECK_EQ(f, UMMUNOTIFY_FEATURE_MAPPING_ONLY);
	CHECK_EQ(fdinfo_get(fd, "ummunotify-features"), UMMUNOTIFY_FEATURE_MAPPING_ONLY);
	CHECK_ERR(ioctl(fd, UMMUNOTIFY_EXCHANGE_FEATURES, NULL), EFAULT);

	CHECK_OK(umn_reg(fd, p, pg, 1));
	f = 0;
	CHECK_ERR(ioctl(fd, UMMUNOTIFY_EXCHANGE_FEATURES, &f), EINVAL);
	CHECK_EQ(fdinfo_get(fd, "ummunotify-features"), UMMUNOTIFY_FEATURE_MAPPING_ONLY);
	close(fd);

	/* A read counts as use too. */
	fd = umn_open(O_NONBLOCK, 0);
	CHECK_ERR(read(fd, &ev, sizeof(ev)), EAGAIN);
	f = UMMUNOTIFY_FEATURE_MAPPING_ONLY;
	CHECK_ERR(ioctl(fd, UMMUNOTIFY_EXCHANGE_FEATURES, &f), EINVAL);
	close(fd);
}

TEST(open_for_write_refused)
{
	int fd = open(UMMUNOTIFY_DEVICE, O_RDONLY);

	if (fd < 0 && errno == ENOENT)
		CANNOT_RUN("no device");
	CHECK(fd >= 0);
	close(fd);
	CHECK_ERR(open(UMMUNOTIFY_DEVICE, O_RDWR), EINVAL);
	CHECK_ERR(open(UMMUNOTIFY_DEVICE, O_WRONLY), EINVAL);
}

TEST(mmap_rules)
{
	size_t pg = pgsz();
	int fd = umn_open(0, 0);
	void *p;

	CHECK_ERR(mmap(NULL, 2 * pg, PROT_READ, MAP_SHARED, fd, 0), EINVAL);
	CHECK_ERR(mmap(NULL, pg, PROT_READ, MAP_SHARED, fd, (off_t)pg), EINVAL);
	CHECK_ERR(mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), EACCES);
	CHECK_ERR(mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0), EPERM);

	p = mmap(NULL, pg, PROT_READ, MAP_SHARED, fd, 0);
	REQUIRE(p != MAP_FAILED);
	CHECK_EQ(*(volatile __u64 *)p, 0);
	CHECK_ERR(mprotect(p, pg, PROT_READ | PROT_WRITE), EACCES);
	/* Cannot be grown either. */
	CHECK(mremap(p, pg, 2 * pg, 0) == MAP_FAILED);
	CHECK_OK(munmap(p, pg));

	p = mmap(NULL, pg, PROT_READ, MAP_PRIVATE, fd, 0);
	REQUIRE(p != MAP_FAILED);
	CHECK_ERR(mprotect(p, pg, PROT_READ | PROT_WRITE), EACCES);
	CHECK_OK(munmap(p, pg));
	close(fd);
}

TEST(nonblocking_read_and_poll)
{
	size_t pg = pgsz();
	int fd = umn_open(O_NONBLOCK, 0);
	char *p = map_anon(2 * pg, 1);
	struct ummunotify_event ev[4];
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	CHECK_ERR(read(fd, ev, sizeof(ev)), EAGAIN);
	CHECK_EQ(poll(&pfd, 1, 0), 0);
	CHECK_OK(umn_reg(fd, p, 2 * pg, 5));
	CHECK_EQ(poll(&pfd, 1, 0), 0);
	CHECK_ERR(read(fd, ev, sizeof(ev)), EAGAIN);

	CHECK_OK(munmap(p, pg));
	CHECK_EQ(poll(&pfd, 1, 0), 1);
	CHECK_EQ(pfd.revents, POLLIN);

	/* Too small a buffer. */
	CHECK_ERR(read(fd, ev, sizeof(ev[0]) - 1), EINVAL);

	/* One event per read when the buffer holds one: LAST comes next. */
	CHECK_EQ(read(fd, ev, sizeof(ev[0])), sizeof(ev[0]));
	CHECK_EQ(ev[0].type, UMMUNOTIFY_EVENT_TYPE_INVAL);
	CHECK_EQ(poll(&pfd, 1, 0), 1);
	CHECK_EQ(read(fd, ev, sizeof(ev[0]) + 7), sizeof(ev[0]));
	CHECK_EQ(ev[0].type, UMMUNOTIFY_EVENT_TYPE_LAST);
	CHECK_EQ(ev[0].user_cookie_counter, 1);
	CHECK_EQ(poll(&pfd, 1, 0), 0);
	CHECK_ERR(read(fd, ev, sizeof(ev)), EAGAIN);
	close(fd);
}

struct blocker {
	int fd;
	ssize_t r;
	struct ummunotify_event ev[4];
};

static void *blocking_reader(void *arg)
{
	struct blocker *b = arg;

	b->r = read(b->fd, b->ev, sizeof(b->ev));
	return NULL;
}

TEST(blocking_read_wakes)
{
	size_t pg = pgsz();
	struct blocker b = { .fd = umn_open(0, 0) };
	char *p = map_anon(pg, 1);
	pthread_t t;

	CHECK_OK(umn_reg(b.fd, p, pg, 77));
	REQUIRE(pthread_create(&t, NULL, blocking_reader, &b) == 0);
	usleep(200 * 1000);
	CHECK_OK(munmap(p, pg));
	REQUIRE(pthread_join(t, NULL) == 0);
	CHECK_EQ(b.r, 2 * sizeof(b.ev[0]));
	CHECK_EQ(b.ev[0].user_cookie_counter, 77);
	CHECK_EQ(b.ev[1].type, UMMUNOTIFY_EVENT_TYPE_LAST);
	close(b.fd);
}

static volatile sig_atomic_t sigio_count;

static void on_sigio(int sig)
{
	(void)sig;
	sigio_count++;
}

TEST(epoll_and_sigio)
{
	size_t pg = pgsz();
	int fd = umn_open(O_NONBLOCK, 0);
	char *p = map_anon(pg, 1);
	struct sigaction sa;
	struct ummunotify_event ev[4];
	struct epoll_event ee = { .events = EPOLLIN }, out;
	int ep = epoll_create1(EPOLL_CLOEXEC);

	REQUIRE(ep >= 0);
	REQUIRE(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ee) == 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigio;
	REQUIRE(sigaction(SIGIO, &sa, NULL) == 0);
	CHECK_OK(fcntl(fd, F_SETOWN, getpid()));
	CHECK_OK(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_ASYNC));
	CHECK_OK(umn_reg(fd, p, pg, 1));
	CHECK_EQ(epoll_wait(ep, &out, 1, 0), 0);
	sigio_count = 0;
	CHECK_OK(munmap(p, pg));
	/* Delivered on the way back from munmap. */
	CHECK(sigio_count >= 1);
	CHECK_EQ(epoll_wait(ep, &out, 1, 1000), 1);
	CHECK_EQ(out.events, EPOLLIN);
	CHECK_EQ(umn_drain(fd, ev, 4, 0), 2);
	CHECK_EQ(epoll_wait(ep, &out, 1, 0), 0);
	close(ep);
	close(fd);
}

TEST(unregister_discards_pending)
{
	size_t pg = pgsz();
	int fd = umn_open(O_NONBLOCK, 0);
	volatile __u64 *ctr = umn_counter(fd);
	char *p = map_anon(2 * pg, 1);
	struct ummunotify_event ev[4];
	int n;

	CHECK_OK(umn_reg(fd, p, pg, 1));
	CHECK_OK(umn_reg(fd, p + pg, pg, 2));
	CHECK_OK(munmap(p, 2 * pg));
	CHECK_EQ(fdinfo_get(fd, "ummunotify-pending"), 2);
	CHECK_OK(umn_unreg(fd, 1));
	CHECK_EQ(fdinfo_get(fd, "ummunotify-pending"), 1);
	n = umn_drain(fd, ev, 4, 0);
	REQUIRE_EQ(n, 2);
	CHECK_EQ(ev[0].user_cookie_counter, 2);
	CHECK_EQ(ev[1].type, UMMUNOTIFY_EVENT_TYPE_LAST);
	CHECK_EQ(ev[1].user_cookie_counter, *ctr);

	/* Unregistering the only pending one: the LAST still comes. */
	CHECK_OK(umn_unreg(fd, 2));
	p = map_anon(pg, 1);
	CHECK_OK(umn_reg(fd, p, pg, 3));
	CHECK_OK(munmap(p, pg));
	CHECK_OK(umn_unreg(fd, 3));
	n = umn_drain(fd, ev, 4, 0);
	REQUIRE_EQ(n, 1);
	CHECK_EQ(ev[0].type, UMMUNOTIFY_EVENT_TYPE_LAST);
	close(fd);
}

TEST(read_efault_loses_nothing)
{
	size_t pg = pgsz();
	int fd = umn_open(O_NONBLOCK, 0);
	char *p = map_anon(3 * pg, 1);
	char *buf = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct ummunotify_event ev[4], *edge;
	int n;

	REQUIRE(buf != MAP_FAILED);
	CHECK_OK(mprotect(buf + pg, pg, PROT_NONE));
	CHECK_OK(umn_reg(fd, p, pg, 1));
	CHECK_OK(umn_reg(fd, p + pg, pg, 2));
	CHECK_OK(umn_reg(fd, p + 2 * pg, pg, 3));
	CHECK_OK(munmap(p, 3 * pg));

	CHECK_ERR(syscall(SYS_read, fd, NULL, sizeof(ev)), EFAULT);
	CHECK_ERR(read(fd, buf + pg, sizeof(ev)), EFAULT);
	CHECK_EQ(fdinfo_get(fd, "ummunotify-pending"), 3);

	/* Room for one event before the hole: one is delivered, two stay. */
	edge = (struct ummunotify_event *)(buf + pg) - 1;
	CHECK_EQ(read(fd, edge, 3 * sizeof(*edge)), sizeof(*edge));
	CHECK_EQ(edge->user_cookie_counter, 1);
	CHECK_EQ(edge->flags, UMMUNOTIFY_EVENT_FLAG_HINT);

	n = umn_drain(fd, ev, 4, 0);
	REQUIRE_EQ(n, 3);
	CHECK_EQ(ev[0].user_cookie_counter, 2);
	CHECK_EQ(ev[0].flags, UMMUNOTIFY_EVENT_FLAG_HINT);
	CHECK_EQ(ev[0].hint_start, (uintptr_t)p + pg);
	CHECK_EQ(ev[1].user_cookie_counter, 3);
	CHECK_EQ(ev[2].type, UMMUNOTIFY_EVENT_TYPE_LAST);
	close(fd);
}

TEST(strict_validation)
{
	size_t pg = pgsz();
	char *p = map_anon(pg, 0);
	struct ummunotify_register_ioctl r = {
		.start = (uintptr_t)p, .end = (uintptr_t)p + pg, .user_cookie = 1,
	};
	int fd = umn_open(0, UMMUNOTIFY_FEATURE_STRICT);

	r.flags = 1;
	CHECK_ERR(ioctl(fd, UMMUNOTIFY_REGISTER_REGION, &r), EINVAL);
	r.flags = 0;
	r.reserved = 1;
	CHECK_ERR(ioctl(fd, UMMUNOTIFY_REGISTER_REGION, &r), EINVAL);
	r.reserved = 0;
	r.end = 1ULL << 63;
	CHECK_ERR(ioctl(fd, UMMUNOTIFY_REGISTER_REGION, &r), EINVAL);
	r.end = r.start;
	CHECK_ERR(ioctl(fd, UMMUNOTIFY_REGISTER_REGION, &r), EINVAL);
	r.end = r.start - 1;
	CHECK_ERR(ioctl(fd, UMMUNOTIFY_REGISTER_REGION, &r), EINVAL);
	r.end = (uintptr_t)p + pg;
	CHECK_OK(ioctl(fd, UMMUNOTIFY_REGISTER_REGION, &r));
	CHECK_ERR(ioctl(fd, UMMUNOTIFY_REGISTER_REGION, NULL), EFAULT);
	CHECK_ERR(ioctl(fd, UMMUNOTIFY_UNREGISTER_REGION, (void *)8), EFAULT);
	CHECK_ERR(ioctl(fd, _IO('U', 9)), ENOTTY);
	CHECK_ERR(ioctl(fd, _IOW('U', 2, __u64), &r), ENOTTY);
	close(fd);

	/* V2 default: flags/reserved ignored, any end accepted, empty refused. */
	fd = umn_open(0, 0);
	r.flags = 1;
	r.reserved = 1;
	CHECK_OK(ioctl(fd, UMMUNOTIFY_REGISTER_REGION, &r));
	r.user_cookie = 2;
	r.end = ~0ULL;
	CHECK_OK(ioctl(fd, UMMUNOTIFY_REGISTER_REGION, &r));
	r.user_cookie = 3;
	r.end = r.start;
	CHECK_ERR(ioctl(fd, UMMUNOTIFY_REGISTER_REGION, &r), EINVAL);
	close(fd);
}

TEST(fdinfo_lines)
{
	size_t pg = pgsz();
	int fd = umn_open(0, UMMUNOTIFY_FEATURE_FDINFO | UMMUNOTIFY_FEATURE_LIMIT);
	char *p = map_anon(2 * pg, 1);

	CHECK_EQ(fdinfo_get(fd, "ummunotify-features"),
		 UMMUNOTIFY_FEATURE_FDINFO | UMMUNOTIFY_FEATURE_LIMIT);
	CHECK_EQ(fdinfo_get(fd, "ummunotify-registrations"), 0);
	CHECK_OK(umn_reg(fd, p, pg, 1));
	CHECK_OK(umn_reg(fd, p + pg, pg, 2));
	CHECK_EQ(fdinfo_get(fd, "ummunotify-registrations"), 2);
	CHECK_EQ(fdinfo_get(fd, "ummunotify-pending"), 0);
	CHECK_OK(munmap(p, pg));
	CHECK_EQ(fdinfo_get(fd, "ummunotify-pending"), 1);
	CHECK_EQ(fdinfo_get(fd, "ummunotify-counter"), 1);
	CHECK_EQ(fdinfo_get(fd, "ummunotify-mm-alive"), 1);
	close(fd);
}

/*
 * The counter mapping keeps the file alive after close(): registrations
 * still count; release() then runs from the munmap of the counter page.
 */
TEST(counter_outlives_fd)
{
	size_t pg = pgsz();
	int fd = umn_open(0, UMMUNOTIFY_FEATURE_MAPPING_ONLY);
	volatile __u64 *ctr = umn_counter(fd);
	char *p = map_anon(2 * pg, 1);
	long long live = umn_param("registrations");

	CHECK_OK(umn_reg(fd, p, pg, 1));
	CHECK_OK(umn_reg(fd, p + pg, pg, 2));
	if (live >= 0)
		CHECK_EQ(umn_param("registrations"), live + 2);
	CHECK_OK(close(fd));
	CHECK_OK(munmap(p, pg));
	CHECK_EQ(*ctr, 1);
	CHECK_OK(munmap(p + pg, pg));
	CHECK_EQ(*ctr, 2);
	CHECK_OK(munmap((void *)ctr, pg));
	/* The last reference is gone: both registrations were removed. */
	if (live >= 0)
		CHECK_EQ(umn_param("registrations"), live);
}

static volatile sig_atomic_t ticks;
static void on_tick(int sig) { (void)sig; ticks++; }

/*
 * Makes a file's first registration (it attaches the file's notifier to the
 * mm, which takes every mapping's lock and stops for signals) in a forked
 * child with many mappings while a timer signal fires every 20 us. Returns the number of
 * EINTR failures before success, or -1 if the call failed otherwise or the
 * registration does not work.
 */
static int first_register_under_signals(int sa_flags)
{
	size_t pg = pgsz();
	struct sigaction sa = { .sa_handler = on_tick, .sa_flags = sa_flags };
	struct itimerval it = { { 0, 20 }, { 0, 20 } };
	int fd = umn_open(0, UMMUNOTIFY_FEATURE_MAPPING_ONLY);
	volatile __u64 *ctr = umn_counter(fd);
	char *p = map_anon(pg, 1);
	int eintr = 0, rc, i;

	/* Many mappings make taking all their locks slow enough to be hit. */
	for (i = 0; i < 4000; i++)
		mmap(NULL, pg, (i & 1) ? PROT_READ : PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	while ((rc = umn_reg(fd, p, pg, 1)) < 0 && errno == EINTR)
		eintr++;
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	if (rc < 0 || munmap(p, pg) < 0 || *ctr != 1)
		return -1;
	return eintr;
}

TEST(first_register_interrupted_by_signals)
{
	int i, runs = 0, total = 0;

	/*
	 * Without SA_RESTART: EINTR (nothing registered), then success on
	 * retry. Up to 20 runs until one is interrupted: a run where the timer
	 * never hits the attach tests nothing.
	 */
	for (i = 0; i < 20 && total == 0; i++) {
		pid_t pid = fork();
		int st;

		REQUIRE(pid >= 0);
		if (pid == 0) {
			int n = first_register_under_signals(0);
			_exit(n < 0 ? 255 : n > 200 ? 200 : n);
		}
		REQUIRE(waitpid(pid, &st, 0) == pid);
		CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) != 255, "registration failed other than EINTR");
		if (WIFEXITED(st) && WEXITSTATUS(st) != 255)
			total += WEXITSTATUS(st);
		runs++;
	}
	CHECK_MSG(total > 0, "no EINTR in %d runs: the interrupted attach was never exercised", runs);
	/* With SA_RESTART the kernel restarts the call: never EINTR. */
	{
		pid_t pid = fork();
		int st;

		REQUIRE(pid >= 0);
		if (pid == 0)
			_exit(first_register_under_signals(SA_RESTART) == 0 ? 0 : 1);
		REQUIRE(waitpid(pid, &st, 0) == pid);
		CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "EINTR or failure despite SA_RESTART");
	}
	printf("  first registration under a 20 us timer: %d EINTR in %d runs\n", total, runs);
}

/* ---- UMMUNOTIFY_FEATURE_ONESHOT ---------------------------------------- */

static int umn_reg_flags(int fd, const void *start, size_t len, __u64 cookie,
			 __u32 flags)
{
	struct ummunotify_register_ioctl r = {
		.start = (uintptr_t)start,
		.end = (uintptr_t)start + len,
		.user_cookie = cookie,
		.flags = flags,
	};

	return ioctl(fd, UMMUNOTIFY_REGISTER_REGION, &r);
}

#define ONESHOT_EV (UMMUNOTIFY_EVENT_FLAG_HINT | UMMUNOTIFY_EVENT_FLAG_REMOVED)

/*
 * A ONESHOT registration beside a plain one on the same page: both are
 * reported, the ONESHOT one with REMOVED; once read it is gone (ENOENT,
 * cookie free again), the plain one stays and is reported again.
 */
TEST(oneshot_removed_as_reported)
{
	size_t pg = pgsz();
	int fd = umn_open(O_NONBLOCK, UMMUNOTIFY_FEATURE_ONESHOT | UMMUNOTIFY_FEATURE_FDINFO);
	volatile __u64 *ctr = umn_counter(fd);
	char *p = map_anon(4 * pg, 1);
	long long live = umn_param("registrations");
	struct ummunotify_event ev[8];
	int n, i;

	CHECK_OK(umn_reg_flags(fd, p, 4 * pg, 1, UMMUNOTIFY_REGISTER_ONESHOT));
	CHECK_OK(umn_reg_flags(fd, p, 4 * pg, 2, 0));
	CHECK_OK(munmap(p + pg, pg));
	CHECK_EQ(*ctr, 1);
	/* Reported, not yet read: the cookie still names it. */
	CHECK_EQ(fdinfo_get(fd, "ummunotify-registrations"), 2);
	CHECK_EQ(fdinfo_get(fd, "ummunotify-removed"), 1);
	CHECK_ERR(umn_reg_flags(fd, p, pg, 1, UMMUNOTIFY_REGISTER_ONESHOT), EINVAL);
	n = umn_drain(fd, ev, 8, 0);
	REQUIRE_EQ(n, 3);
	for (i = 0; i < 2; i++) {
		CHECK_EQ(ev[i].hint_start, (uintptr_t)p + pg);
		CHECK_EQ(ev[i].hint_end, (uintptr_t)p + 2 * pg);
		CHECK_EQ(ev[i].flags, ev[i].user_cookie_counter == 1 ? ONESHOT_EV :
				      UMMUNOTIFY_EVENT_FLAG_HINT);
	}
	CHECK_EQ(ev[0].user_cookie_counter + ev[1].user_cookie_counter, 3);
	CHECK_EQ(ev[2].type, UMMUNOTIFY_EVENT_TYPE_LAST);
	/* Read: freed, given back, cookie unknown. */
	CHECK_EQ(fdinfo_get(fd, "ummunotify-registrations"), 1);
	if (live >= 0)
		CHECK_EQ(umn_param("registrations"), live + 1);
	CHECK_ERR(umn_unreg(fd, 1), ENOENT);

	/* A second hit reaches the plain one only. */
	CHECK_OK(munmap(p + 3 * pg, pg));
	CHECK_EQ(*ctr, 2);
	n = umn_drain(fd, ev, 8, 0);
	REQUIRE_EQ(n, 2);
	CHECK_EQ(ev[0].user_cookie_counter, 2);
	CHECK_EQ(ev[0].flags, UMMUNOTIFY_EVENT_FLAG_HINT);

	/* The cookie is free for a new registration, which works. */
	CHECK_OK(umn_reg_flags(fd, p, pg, 1, UMMUNOTIFY_REGISTER_ONESHOT));
	CHECK_OK(munmap(p, pg));
	n = umn_drain(fd, ev, 8, 0);
	REQUIRE_EQ(n, 3);
	CHECK_OK(umn_unreg(fd, 2));
	CHECK_ERR(umn_unreg(fd, 2), ENOENT);
	CHECK_EQ(fdinfo_get(fd, "ummunotify-registrations"), 0);
	close(fd);
	if (live >= 0)
		CHECK_EQ(umn_param("registrations"), live);
}

/*
 * Hit twice before the read: one report, still exact (the first hit), and
 * the second invalidation finds nothing (the counter does not move).
 */
TEST(oneshot_not_reported_twice)
{
	size_t pg = pgsz();
	int fd = umn_open(O_NONBLOCK, UMMUNOTIFY_FEATURE_ONESHOT);
	volatile __u64 *ctr = umn_counter(fd);
	char *p = map_anon(4 * pg, 1);
	struct ummunotify_event ev[8];
	int n;

	CHECK_OK(umn_reg_flags(fd, p, 4 * pg, 7, UMMUNOTIFY_REGISTER_ONESHOT));
	CHECK_OK(munmap(p, pg));
	CHECK_OK(munmap(p + 3 * pg, pg));
	CHECK_OK(madvise(p + pg, pg, MADV_DONTNEED));
	CHECK_EQ(*ctr, 1);
	CHECK_EQ(fdinfo_get(fd, "ummunotify-pending"), 1);
	n = umn_drain(fd, ev, 8, 0);
	REQUIRE_EQ(n, 2);
	CHECK_EQ(ev[0].user_cookie_counter, 7);
	CHECK_EQ(ev[0].flags, ONESHOT_EV);
	CHECK_EQ(ev[0].hint_start, (uintptr_t)p);
	CHECK_EQ(ev[0].hint_end, (uintptr_t)p + pg);
	CHECK_EQ(ev[1].user_cookie_counter, 1);
	CHECK_OK(munmap(p + pg, 2 * pg));
	CHECK_EQ(*ctr, 1);
	CHECK_EQ(umn_drain(fd, ev, 8, 0), 0);
	close(fd);
}

/*
 * UNREGISTER racing the report: before the read it succeeds and discards
 * the report (the LAST still comes); after the read it is ENOENT.
 */
TEST(oneshot_unregister_after_removal)
{
	size_t pg = pgsz();
	int fd = umn_open(O_NONBLOCK, UMMUNOTIFY_FEATURE_ONESHOT);
	char *p = map_anon(3 * pg, 1);
	struct ummunotify_event ev[8];
	int n;

	CHECK_OK(umn_reg_flags(fd, p, pg, 1, UMMUNOTIFY_REGISTER_ONESHOT));
	CHECK_OK(umn_reg_flags(fd, p + pg, pg, 2, UMMUNOTIFY_REGISTER_ONESHOT));
	CHECK_OK(umn_reg_flags(fd, p + 2 * pg, pg, 3, UMMUNOTIFY_REGISTER_ONESHOT));
	CHECK_OK(munmap(p, 2 * pg));
	CHECK_EQ(fdinfo_get(fd, "ummunotify-pending"), 2);
	CHECK_OK(umn_unreg(fd, 1));		/* removed, report unread */
	CHECK_ERR(umn_unreg(fd, 1), ENOENT);
	CHECK_EQ(fdinfo_get(fd, "ummunotify-pending"), 1);
	n = umn_drain(fd, ev, 8, 0);
	REQUIRE_EQ(n, 2);
	CHECK_EQ(ev[0].user_cookie_counter, 2);
	CHECK_EQ(ev[0].flags, ONESHOT_EV);
	CHECK_ERR(umn_unreg(fd, 2), ENOENT);	/* report read */
	CHECK_OK(umn_unreg(fd, 3));		/* never hit: a plain UNREGISTER */
	CHECK_ERR(umn_unreg(fd, 3), ENOENT);
	CHECK_ERR(umn_unreg(fd, 99), ENOENT);	/* never registered */
	CHECK_EQ(fdinfo_get(fd, "ummunotify-registrations"), 0);

	/* The only pending report discarded: just the LAST. */
	p = map_anon(pg, 1);
	CHECK_OK(umn_reg_flags(fd, p, pg, 4, UMMUNOTIFY_REGISTER_ONESHOT));
	CHECK_OK(munmap(p, pg));
	CHECK_OK(umn_unreg(fd, 4));
	n = umn_drain(fd, ev, 8, 0);
	REQUIRE_EQ(n, 1);
	CHECK_EQ(ev[0].type, UMMUNOTIFY_EVENT_TYPE_LAST);
	close(fd);
}

/*
 * Without the feature the flag means nothing (V2 ignores flags): the
 * registration stays after its report, no REMOVED, EINVAL for an unknown
 * cookie; under STRICT the flag is refused unless the feature is on.
 */
TEST(oneshot_flag_without_feature_is_v2)
{
	size_t pg = pgsz();
	char *p = map_anon(3 * pg, 1);
	struct ummunotify_event ev[8];
	int fd = umn_open(O_NONBLOCK, 0), n;

	CHECK_OK(umn_reg_flags(fd, p, 3 * pg, 5, UMMUNOTIFY_REGISTER_ONESHOT));
	CHECK_OK(munmap(p, pg));
	n = umn_drain(fd, ev, 8, 0);
	REQUIRE_EQ(n, 2);
	CHECK_EQ(ev[0].flags, UMMUNOTIFY_EVENT_FLAG_HINT);
	CHECK_OK(munmap(p + pg, pg));
	n = umn_drain(fd, ev, 8, 0);
	REQUIRE_EQ(n, 2);
	CHECK_EQ(ev[0].user_cookie_counter, 5);
	CHECK_EQ(ev[0].flags, UMMUNOTIFY_EVENT_FLAG_HINT);
	CHECK_EQ(fdinfo_get(fd, "ummunotify-removed"), 0);
	CHECK_OK(umn_unreg(fd, 5));
	CHECK_ERR(umn_unreg(fd, 5), EINVAL);
	close(fd);

	fd = umn_open(0, UMMUNOTIFY_FEATURE_STRICT);
	CHECK_ERR(umn_reg_flags(fd, p + 2 * pg, pg, 1, UMMUNOTIFY_REGISTER_ONESHOT), EINVAL);
	close(fd);
	fd = umn_open(0, UMMUNOTIFY_FEATURE_STRICT | UMMUNOTIFY_FEATURE_ONESHOT);
	CHECK_OK(umn_reg_flags(fd, p + 2 * pg, pg, 1, UMMUNOTIFY_REGISTER_ONESHOT));
	CHECK_OK(umn_reg_flags(fd, p + 2 * pg, pg, 2, 0));
	CHECK_ERR(umn_reg_flags(fd, p + 2 * pg, pg, 3, UMMUNOTIFY_REGISTER_ONESHOT << 1), EINVAL);
	close(fd);
}

/*
 * One munmap over many ONESHOT registrations (and plain ones among them):
 * each reported once, all removed, the plain ones left; every removed one
 * is freed whether read, unregistered or left to close().
 */
TEST(oneshot_many_removed_by_one_munmap)
{
	enum { N = 2000 };
	size_t pg = pgsz();
	int fd = umn_open(O_NONBLOCK, UMMUNOTIFY_FEATURE_ONESHOT);
	volatile __u64 *ctr = umn_counter(fd);
	char *p = map_anon(N * pg, 1);
	long long live = umn_param("registrations");
	struct ummunotify_event *ev = calloc(2 * N, sizeof(*ev));
	char *seen = calloc(2 * N, 1);
	int i, n, removed = 0;

	REQUIRE(ev && seen);
	for (i = 0; i < N; i++) {
		CHECK_OK(umn_reg_flags(fd, p + i * pg, pg, i, UMMUNOTIFY_REGISTER_ONESHOT));
		if (i % 10 == 0)	/* a plain one overlapping every tenth */
			CHECK_OK(umn_reg_flags(fd, p + i * pg, 2 * pg, N + i, 0));
	}
	CHECK_OK(munmap(p, N * pg));
	CHECK_EQ(*ctr, 1);
	CHECK_EQ(fdinfo_get(fd, "ummunotify-pending"), N + N / 10);
	/* Unregister a few before reading: discarded. */
	for (i = 0; i < N; i += 100)
		CHECK_OK(umn_unreg(fd, i));
	n = umn_drain(fd, ev, 2 * N, 0);
	REQUIRE_EQ(n, N - N / 100 + N / 10 + 1);
	for (i = 0; i < n - 1; i++) {
		__u64 c = ev[i].user_cookie_counter;

		REQUIRE(c < 2 * N);
		CHECK_EQ(seen[c], 0);
		seen[c] = 1;
		if (c < N) {
			CHECK_EQ(ev[i].flags, ONESHOT_EV);
			CHECK_EQ(ev[i].hint_start, (uintptr_t)p + c * pg);
			CHECK_EQ(ev[i].hint_end, (uintptr_t)p + (c + 1) * pg);
			removed++;
		} else {
			CHECK_EQ(ev[i].flags, UMMUNOTIFY_EVENT_FLAG_HINT);
		}
	}
	CHECK_EQ(removed, N - N / 100);
	CHECK_EQ(ev[n - 1].type, UMMUNOTIFY_EVENT_TYPE_LAST);
	CHECK_EQ(fdinfo_get(fd, "ummunotify-registrations"), N / 10);
	if (live >= 0)
		CHECK_EQ(umn_param("registrations"), live + N / 10);
	for (i = 0; i < N; i += 10)
		CHECK_OK(umn_unreg(fd, N + i));

	/* Reported but never read: freed by close(). */
	p = map_anon(N * pg, 1);
	for (i = 0; i < N; i++)
		CHECK_OK(umn_reg_flags(fd, p + i * pg, pg, 3 * N + i, UMMUNOTIFY_REGISTER_ONESHOT));
	CHECK_OK(munmap(p, N * pg));
	CHECK_EQ(fdinfo_get(fd, "ummunotify-pending"), N);
	close(fd);
	CHECK_OK(munmap((void *)ctr, pg));
	if (live >= 0)
		CHECK_EQ(umn_param("registrations"), live);
	free(ev);
	free(seen);
}

/* A read() that faults part way keeps the rest, removed but still owed. */
TEST(oneshot_read_efault_keeps_reports)
{
	size_t pg = pgsz();
	int fd = umn_open(O_NONBLOCK, UMMUNOTIFY_FEATURE_ONESHOT);
	char *p = map_anon(3 * pg, 1);
	char *buf = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct ummunotify_event ev[4], *edge;
	int i, n;

	REQUIRE(buf != MAP_FAILED);
	CHECK_OK(mprotect(buf + pg, pg, PROT_NONE));
	for (i = 0; i < 3; i++)
		CHECK_OK(umn_reg_flags(fd, p + i * pg, pg, i + 1, UMMUNOTIFY_REGISTER_ONESHOT));
	CHECK_OK(munmap(p, 3 * pg));
	CHECK_ERR(read(fd, buf + pg, sizeof(ev)), EFAULT);
	CHECK_EQ(fdinfo_get(fd, "ummunotify-pending"), 3);
	CHECK_EQ(fdinfo_get(fd, "ummunotify-registrations"), 3);
	edge = (struct ummunotify_event *)(buf + pg) - 1;
	CHECK_EQ(read(fd, edge, 3 * sizeof(*edge)), sizeof(*edge));
	CHECK_EQ(edge->user_cookie_counter, 1);
	CHECK_EQ(edge->flags, ONESHOT_EV);
	CHECK_EQ(fdinfo_get(fd, "ummunotify-registrations"), 2);
	CHECK_ERR(umn_unreg(fd, 1), ENOENT);
	n = umn_drain(fd, ev, 4, 0);
	REQUIRE_EQ(n, 3);
	CHECK_EQ(ev[0].user_cookie_counter, 2);
	CHECK_EQ(ev[0].flags, ONESHOT_EV);
	CHECK_EQ(ev[0].hint_start, (uintptr_t)p + pg);
	CHECK_EQ(ev[1].user_cookie_counter, 3);
	CHECK_EQ(fdinfo_get(fd, "ummunotify-registrations"), 0);
	close(fd);
}

/*
 * fork and exit: a forked child's exit is not the file's address space
 * (MAPPING_ONLY also skips fork's write protection), so nothing is
 * removed; the child's own file dies with its exit, reported-and-unread,
 * read and live ONESHOT registrations alike, leaving no registration.
 */
TEST(oneshot_fork_and_exit)
{
	size_t pg = pgsz();
	int fd = umn_open(O_NONBLOCK, UMMUNOTIFY_FEATURE_ONESHOT | UMMUNOTIFY_FEATURE_MAPPING_ONLY);
	volatile __u64 *ctr = umn_counter(fd);
	char *p = map_anon(2 * pg, 1);
	long long live = umn_param("registrations");
	struct ummunotify_event ev[4];
	int st;
	pid_t pid;

	CHECK_OK(umn_reg_flags(fd, p, 2 * pg, 1, UMMUNOTIFY_REGISTER_ONESHOT));
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		/* A file of the child's own, in every state, then exit. */
		int cfd = umn_open(O_NONBLOCK, UMMUNOTIFY_FEATURE_ONESHOT);
		char *q = map_anon(4 * pg, 1);
		struct ummunotify_event cev[4];

		p[0] = 2;	/* the child's copy: not the parent's file's mm */
		if (umn_reg_flags(cfd, q, pg, 1, UMMUNOTIFY_REGISTER_ONESHOT) ||
		    umn_reg_flags(cfd, q + pg, pg, 2, UMMUNOTIFY_REGISTER_ONESHOT) ||
		    umn_reg_flags(cfd, q + 2 * pg, pg, 3, UMMUNOTIFY_REGISTER_ONESHOT) ||
		    umn_reg_flags(cfd, q + 3 * pg, pg, 4, 0))
			_exit(3);
		if (munmap(q, pg) || umn_drain(cfd, cev, 4, 0) != 2)	/* 1 read */
			_exit(4);
		if (munmap(q + pg, pg))		/* 2 reported, unread */
			_exit(5);
		_exit(0);			/* 3 and 4 live: exit reports them */
	}
	REQUIRE(waitpid(pid, &st, 0) == pid);
	CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %#x", st);
	CHECK_EQ(*ctr, 0);
	CHECK_EQ(umn_drain(fd, ev, 4, 0), 0);
	CHECK_EQ(fdinfo_get(fd, "ummunotify-registrations"), 1);
	if (live >= 0)
		CHECK_EQ(umn_param("registrations"), live + 1);
	/* The parent's registration is still there and still works. */
	CHECK_OK(munmap(p, 2 * pg));
	CHECK_EQ(umn_drain(fd, ev, 4, 0), 2);
	CHECK_EQ(ev[0].flags, ONESHOT_EV);
	CHECK_EQ(fdinfo_get(fd, "ummunotify-registrations"), 0);
	close(fd);
	if (live >= 0)
		CHECK_EQ(umn_param("registrations"), live);
}

TF_MAIN(TF_CASE(layout_and_numbers), TF_CASE(v2_flow),
	TF_CASE(hint_cleared_on_second_hit), TF_CASE(hint_clipped_to_registration),
	TF_CASE(overlapping_registrations), TF_CASE(duplicate_cookie),
	TF_CASE(exchange_features_rules), TF_CASE(open_for_write_refused),
	TF_CASE(mmap_rules), TF_CASE(nonblocking_read_and_poll),
	TF_CASE(blocking_read_wakes), TF_CASE(epoll_and_sigio),
	TF_CASE(unregister_discards_pending), TF_CASE(read_efault_loses_nothing),
	TF_CASE(strict_validation), TF_CASE(fdinfo_lines), TF_CASE(counter_outlives_fd),
	TF_CASE(first_register_interrupted_by_signals),
	TF_CASE(oneshot_removed_as_reported), TF_CASE(oneshot_not_reported_twice),
	TF_CASE(oneshot_unregister_after_removal),
	TF_CASE(oneshot_flag_without_feature_is_v2),
	TF_CASE(oneshot_many_removed_by_one_munmap),
	TF_CASE(oneshot_read_efault_keeps_reports), TF_CASE(oneshot_fork_and_exit))
