// SPDX-License-Identifier: GPL-2.0
/* Use from another address space: EIO with OWNER_ONLY, V2 behaviour without. */
#include "umn_test.h"

#include <sys/wait.h>

/* Runs @fn in a forked child; returns its exit status (0: all good). */
static int in_child(int (*fn)(int fd, void *arg), int fd, void *arg)
{
	int status;
	pid_t pid = fork();

	REQUIRE(pid >= 0);
	if (pid == 0)
		_exit(fn(fd, arg));
	REQUIRE(waitpid(pid, &status, 0) == pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Each refused call sets one bit of the exit status if it misbehaves. */
static int child_all_eio(int fd, void *arg)
{
	size_t pg = pgsz();
	char *p = arg;
	struct ummunotify_event ev[2];
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	__u32 f = 0;
	int bad = 0;

	if (umn_reg(fd, p, pg, 50) != -1 || errno != EIO)
		bad |= 1;
	if (umn_unreg(fd, 1) != -1 || errno != EIO)
		bad |= 2;
	if (ioctl(fd, UMMUNOTIFY_EXCHANGE_FEATURES, &f) != -1 || errno != EIO)
		bad |= 4;
	if (read(fd, ev, sizeof(ev)) != -1 || errno != EIO)
		bad |= 8;
	if (poll(&pfd, 1, 0) != 1 || !(pfd.revents & POLLERR))
		bad |= 16;
	if (mmap(NULL, pg, PROT_READ, MAP_SHARED, fd, 0) != MAP_FAILED || errno != EIO)
		bad |= 32;
	/* Unknown commands still say so. */
	if (ioctl(fd, _IO('U', 77)) != -1 || errno != ENOTTY)
		bad |= 64;
	return bad;
}

TEST(forked_child_gets_eio)
{
	size_t pg = pgsz();
	int fd = umn_open(0, UMMUNOTIFY_FEATURE_OWNER_ONLY | UMMUNOTIFY_FEATURE_MAPPING_ONLY);
	volatile __u64 *ctr = umn_counter(fd);
	char *p = map_anon(3 * pg, 1);
	struct ummunotify_event ev[4];
	int n;

	CHECK_OK(umn_reg(fd, p, pg, 1));
	CHECK_EQ(in_child(child_all_eio, fd, p + pg), 0);

	/* The parent is unaffected: its registration works, the child's didn't go in. */
	CHECK_EQ(fdinfo_get(fd, "ummunotify-registrations"), 1);
	CHECK_EQ(*ctr, 0);
	CHECK_OK(munmap(p, 2 * pg));
	CHECK_EQ(*ctr, 1);
	n = umn_drain(fd, ev, 4, 1000);
	REQUIRE_EQ(n, 2);
	CHECK_EQ(ev[0].user_cookie_counter, 1);
	CHECK_OK(umn_reg(fd, p + 2 * pg, pg, 2));
	CHECK_OK(umn_unreg(fd, 1));
	close(fd);
}

TEST(passed_fd_gets_eio)
{
	size_t pg = pgsz();
	int sv[2], status, bad;
	char *p = map_anon(2 * pg, 1);
	pid_t pid;

	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		/* Opened and owned by the child; the parent receives it. */
		int cfd = umn_open(0, UMMUNOTIFY_FEATURE_OWNER_ONLY);

		if (send_fd(sv[1], cfd))
			_exit(3);
		char c;
		_exit(read(sv[1], &c, 1) == 1 ? 0 : 4);	/* wait for the parent */
	}
	int fd = recv_fd(sv[0]);

	REQUIRE(fd >= 0);
	bad = child_all_eio(fd, p);
	CHECK_EQ(bad, 0);
	CHECK_EQ(fdinfo_get(fd, "ummunotify-mm-alive"), 1);
	CHECK_EQ(write(sv[0], "x", 1), 1);
	REQUIRE(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_EQ(fdinfo_get(fd, "ummunotify-mm-alive"), 0);
	close(fd);
}

/* V2: a child acts on the opener's address space. */
static int child_registers_for_parent(int fd, void *arg)
{
	return umn_reg(fd, arg, pgsz(), 60) ? 1 : 0;
}

TEST(v2_child_acts_on_parent_mm)
{
	size_t pg = pgsz();
	int fd = umn_open(0, UMMUNOTIFY_FEATURE_MAPPING_ONLY);
	char *p = map_anon(pg, 1);
	struct ummunotify_event ev[4];
	int n;

	CHECK_EQ(in_child(child_registers_for_parent, fd, p), 0);
	CHECK_EQ(fdinfo_get(fd, "ummunotify-registrations"), 1);
	CHECK_OK(munmap(p, pg));
	n = umn_drain(fd, ev, 4, 1000);
	REQUIRE_EQ(n, 2);
	CHECK_EQ(ev[0].user_cookie_counter, 60);
	close(fd);
}

TF_MAIN(TF_CASE(forked_child_gets_eio), TF_CASE(passed_fd_gets_eio),
	TF_CASE(v2_child_acts_on_parent_mm))
