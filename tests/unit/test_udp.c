/*
 * test_udp.c: datagrams on loopback over IPv4 and IPv6 with the peer's
 * address reported and used to answer, a dual-stack socket reached over
 * IPv4, truncation to the caller's buffer, deadlines, cancellation, and
 * close under a blocked receiver.
 *
 * Checks inside tasks use CHECK*, which record the first failure and
 * return from the task; the test then fails with the recorded message.
 */
#include "config.h"

#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "test_helpers.h"

/* Fills ss with addr:port of the given family. */
static socklen_t
make_addr(struct sockaddr_storage *ss, int family, const char *addr, int port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		inet_pton(AF_INET, addr, &sin->sin_addr);
		return sizeof(*sin);
	}
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons((uint16_t)port);
	inet_pton(AF_INET6, addr, &sin6->sin6_addr);
	return sizeof(*sin6);
}

struct udp_case {
	const char	*server_host;	/* what the server binds */
	const char	*client_host;
	const char	*addr;		/* where the client sends */
	int		 family;	/* of addr */
};

static int
echo_once(void *arg)
{
	coro_udp *u = arg;
	struct sockaddr_storage from;
	socklen_t fromlen = 0;
	char buf[64];
	ssize_t n;

	n = coro_udp_recvfrom(u, buf, sizeof(buf), &from, &fromlen,
	    coro_deadline_in(3000));
	CHECK(n > 0);
	CHECK(fromlen > 0);
	/* answer whoever asked, at the address we were told */
	CHECK_EQ(coro_udp_sendto(u, buf, (size_t)n, (struct sockaddr *)&from,
	    fromlen, coro_deadline_in(3000)), n);
	return 0;
}

static int
udp_echo_body(void *arg)
{
	struct udp_case *uc = arg;
	struct sockaddr_storage to, from;
	socklen_t tolen, fromlen = 0;
	coro_udp *srv, *cli;
	coro_task *t;
	char buf[64];

	CHECK_EQ(coro_udp_open(here(), uc->server_host, "0", &srv), 0);
	CHECK_EQ(coro_udp_open(here(), uc->client_host, "0", &cli), 0);
	CHECK(coro_udp_port(srv) > 0);
	CHECK(coro_udp_fd(srv) >= 0);
	CHECK((t = coro_spawn(here(), echo_once, srv, NULL)) != NULL);
	tolen = make_addr(&to, uc->family, uc->addr, coro_udp_port(srv));
	CHECK_EQ(coro_udp_sendto(cli, "datagram", 8, (struct sockaddr *)&to,
	    tolen, coro_deadline_in(3000)), 8);
	CHECK_EQ(coro_udp_recvfrom(cli, buf, sizeof(buf), &from, &fromlen,
	    coro_deadline_in(3000)), 8);
	CHECK(memcmp(buf, "datagram", 8) == 0);
	CHECK_EQ(from.ss_family, uc->family);
	CHECK_EQ(fromlen, tolen);
	CHECK_EQ(coro_join(t, NULL, coro_deadline_in(3000)), 0);
	coro_task_unref(t);
	coro_udp_close(srv);
	coro_udp_close(cli);
	return 0;
}

static void
test_udp_echo_ipv4(void **state)
{
	struct udp_case uc = { "127.0.0.1", "127.0.0.1", "127.0.0.1",
	    AF_INET };

	(void)state;
	run_checked(udp_echo_body, &uc);
}

static void
test_udp_echo_ipv6(void **state)
{
	struct udp_case uc = { "::1", "::1", "::1", AF_INET6 };

	(void)state;
	run_checked(udp_echo_body, &uc);
}

static void
test_udp_any_is_dual_stack(void **state)
{
	/* the server binds every address; an IPv4 client reaches it */
	struct udp_case uc = { NULL, "127.0.0.1", "127.0.0.1", AF_INET };

	(void)state;
	run_checked(udp_echo_body, &uc);
}

static int
truncate_body(void *arg)
{
	struct sockaddr_storage to;
	socklen_t tolen;
	coro_udp *a, *b;
	char buf[4];

	(void)arg;
	CHECK_EQ(coro_udp_open(here(), "127.0.0.1", "0", &a), 0);
	CHECK_EQ(coro_udp_open(here(), "127.0.0.1", "0", &b), 0);
	tolen = make_addr(&to, AF_INET, "127.0.0.1", coro_udp_port(b));
	CHECK_EQ(coro_udp_sendto(a, "0123456789", 10, (struct sockaddr *)&to,
	    tolen, coro_deadline_in(3000)), 10);
	CHECK_EQ(coro_udp_sendto(a, "ab", 2, (struct sockaddr *)&to, tolen,
	    coro_deadline_in(3000)), 2);
	/* the first is cut to the buffer, the rest of it lost */
	CHECK_EQ(coro_udp_recvfrom(b, buf, sizeof(buf), NULL, NULL,
	    coro_deadline_in(3000)), 4);
	CHECK(memcmp(buf, "0123", 4) == 0);
	CHECK_EQ(coro_udp_recvfrom(b, buf, sizeof(buf), NULL, NULL,
	    coro_deadline_in(3000)), 2);
	CHECK(memcmp(buf, "ab", 2) == 0);
	CHECK_EQ(coro_udp_sendto(a, "x", 1, NULL, 0, CORO_NEVER), -EINVAL);
	coro_udp_close(a);
	coro_udp_close(b);
	return 0;
}

static void
test_udp_truncates_to_buffer(void **state)
{
	(void)state;
	run_checked(truncate_body, NULL);
}

struct blocked {
	coro_udp	*u;
	bool		 started;
};

static int
blocked_recv(void *arg)
{
	struct blocked *b = arg;
	char buf[8];

	b->started = true;
	return (int)coro_udp_recvfrom(b->u, buf, sizeof(buf), NULL, NULL,
	    CORO_NEVER);
}

static int
deadline_body(void *arg)
{
	struct blocked b = { 0 };
	coro_task *t;
	char buf[8];
	int64_t t0;

	(void)arg;
	CHECK_EQ(coro_udp_open(here(), "127.0.0.1", "0", &b.u), 0);
	t0 = coro_now();
	CHECK_EQ(coro_udp_recvfrom(b.u, buf, sizeof(buf), NULL, NULL,
	    coro_deadline_in(50)), -ETIMEDOUT);
	CHECK(coro_now() - t0 >= 45);
	CHECK(coro_now() - t0 < 2000);
	/* cancel a blocked receiver */
	CHECK((t = coro_spawn(here(), blocked_recv, &b, NULL)) != NULL);
	CHECK_EQ(coro_sleep(10), 0);
	CHECK(b.started);
	coro_cancel(t);
	CHECK_EQ(coro_join(t, NULL, coro_deadline_in(2000)), -ECANCELED);
	coro_task_unref(t);
	/* close under a blocked receiver */
	b.started = false;
	CHECK((t = coro_spawn(here(), blocked_recv, &b, NULL)) != NULL);
	CHECK_EQ(coro_sleep(10), 0);
	CHECK(b.started);
	coro_udp_close(b.u);
	CHECK_EQ(coro_join(t, NULL, coro_deadline_in(2000)), -EBADF);
	coro_task_unref(t);
	return 0;
}

static void
test_udp_deadline_cancel_close(void **state)
{
	(void)state;
	run_checked(deadline_body, NULL);
}

static int
bad_open_body(void *arg)
{
	coro_udp *u = (coro_udp *)&u;

	(void)arg;
	/* TEST-NET-1: not an address of this host */
	CHECK_EQ(coro_udp_open(here(), "192.0.2.1", "0", &u), -EADDRNOTAVAIL);
	CHECK(u == NULL);
	CHECK_EQ(coro_udp_open(here(), "127.0.0.1", "0", NULL), -EINVAL);
	return 0;
}

static void
test_udp_open_bad_host_fails(void **state)
{
	(void)state;
	run_checked(bad_open_body, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_udp_echo_ipv4),
		cmocka_unit_test(test_udp_echo_ipv6),
		cmocka_unit_test(test_udp_any_is_dual_stack),
		cmocka_unit_test(test_udp_truncates_to_buffer),
		cmocka_unit_test(test_udp_deadline_cancel_close),
		cmocka_unit_test(test_udp_open_bad_host_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
