/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tf.h: a tiny test framework. Each test case runs in its own forked child
 * (a crash or hang fails that case only) under an alarm. Output is TAP-like:
 *   ok 3 - name
 *   not ok 4 - name
 *   ok 5 - name # SKIP not selected     (TF_ONLY names another case)
 * and the binary exits non-zero if any case failed. There is no skip: a case
 * whose preconditions are missing in the test VM fails (CANNOT_RUN).
 *
 *   TEST(name) { CHECK(x == 1); CHECK_EQ(a, b); CHECK_ERR(call, EINVAL); }
 *   TF_MAIN(name1, name2, ...)
 *
 * CHECK*   record a failure (file:line, expression, values) and go on.
 * REQUIRE* the same, then end the case at once.
 * CANNOT_RUN(fmt, ...) ends the case as failed: what it needs is missing.
 */
#ifndef TF_H
#define TF_H

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int tf_failures;

#define TF_FAIL(...) do {						\
	tf_failures++;							\
	fprintf(stderr, "  FAIL %s:%d: ", __FILE__, __LINE__);		\
	fprintf(stderr, __VA_ARGS__);					\
	fprintf(stderr, "\n");						\
} while (0)

#define CHECK(cond) do {						\
	if (!(cond))							\
		TF_FAIL("CHECK(%s) (errno %d %s)", #cond, errno,	\
			strerror(errno));				\
} while (0)

#define CHECK_MSG(cond, ...) do {					\
	if (!(cond))							\
		TF_FAIL(__VA_ARGS__);					\
} while (0)

#define CHECK_EQ(a, b) do {						\
	long long tf_a = (long long)(a), tf_b = (long long)(b);	\
	if (tf_a != tf_b)						\
		TF_FAIL("CHECK_EQ(%s, %s): %lld != %lld (%#llx != %#llx)", \
			#a, #b, tf_a, tf_b, tf_a, tf_b);		\
} while (0)

/* The call must fail with -1 (or MAP_FAILED) and errno == err. */
#define CHECK_ERR(call, err) do {					\
	errno = 0;							\
	long tf_r = (long)(call);					\
	int tf_e = errno;						\
	if (tf_r != -1 || tf_e != (err))				\
		TF_FAIL("CHECK_ERR(%s, %s): returned %ld errno %d (%s)", \
			#call, #err, tf_r, tf_e, strerror(tf_e));	\
} while (0)

/* The call must not return -1. */
#define CHECK_OK(call) do {						\
	errno = 0;							\
	long tf_r = (long)(call);					\
	if (tf_r == -1)							\
		TF_FAIL("CHECK_OK(%s): errno %d (%s)", #call, errno,	\
			strerror(errno));				\
} while (0)

#define REQUIRE(cond) do {						\
	if (!(cond)) {							\
		TF_FAIL("REQUIRE(%s) (errno %d %s)", #cond, errno,	\
			strerror(errno));				\
		exit(1);						\
	}								\
} while (0)

#define REQUIRE_EQ(a, b) do {						\
	int tf_before = tf_failures;					\
	CHECK_EQ(a, b);							\
	if (tf_failures != tf_before)					\
		exit(1);						\
} while (0)

#define CANNOT_RUN(...) do {						\
	fprintf(stderr, "  CANNOT RUN: ");				\
	fprintf(stderr, __VA_ARGS__);					\
	fprintf(stderr, "\n");						\
	exit(1);							\
} while (0)

struct tf_case {
	const char *name;
	void (*fn)(void);
};

#define TEST(name) static void name(void)

static int tf_run(const struct tf_case *cases, int n)
{
	int failed = 0, i;
	unsigned timeout = getenv("TF_TIMEOUT") ? (unsigned)atoi(getenv("TF_TIMEOUT")) : 600;
	const char *only = getenv("TF_ONLY");

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("1..%d\n", n);
	for (i = 0; i < n; i++) {
		int status;
		pid_t pid;

		if (only && strcmp(only, cases[i].name)) {
			printf("ok %d - %s # SKIP not selected\n", i + 1, cases[i].name);
			continue;
		}
		fflush(stdout);
		fflush(stderr);
		pid = fork();
		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			alarm(timeout);
			cases[i].fn();
			exit(tf_failures ? 1 : 0);
		}
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			printf("ok %d - %s\n", i + 1, cases[i].name);
		} else {
			failed++;
			if (WIFSIGNALED(status))
				printf("not ok %d - %s (killed by signal %d%s)\n", i + 1,
				       cases[i].name, WTERMSIG(status),
				       WTERMSIG(status) == SIGALRM ? ": timeout" : "");
			else
				printf("not ok %d - %s\n", i + 1, cases[i].name);
		}
	}
	return failed ? 1 : 0;
}

#define TF_CASE(fn) { #fn, fn }
#define TF_MAIN(...)							\
int main(void)								\
{									\
	static const struct tf_case tf_cases[] = { __VA_ARGS__ };	\
	return tf_run(tf_cases, sizeof(tf_cases) / sizeof(tf_cases[0])); \
}

#endif /* TF_H */
