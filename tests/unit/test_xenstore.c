/*
 * test_xenstore.c - lodger's xenstore (src/xen/xenstore.c, xs_tree.c) driven over its ring
 * as Linux's xenbus drives it, and as a hostile guest would: every reply checked against
 * xenstored's (values, directories, error names, watch events, transactions, permissions),
 * dishonest indices and oversized messages ending the connection. No KVM.
 */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "xs_guest.h"

#define RAM	 (1u << 20)
#define RING_GPA 0x3000
#define DOMID	 1

static struct guest_mem mem;
static struct xs_guest g;
static unsigned notifies;

static void notify(void *ctx)
{
	(void)ctx;
	notifies++;
}

static void setup(void)
{
	cr_assert_eq(mem_alloc_ram(&mem, RAM), 0);
	memset(&g, 0, sizeof(g));
	g.r = (struct xenstore_domain_interface *)(mem.ram + RING_GPA);
	g.s = xenstore_new(&mem, RING_GPA, DOMID, notify, NULL);
	cr_assert(g.s);
	notifies = 0;
	/* the toolstack's part: the guest's directory, readable by it, and one it owns */
	cr_assert_eq(xenstore_mkdir(g.s, "/local/domain/1"), 0);
	cr_assert_eq(xenstore_set_perms(g.s, "/local/domain/1",
					(struct xs_perm[]){{0, 'n'}, {DOMID, 'r'}}, 2),
		     0);
	cr_assert_eq(xenstore_write(g.s, "/local/domain/1/name", "guest"), 0);
	cr_assert_eq(xenstore_mkdir(g.s, "/local/domain/1/data"), 0);
	cr_assert_eq(xenstore_set_perms(g.s, "/local/domain/1/data",
					(struct xs_perm[]){{DOMID, 'n'}}, 1),
		     0);
	cr_assert_eq(xenstore_write(g.s, "/local/domain/0/secret", "x"), 0);
}

static void teardown(void)
{
	xenstore_free(g.s);
	mem_free(&mem);
}

TestSuite(xs, .init = setup, .fini = teardown);

#define expect_error(name) cr_expect_str_eq(g.body, name, "reply %u: %s", g.h.type, g.body)

Test(xs, server_features)
{
	cr_expect_eq(g.r->server_features & XENSTORE_SERVER_FEATURE_ERROR,
		     XENSTORE_SERVER_FEATURE_ERROR);
	cr_expect_eq(g.r->connection, XENSTORE_CONNECTED);
}

Test(xs, read_write_relative_and_absolute)
{
	cr_expect_eq(xsg_read(&g, 0, "name"), XS_READ);
	cr_expect_eq(g.h.len, 5, "no NUL after a value");
	cr_expect_str_eq(g.body, "guest");
	cr_expect_eq(xsg_read(&g, 0, "/local/domain/1/name"), XS_READ);
	cr_expect_eq(xsg_write(&g, 0, "data/x", "hello"), XS_WRITE);
	cr_expect_str_eq(g.body, "OK");
	cr_expect_eq(g.h.req_id, g.req_id, "req_id echoed");
	char v[16];

	cr_expect_eq(xenstore_read(g.s, "/local/domain/1/data/x", v, sizeof(v)), 0);
	cr_expect_str_eq(v, "hello");
	cr_expect_eq(xsg_write(&g, 0, "data/empty", ""), XS_WRITE);
	cr_expect_eq(xsg_read(&g, 0, "data/empty"), XS_READ);
	cr_expect_eq(g.h.len, 0);
	/* a value with NULs inside is kept whole */
	cr_expect_eq(xsg_req(&g, XS_WRITE, 0, "data/bin\0a\0b", 12), XS_WRITE);
	cr_expect_eq(xsg_read(&g, 0, "data/bin"), XS_READ);
	cr_expect_eq(g.h.len, 3);
	cr_expect_eq(memcmp(g.body, "a\0b", 3), 0);
	cr_expect(notifies > 0, "replies raise the store port");
}

Test(xs, errors_are_xenstored_names)
{
	cr_expect_eq(xsg_read(&g, 0, "data/missing"), XS_ERROR);
	expect_error("ENOENT");
	cr_expect_eq(xsg_read(&g, 0, "/local/domain/0/secret"), XS_ERROR);
	expect_error("EACCES");
	cr_expect_eq(xsg_write(&g, 0, "name", "mine"), XS_ERROR, "the toolstack's node");
	expect_error("EACCES");
	cr_expect_eq(xsg_write(&g, 0, "/local/domain/0/evil", "x"), XS_ERROR);
	expect_error("EACCES");
	static const char *const bad[] = {"data//x", "data/x/", "/", "data/sp ace", "", "@foo"};

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint32_t t = xsg_write(&g, 0, bad[i], "v");

		cr_expect_eq(t, XS_ERROR, "%s", bad[i]);
		if (strcmp(bad[i], "/"))
			expect_error("EINVAL");
	}
	cr_expect_eq(xsg_req(&g, XS_READ, 0, "name", 4), XS_ERROR, "no NUL");
	expect_error("EINVAL");
	cr_expect_eq(xsg_req(&g, XS_INTRODUCE, 0, "1\0002\0003\0", 6), XS_ERROR);
	expect_error("EACCES");
	cr_expect_eq(xsg_req(&g, XS_CONTROL, 0, "print\0", 6), XS_ERROR);
	expect_error("EACCES");
	cr_expect_eq(xsg_req(&g, 9999, 0, "", 0), XS_ERROR);
	expect_error("EINVAL");
	cr_expect_eq(xsg_req(&g, XS_WATCH_EVENT, 0, "a\0b\0", 4), XS_ERROR);
	cr_expect_eq(xsg_read(&g, 77, "name"), XS_ERROR, "no such transaction");
	expect_error("ENOENT");
	cr_expect_eq(xenstore_error(g.s), 0, "errors keep the connection");
}

Test(xs, directory_mkdir_rm)
{
	cr_expect_eq(xsg_write(&g, 0, "data/d/a", "1"), XS_WRITE, "parents are created");
	cr_expect_eq(xsg_write(&g, 0, "data/d/b", "2"), XS_WRITE);
	cr_expect_eq(xsg_req(&g, XS_MKDIR, 0, "data/d/c", 9), XS_MKDIR);
	cr_expect_eq(xsg_req(&g, XS_DIRECTORY, 0, "data/d", 7), XS_DIRECTORY);
	cr_expect_eq(g.h.len, 6);
	cr_expect_eq(memcmp(g.body, "a\0b\0c\0", 6), 0);
	cr_expect_eq(xsg_req(&g, XS_MKDIR, 0, "data/d/a", 9), XS_MKDIR, "mkdir keeps a value");
	cr_expect_eq(xsg_read(&g, 0, "data/d/a"), XS_READ);
	cr_expect_str_eq(g.body, "1");
	cr_expect_eq(xsg_req(&g, XS_RM, 0, "data/d", 7), XS_RM);
	cr_expect_eq(xsg_read(&g, 0, "data/d/a"), XS_ERROR);
	cr_expect_eq(xsg_req(&g, XS_RM, 0, "data/d", 7), XS_RM, "gone, its parent is there: OK");
	cr_expect_eq(xsg_req(&g, XS_RM, 0, "data/d/e/f", 11), XS_ERROR);
	expect_error("ENOENT");
	cr_expect_eq(xsg_req(&g, XS_RM, 0, "/local/domain/1", 16), XS_ERROR);
	expect_error("EACCES");
	cr_expect_eq(xsg_req(&g, XS_DIRECTORY, 0, "/local/domain/0", 16), XS_ERROR);
	expect_error("EACCES");
}

Test(xs, permissions)
{
	cr_expect_eq(xsg_write(&g, 0, "data/p", "v"), XS_WRITE);
	cr_expect_eq(xsg_req(&g, XS_GET_PERMS, 0, "data/p", 7), XS_GET_PERMS);
	cr_expect_eq(memcmp(g.body, "n1\0", 3), 0, "the creator owns it: %s", g.body);
	cr_expect_eq(xsg_req(&g, XS_SET_PERMS, 0, "data/p\0n1\0r0\0", 13), XS_SET_PERMS);
	cr_expect_eq(xsg_req(&g, XS_GET_PERMS, 0, "data/p", 7), XS_GET_PERMS);
	cr_expect_eq(g.h.len, 6);
	cr_expect_eq(memcmp(g.body, "n1\0r0\0", 6), 0);
	cr_expect_eq(xsg_req(&g, XS_SET_PERMS, 0, "data/p\0n0\0", 10), XS_ERROR,
		     "an unprivileged domain cannot give a node away");
	expect_error("EPERM");
	cr_expect_eq(xsg_req(&g, XS_SET_PERMS, 0, "data/p\0x1\0", 10), XS_ERROR);
	expect_error("EINVAL");
	cr_expect_eq(xsg_req(&g, XS_SET_PERMS, 0, "name\0n1\0", 8), XS_ERROR);
	expect_error("EACCES");
}

Test(xs, watches)
{
	cr_expect_eq(xsg_req2(&g, XS_WATCH, 0, "data", "tok", true), XS_WATCH);
	cr_expect_str_eq(g.body, "OK");
	xsg_drain(&g);
	cr_assert_eq(g.nevents, 1, "a new watch fires once");
	cr_expect_str_eq(g.events[0], "data|tok");
	cr_expect_eq(xsg_req2(&g, XS_WATCH, 0, "data", "tok", true), XS_ERROR);
	expect_error("EEXIST");
	cr_expect_eq(xsg_req2(&g, XS_WATCH, 0, "/local/domain/1/data/q", "abs", true), XS_WATCH);
	g.nevents = 0;
	cr_expect_eq(xsg_write(&g, 0, "data/q", "1"), XS_WRITE);
	xsg_drain(&g);
	cr_assert_eq(g.nevents, 2, "%u", g.nevents);
	cr_expect_str_eq(g.events[0], "data/q|tok", "relative watch, relative path");
	cr_expect_str_eq(g.events[1], "/local/domain/1/data/q|abs");
	/* lodger's own writes fire the guest's watches */
	g.nevents = 0;
	cr_expect_eq(xenstore_write(g.s, "/local/domain/1/data/q", "2"), 0);
	xsg_drain(&g);
	cr_expect_eq(g.nevents, 2);
	/* removing a parent fires watches below it */
	g.nevents = 0;
	cr_expect_eq(xsg_req(&g, XS_RM, 0, "data", 5), XS_RM, "the guest owns data");
	xsg_drain(&g);
	cr_expect_eq(g.nevents, 2);
	cr_expect_eq(xsg_req2(&g, XS_UNWATCH, 0, "data", "tok", true), XS_UNWATCH);
	cr_expect_eq(xsg_req2(&g, XS_UNWATCH, 0, "data", "tok", true), XS_ERROR);
	expect_error("ENOENT");
	cr_expect_eq(xsg_req2(&g, XS_WATCH, 0, "@releaseDomain", "t", true), XS_WATCH);
	cr_expect_eq(xsg_req2(&g, XS_WATCH, 0, "@other", "t", true), XS_ERROR);
	cr_expect_eq(xsg_req(&g, XS_RESET_WATCHES, 0, "", 1), XS_RESET_WATCHES);
	g.nevents = 0;
	cr_expect_eq(xenstore_write(g.s, "/local/domain/1/data/q", "3"), 0);
	xsg_drain(&g);
	cr_expect_eq(g.nevents, 0, "reset");
}

Test(xs, watch_quota)
{
	char tok[16];
	unsigned ok = 0;

	for (unsigned i = 0; i < XS_MAX_WATCHES + 5; i++) {
		snprintf(tok, sizeof(tok), "t%u", i);
		if (xsg_req2(&g, XS_WATCH, 0, "data", tok, true) == XS_WATCH)
			ok++;
		else
			expect_error("E2BIG");
		xsg_drain(&g);
	}
	cr_expect_eq(ok, XS_MAX_WATCHES);
}

static void local_cb(void *ctx, const char *path)
{
	unsigned *n = ctx;

	(void)path;
	(*n)++;
}

Test(xs, transactions)
{
	unsigned heard = 0;
	uint32_t tx;

	cr_assert_eq(xenstore_watch(g.s, "/local/domain/1/data", local_cb, &heard), 0);
	cr_assert_eq(xsg_req(&g, XS_TRANSACTION_START, 0, "", 1), XS_TRANSACTION_START);
	tx = (uint32_t)strtoul(g.body, NULL, 10);
	cr_assert_neq(tx, 0);
	cr_expect_eq(xsg_write(&g, tx, "data/t", "1"), XS_WRITE);
	cr_expect_eq(g.h.tx_id, tx);
	cr_expect_eq(xsg_read(&g, 0, "data/t"), XS_ERROR, "not visible outside");
	cr_expect_eq(xsg_read(&g, tx, "data/t"), XS_READ, "visible inside");
	cr_expect_eq(heard, 0);
	cr_expect_eq(xsg_req(&g, XS_TRANSACTION_END, tx, "T", 2), XS_TRANSACTION_END);
	cr_expect_eq(xsg_read(&g, 0, "data/t"), XS_READ, "committed");
	cr_expect_eq(heard, 1, "watches fire on commit");
	cr_expect_eq(xsg_req(&g, XS_TRANSACTION_END, tx, "T", 2), XS_ERROR, "ended");
	expect_error("ENOENT");

	/* a change in between: EAGAIN, and nothing of the transaction lands */
	cr_assert_eq(xsg_req(&g, XS_TRANSACTION_START, 0, "", 1), XS_TRANSACTION_START);
	tx = (uint32_t)strtoul(g.body, NULL, 10);
	cr_expect_eq(xsg_write(&g, tx, "data/u", "1"), XS_WRITE);
	cr_expect_eq(xsg_write(&g, 0, "data/v", "1"), XS_WRITE);
	cr_expect_eq(xsg_req(&g, XS_TRANSACTION_END, tx, "T", 2), XS_ERROR);
	expect_error("EAGAIN");
	cr_expect_eq(xsg_read(&g, 0, "data/u"), XS_ERROR);
	/* abort */
	cr_assert_eq(xsg_req(&g, XS_TRANSACTION_START, 0, "", 1), XS_TRANSACTION_START);
	tx = (uint32_t)strtoul(g.body, NULL, 10);
	cr_expect_eq(xsg_write(&g, tx, "data/w", "1"), XS_WRITE);
	cr_expect_eq(xsg_req(&g, XS_TRANSACTION_END, tx, "F", 2), XS_TRANSACTION_END);
	cr_expect_eq(xsg_read(&g, 0, "data/w"), XS_ERROR);
	cr_expect_eq(xsg_req(&g, XS_TRANSACTION_START, 5, "", 1), XS_ERROR, "no nesting");
	expect_error("EBUSY");
	/* the limit */
	unsigned opened = 0;

	for (unsigned i = 0; i < XS_MAX_TXNS + 3; i++)
		if (xsg_req(&g, XS_TRANSACTION_START, 0, "", 1) == XS_TRANSACTION_START)
			opened++;
	cr_expect_eq(opened, XS_MAX_TXNS);
	expect_error("ENOSPC");
}

Test(xs, domain_path)
{
	cr_expect_eq(xsg_req(&g, XS_GET_DOMAIN_PATH, 0, "1", 2), XS_GET_DOMAIN_PATH);
	cr_expect_str_eq(g.body, "/local/domain/1");
	cr_expect_eq(xsg_req(&g, XS_GET_DOMAIN_PATH, 0, "x", 2), XS_ERROR);
}

Test(xs, message_split_across_kicks_and_ring_wrap)
{
	struct xsd_sockmsg h = {.type = XS_READ, .req_id = 42, .len = 5};

	cr_assert(xsg_put(&g, &h, 10));
	xenstore_kick(g.s);
	cr_expect_eq(xsg_drain(&g), 0, "half a header: nothing yet");
	cr_assert(xsg_put(&g, (char *)&h + 10, sizeof(h) - 10));
	cr_assert(xsg_put(&g, "na", 2));
	xenstore_kick(g.s);
	cr_expect_eq(xsg_drain(&g), 0);
	cr_assert(xsg_put(&g, "me", 3));
	xenstore_kick(g.s);
	cr_expect_eq(xsg_drain(&g), 1);
	cr_expect_str_eq(g.body, "guest");
	for (unsigned i = 0; i < 500; i++) /* many times round both rings */
		cr_assert_eq(xsg_read(&g, 0, "name"), XS_READ, "%u", i);
	cr_expect_eq(xenstore_stats(g.s)->requests, 501);
}

Test(xs, dishonest_request_index_ends_the_connection)
{
	g.r->req_prod = g.r->req_cons + XENSTORE_RING_SIZE + 1;
	xenstore_kick(g.s);
	cr_expect_eq(xenstore_error(g.s), XENSTORE_ERROR_RINGIDX);
	cr_expect_eq(g.r->error, XENSTORE_ERROR_RINGIDX);
	g.r->req_prod = g.r->req_cons;
	cr_expect_eq(xsg_read(&g, 0, "name"), XS_INVALID, "nothing more is served");
}

Test(xs, dishonest_response_index)
{
	g.r->rsp_cons = g.r->rsp_prod + 5000;
	xsg_put(&g, &(struct xsd_sockmsg){.type = XS_READ, .len = 5}, sizeof(struct xsd_sockmsg));
	xsg_put(&g, "name", 5);
	xenstore_kick(g.s);
	cr_expect_eq(xenstore_error(g.s), XENSTORE_ERROR_RINGIDX);
}

Test(xs, oversized_message_ends_the_connection)
{
	struct xsd_sockmsg h = {.type = XS_WRITE, .len = XENSTORE_PAYLOAD_MAX + 1};

	xsg_put(&g, &h, sizeof(h));
	xenstore_kick(g.s);
	cr_expect_eq(xenstore_error(g.s), XENSTORE_ERROR_PROTO);
}

Test(xs, a_guest_that_never_reads)
{
	struct xsd_sockmsg h = {.type = XS_READ, .len = 5};

	for (unsigned i = 0; i < 20000 && !xenstore_error(g.s); i++) {
		g.r->req_cons = g.r->req_prod; /* (ours already) */
		xsg_put(&g, &h, sizeof(h));
		xsg_put(&g, "name", 5);
		xenstore_kick(g.s);
	}
	cr_expect_eq(xenstore_error(g.s), XENSTORE_ERROR_COMM, "bounded, then cut off");
}

/* xenstored's entry-size quota: a value of 2,048 bytes is written, one byte more is not. */
Test(xs, value_quota)
{
	static char big[XS_MAX_VALUE + 2];

	memset(big, 'v', sizeof(big) - 1);
	big[XS_MAX_VALUE] = 0;
	cr_expect_eq(xsg_write(&g, 0, "data/big", big), XS_WRITE);
	big[XS_MAX_VALUE] = 'v';
	cr_expect_eq(xsg_write(&g, 0, "data/big", big), XS_ERROR);
	expect_error("ENOSPC");
}

Test(xs, node_quota)
{
	char p[64];
	uint32_t t = XS_WRITE;

	for (unsigned i = 0; i < XS_MAX_NODES + 10 && t == XS_WRITE; i++) {
		snprintf(p, sizeof(p), "data/n%u", i);
		t = xsg_write(&g, 0, p, "v");
	}
	cr_expect_eq(t, XS_ERROR);
	expect_error("ENOSPC");
}

/* Hostile: a transaction that changes the same node forever, or ever more nodes. The same
 * path is noted once (its commit fires one event, not one per change); past xenstored's
 * quota of nodes a transaction changes, ENOSPC before anything is changed, so neither
 * lodger's memory nor the commit's work grows without bound. */
Test(xs, transaction_change_quota)
{
	unsigned heard = 0;
	uint32_t tx, t = XS_MKDIR;
	char p[64];

	cr_assert_eq(xenstore_watch(g.s, "/local/domain/1/data", local_cb, &heard), 0);
	cr_assert_eq(xsg_req(&g, XS_TRANSACTION_START, 0, "", 1), XS_TRANSACTION_START);
	tx = (uint32_t)strtoul(g.body, NULL, 10);
	for (unsigned i = 0; i < 5000; i++)
		cr_assert_eq(xsg_req(&g, XS_MKDIR, tx, "data/same", 10), XS_MKDIR);
	/* 16 nodes made and removed in turn, many times over */
	for (unsigned i = 0; i < 2 * XS_MAX_TXN_CHANGES && t != XS_ERROR; i++) {
		snprintf(p, sizeof(p), "data/m%u", i / 2 % 16);
		t = xsg_req(&g, i % 2 ? XS_RM : XS_MKDIR, tx, p, (uint32_t)strlen(p) + 1);
	}
	cr_expect_neq(t, XS_ERROR, "33 paths noted: under the quota");
	for (unsigned i = 0; t != XS_ERROR && i < XS_MAX_TXN_CHANGES + 10; i++) {
		snprintf(p, sizeof(p), "data/x/%u", i);
		t = xsg_req(&g, XS_MKDIR, tx, p, (uint32_t)strlen(p) + 1);
	}
	cr_expect_eq(t, XS_ERROR);
	expect_error("ENOSPC");
	cr_expect_eq(xsg_req(&g, XS_MKDIR, tx, "data/same", 10), XS_MKDIR, "a path noted before");
	cr_expect_eq(xsg_req(&g, XS_TRANSACTION_END, tx, "T", 2), XS_TRANSACTION_END);
	cr_expect_leq(heard, XS_MAX_TXN_CHANGES, "one event per path changed, %u", heard);
	cr_expect_eq(xsg_read(&g, 0, "data/same"), XS_READ, "committed");
}
