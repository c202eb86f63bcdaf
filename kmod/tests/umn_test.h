/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers shared by the ummunotify tests (header-only, static). */
#ifndef UMN_TEST_H
#define UMN_TEST_H

#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ummunotify.h"
#include "tf.h"

static inline size_t pgsz(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

/* Opens the device and asks for @features (must all be granted). */
static inline int umn_open(unsigned int flags, __u32 features)
{
	int fd = open(UMMUNOTIFY_DEVICE, O_RDONLY | O_CLOEXEC | flags);
	__u32 f = features;

	if (fd < 0) {
		if (errno == ENOENT)
			CANNOT_RUN("%s missing (module not loaded)", UMMUNOTIFY_DEVICE);
		REQUIRE(fd >= 0);
	}
	if (features) {
		REQUIRE(ioctl(fd, UMMUNOTIFY_EXCHANGE_FEATURES, &f) == 0);
		REQUIRE_EQ(f, features);
	}
	return fd;
}

static inline int umn_reg(int fd, const void *start, size_t len, __u64 cookie)
{
	struct ummunotify_register_ioctl r = {
		.start = (uintptr_t)start,
		.end = (uintptr_t)start + len,
		.user_cookie = cookie,
	};

	return ioctl(fd, UMMUNOTIFY_REGISTER_REGION, &r);
}

static inline int umn_unreg(int fd, __u64 cookie)
{
	return ioctl(fd, UMMUNOTIFY_UNREGISTER_REGION, &cookie);
}

/* Maps the counter page. */
static inline volatile __u64 *umn_counter(int fd)
{
	void *p = mmap(NULL, pgsz(), PROT_READ, MAP_SHARED, fd, 0);

	REQUIRE(p != MAP_FAILED);
	return p;
}

/*
 * Reads events without blocking (poll with @timeout_ms first) until a LAST
 * or nothing more: returns the number of events stored in @ev (LAST
 * included).
 */
static inline int umn_drain(int fd, struct ummunotify_event *ev, int max,
			    int timeout_ms)
{
	int n = 0;

	while (n < max) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;
		int i;

		if (poll(&p, 1, n ? 0 : timeout_ms) <= 0)
			break;
		r = read(fd, ev + n, (size_t)(max - n) * sizeof(*ev));
		if (r < 0)
			break;
		CHECK_EQ(r % (ssize_t)sizeof(*ev), 0);
		for (i = 0; i < r / (ssize_t)sizeof(*ev); i++)
			if (ev[n + i].type == UMMUNOTIFY_EVENT_TYPE_LAST)
				return n + i + 1;
		n += (int)(r / (ssize_t)sizeof(*ev));
	}
	return n;
}

static inline void *map_anon(size_t len, int touch)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	REQUIRE(p != MAP_FAILED);
	if (touch)
		for (size_t i = 0; i < len; i += pgsz())
			p[i] = 1;
	return p;
}

/* A line "key:\tvalue" of /proc/self/fdinfo/<fd>; -1 if missing. */
static inline long long fdinfo_get(int fd, const char *key)
{
	char path[64], line[256];
	long long v = -1;
	size_t kl = strlen(key);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ':')
			v = strtoll(line + kl + 1, NULL, 0);
	fclose(f);
	return v;
}

/* A field of /proc/meminfo in kB; -1 if missing. */
static inline long long meminfo_kb(const char *key)
{
	char line[256];
	long long v = -1;
	size_t kl = strlen(key);
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ':')
			v = strtoll(line + kl + 1, NULL, 10);
	fclose(f);
	return v;
}

/* A module parameter of ummunotify as a number; -1 if unreadable. */
static inline long long umn_param(const char *name)
{
	char path[128];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/ummunotify/parameters/%s", name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%lld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

static inline int umn_param_set(const char *name, long long v)
{
	char path[128];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/sys/module/ummunotify/parameters/%s", name);
	f = fopen(path, "w");
	if (!f)
		return -1;
	ok = fprintf(f, "%lld\n", v) > 0;
	return (fclose(f) == 0 && ok) ? 0 : -1;
}

/* Frees reclaimable slab and page cache (root), so SUnreclaim compares. */
static inline void drop_caches(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);

	sync();
	if (fd >= 0) {
		if (write(fd, "3\n", 2) != 2)
			(void)0;
		close(fd);
	}
}

static inline long env_long(const char *name, long dflt)
{
	const char *s = getenv(name);

	return s && *s ? strtol(s, NULL, 0) : dflt;
}

/* fd passing over a unix socket. */
static inline int send_fd(int sock, int fd)
{
	char byte = 0, buf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = buf, .msg_controllen = sizeof(buf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	memset(buf, 0, sizeof(buf));
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

static inline int recv_fd(int sock)
{
	char byte, buf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = buf, .msg_controllen = sizeof(buf),
	};
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sock, &msg, 0) != 1)
		return -1;
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

#endif /* UMN_TEST_H */
