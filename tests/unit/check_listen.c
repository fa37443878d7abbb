/* check_listen: CORA_LISTEN and FCGI_WEB_SERVER_ADDRS. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#include "corad/listen.h"
#include "tap_main.h"

static struct sockaddr_in
v4(const char *a)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };

	ck_assert_int_eq(inet_pton(AF_INET, a, &sa.sin_addr), 1);
	return sa;
}

static struct sockaddr_in6
v6(const char *a)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6 };

	ck_assert_int_eq(inet_pton(AF_INET6, a, &sa.sin6_addr), 1);
	return sa;
}

#define ALLOWED(al, sa)	listen_peer_allowed((al), (const struct sockaddr *)&(sa), sizeof(sa))

START_TEST(test_allow_parse)
{
	struct listen_allow al;
	char err[160];

	ck_assert_int_eq(listen_allow_parse(NULL, &al, err, sizeof(err)), 0);
	ck_assert_uint_eq(al.n, 0);
	ck_assert_int_eq(listen_allow_parse(" 127.0.0.1, ::1 ,10.0.0.7", &al, err, sizeof(err)), 0);
	ck_assert_uint_eq(al.n, 3);
	ck_assert_int_eq(listen_allow_parse("127.0.0.1,localhost", &al, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "'localhost' is not an IPv4 or IPv6 address");
	ck_assert_int_eq(listen_allow_parse("10.0.0.0/8", &al, err, sizeof(err)), -1);
	ck_assert_int_eq(listen_allow_parse("1.2.3.4.5", &al, err, sizeof(err)), -1);
}
END_TEST

START_TEST(test_peer_allowed)
{
	struct listen_allow al, none;
	struct sockaddr_in a = v4("127.0.0.1"), b = v4("127.0.0.2");
	struct sockaddr_in6 c = v6("::1"), d = v6("::ffff:127.0.0.1"), e = v6("::ffff:127.0.0.2");
	struct sockaddr_un u = { .sun_family = AF_UNIX };
	char err[160];

	ck_assert_int_eq(listen_allow_parse("127.0.0.1,::1", &al, err, sizeof(err)), 0);
	ck_assert(ALLOWED(&al, a));
	ck_assert(!ALLOWED(&al, b));
	ck_assert(ALLOWED(&al, c));
	ck_assert(ALLOWED(&al, d));	/* IPv4-mapped */
	ck_assert(!ALLOWED(&al, e));
	ck_assert(ALLOWED(&al, u));	/* Unix peers: the socket's mode decides */
	/* A truncated address is refused. */
	ck_assert(!listen_peer_allowed(&al, (const struct sockaddr *)&a, 4));
	ck_assert_int_eq(listen_allow_parse("", &none, err, sizeof(err)), 0);
	ck_assert(ALLOWED(&none, b));	/* unset: every peer */
}
END_TEST

static Suite *
make_suite(void)
{
	Suite *s = suite_create("listen");
	TCase *tc = tcase_create("web_server_addrs");

	tcase_add_test(tc, test_allow_parse);
	tcase_add_test(tc, test_peer_allowed);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return run_suite(make_suite());
}
