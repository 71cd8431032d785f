/*
 * test_xen_blkback.c - the blkif backend (src/xen/blkback.c) driven by a fake frontend
 * on fake guest memory and a real image file, as Linux's xen-blkfront drives it and as a
 * hostile one would; then the vbd's xenstore nodes and state machine (src/xen/vbd.c)
 * driven over the xenstore ring. No KVM.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define xen_mb()  __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define xen_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#include <xen/io/blkif.h>
#include <xen/io/xenbus.h>

#include "xen/blkback.h"
#include "xen/vbd.h"
#include "xs_guest.h"

#define RAM	    (4u << 20)
#define GUEST_PAGES 1000 /* frames [0, 1000) are the guest's; the table sits above */
#define GT_BASE	    1008
#define IMG_SIZE    (1u << 20)
#define SECTORS	    (IMG_SIZE / 512)
#define RING_FRAME  10
#define RING_REF    1
#define DATA_FRAME  100 /* data pages: frames 100.. with grants 100.. */
#define XS_GPA	    0x5000
#define DOMID	    1

static struct guest_mem mem;
static struct xen_gnttab gt;
static struct blk_engine *engine;
static struct blkback *bb;
static blkif_front_ring_t fr;
static char path[256];
static unsigned notifies;
static evtchn_port_t last_port;

static void notify(void *ctx, evtchn_port_t port)
{
	(void)ctx;
	notifies++;
	last_port = port;
}

static void grant(grant_ref_t ref, uint32_t frame, uint16_t flags, domid_t dom)
{
	struct grant_entry_v1 *e = (void *)(mem.ram + GT_BASE * 4096ULL + ref * 8ULL);

	*e = (struct grant_entry_v1){.flags = flags, .domid = dom, .frame = frame};
}

static uint8_t *page(uint32_t frame)
{
	return mem.ram + frame * 4096ULL;
}

static void open_image(bool readonly)
{
	struct blk_options opt = {.path = path, .readonly = readonly};
	char err[256];
	int fd;

	snprintf(path, sizeof(path), "%s/lodger-xblk-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	fd = mkstemp(path);
	cr_assert(fd >= 0);
	cr_assert_eq(ftruncate(fd, IMG_SIZE), 0);
	close(fd);
	cr_assert_eq(blk_open(&engine, &opt, err, sizeof(err)), 0, "%s", err);
}

static void setup_ro(bool readonly)
{
	cr_assert_eq(mem_alloc_ram(&mem, RAM), 0);
	xen_gnttab_init(&gt, &mem, GT_BASE, 4, GUEST_PAGES, DOMID);
	gt.nr_frames = 1; /* as GNTTABOP_setup_table would */
	open_image(readonly);
	bb = blkback_new(&gt, engine, 0, notify, NULL);
	cr_assert(bb);
	notifies = 0;
	/* the frontend: a shared ring in frame 10, granted to domain 0 */
	blkif_sring_t *s = (blkif_sring_t *)page(RING_FRAME);

	SHARED_RING_INIT(s);
	FRONT_RING_INIT(&fr, s, 4096);
	grant(RING_REF, RING_FRAME, GTF_permit_access, 0);
	for (unsigned i = 0; i < 300; i++)
		grant(DATA_FRAME + i, DATA_FRAME + i, GTF_permit_access, 0);
	cr_assert_eq(blkback_connect(bb, RING_REF, 7), 0);
}

static void setup(void)
{
	setup_ro(false);
}

static void teardown(void)
{
	blkback_free(bb);
	blk_close(engine);
	unlink(path);
	mem_free(&mem);
}

TestSuite(bb, .init = setup, .fini = teardown);

/* Pushes n requests, notifies, waits for every completion. */
static void run(const blkif_request_t *reqs, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		*RING_GET_REQUEST(&fr, fr.req_prod_pvt++) = reqs[i];
	RING_PUSH_REQUESTS(&fr);
	blkback_kick(bb);
	while (blkback_inflight(bb)) {
		struct pollfd p = {.fd = blk_event_fd(engine), .events = POLLIN};

		cr_assert_eq(poll(&p, 1, 5000), 1, "no completion within 5 s");
		blkback_complete(bb);
	}
}

/* The next response; its id must be `id` and its operation `op`. */
static int16_t response(uint64_t id, uint8_t op)
{
	blkif_response_t r;

	cr_assert_neq(fr.rsp_cons, fr.sring->rsp_prod, "no response for id %llu",
		      (unsigned long long)id);
	r = *RING_GET_RESPONSE(&fr, fr.rsp_cons++);
	cr_expect_eq(r.id, id);
	cr_expect_eq(r.operation, op, "response operation %u, expected %u", r.operation, op);
	return r.status;
}

/* One request's status. An indirect request is answered with the operation it carries, as
 * Xen's blkback does (Linux's blkfront disables the disk on anything else). */
static int16_t one(blkif_request_t req)
{
	uint8_t op = req.operation;

	if (op == BLKIF_OP_INDIRECT) {
		blkif_request_indirect_t ind;

		memcpy(&ind, &req, sizeof(ind));
		op = ind.indirect_op;
	}
	run(&req, 1);
	return response(req.id, op);
}

static blkif_request_t rw(uint8_t op, uint64_t id, uint64_t sector, unsigned nseg)
{
	blkif_request_t r = {
		.operation = op, .nr_segments = (uint8_t)nseg, .id = id, .sector_number = sector};

	for (unsigned i = 0; i < nseg && i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++)
		r.seg[i] = (struct blkif_request_segment){DATA_FRAME + i, 0, 7};
	return r;
}

static void image_read(void *buf, size_t len, off_t off)
{
	int fd = open(path, O_RDONLY);

	cr_assert(fd >= 0);
	cr_assert_eq(pread(fd, buf, len, off), (ssize_t)len);
	close(fd);
}

Test(bb, write_then_read_back)
{
	static uint8_t want[11 * 4096], got[11 * 4096];

	for (unsigned i = 0; i < sizeof(want); i++)
		want[i] = (uint8_t)(i * 7 + 3);
	for (unsigned i = 0; i < 11; i++)
		memcpy(page(DATA_FRAME + i), want + i * 4096, 4096);
	cr_expect_eq(one(rw(BLKIF_OP_WRITE, 1, 8, 11)), BLKIF_RSP_OKAY);
	image_read(got, sizeof(got), 8 * 512);
	cr_expect_eq(memcmp(got, want, sizeof(got)), 0, "on the image");
	for (unsigned i = 0; i < 11; i++)
		memset(page(DATA_FRAME + i), 0, 4096);
	cr_expect_eq(one(rw(BLKIF_OP_READ, 2, 8, 11)), BLKIF_RSP_OKAY);
	for (unsigned i = 0; i < 11; i++)
		cr_expect_eq(memcmp(page(DATA_FRAME + i), want + i * 4096, 4096), 0, "page %u", i);
	cr_expect(notifies > 0);
	cr_expect_eq(last_port, 7);
}

Test(bb, partial_sectors_of_a_page)
{
	blkif_request_t r = rw(BLKIF_OP_WRITE, 3, 100, 1);
	uint8_t got[2 * 512];

	r.seg[0].first_sect = 2, r.seg[0].last_sect = 3;
	memset(page(DATA_FRAME), 0x11, 4096);
	memset(page(DATA_FRAME) + 1024, 0xab, 1024);
	cr_expect_eq(one(r), BLKIF_RSP_OKAY);
	image_read(got, sizeof(got), 100 * 512);
	for (unsigned i = 0; i < sizeof(got); i++)
		cr_assert_eq(got[i], 0xab, "byte %u: sectors 2..3 of the page", i);
	image_read(got, 512, 102 * 512);
	cr_expect_eq(got[0], 0, "nothing after");
}

Test(bb, flush_barrier_and_many_in_flight)
{
	blkif_request_t reqs[32];

	cr_expect_eq(one((blkif_request_t){.operation = BLKIF_OP_FLUSH_DISKCACHE,
					   .id = 9,
					   .sector_number = ~0ULL}),
		     BLKIF_RSP_OKAY, "a flush has no sector");
	memset(page(DATA_FRAME), 0x5a, 4096);
	cr_expect_eq(one(rw(BLKIF_OP_WRITE_BARRIER, 10, 0, 1)), BLKIF_RSP_OKAY);
	uint8_t got[4096];

	image_read(got, sizeof(got), 0);
	cr_expect_eq(got[4095], 0x5a);
	cr_expect_eq(one(rw(BLKIF_OP_FLUSH_DISKCACHE, 11, 16, 1)), BLKIF_RSP_OKAY,
		     "a flush with data: flush, then the write");
	for (unsigned i = 0; i < 32; i++)
		reqs[i] = rw(i % 2 ? BLKIF_OP_READ : BLKIF_OP_WRITE, 100 + i, i * 8, 1);
	run(reqs, 32);
	for (unsigned i = 0; i < 32; i++) {
		blkif_response_t r = *RING_GET_RESPONSE(&fr, fr.rsp_cons++);

		cr_expect_eq(r.status, BLKIF_RSP_OKAY);
	}
	cr_expect_eq(fr.rsp_cons, fr.sring->rsp_prod);
}

Test(bb, discard)
{
	blkif_request_discard_t d = {
		.operation = BLKIF_OP_DISCARD, .id = 5, .sector_number = 8, .nr_sectors = 8};
	blkif_request_t r;
	int16_t want = blk_discard_supported(engine) ? BLKIF_RSP_OKAY : BLKIF_RSP_EOPNOTSUPP;

	memcpy(&r, &d, sizeof(d));
	cr_expect_eq(one(r), want);
	d.sector_number = SECTORS - 4;
	memcpy(&r, &d, sizeof(d));
	cr_expect_eq(one(r), blk_discard_supported(engine) ? BLKIF_RSP_ERROR : want,
		     "past the end");
}

Test(bb, indirect_segments)
{
	blkif_request_indirect_t ind = {.operation = BLKIF_OP_INDIRECT,
					.indirect_op = BLKIF_OP_WRITE,
					.nr_segments = 200,
					.id = 77,
					.sector_number = 0};
	struct blkif_request_segment *segs = (void *)page(50);
	blkif_request_t r;
	static uint8_t got[200 * 512];

	grant(40, 50, GTF_permit_access | GTF_readonly, 0); /* the backend only reads it */
	ind.indirect_grefs[0] = 40;
	for (unsigned i = 0; i < 200; i++) {
		segs[i] = (struct blkif_request_segment){DATA_FRAME + i, 0, 0};
		memset(page(DATA_FRAME + i), (int)i, 512);
	}
	memcpy(&r, &ind, sizeof(ind));
	cr_expect_eq(one(r), BLKIF_RSP_OKAY);
	image_read(got, sizeof(got), 0);
	for (unsigned i = 0; i < 200; i++)
		cr_expect_eq(got[i * 512 + 511], (uint8_t)i, "segment %u", i);
	ind.nr_segments = BLKBACK_MAX_INDIRECT + 1;
	memcpy(&r, &ind, sizeof(ind));
	cr_expect_eq(one(r), BLKIF_RSP_ERROR, "too many segments");
	ind.nr_segments = 600; /* two pages: the second is not granted */
	ind.indirect_grefs[1] = 3999;
	memcpy(&r, &ind, sizeof(ind));
	cr_expect_eq(one(r), BLKIF_RSP_ERROR);
	ind.nr_segments = 4, ind.indirect_op = BLKIF_OP_DISCARD;
	memcpy(&r, &ind, sizeof(ind));
	cr_expect_eq(one(r), BLKIF_RSP_ERROR);
}

Test(bb, hostile_requests)
{
	blkif_request_t r;

	r = rw(BLKIF_OP_READ, 1, 0, 1);
	r.nr_segments = 0;
	cr_expect_eq(one(r), BLKIF_RSP_ERROR, "no segments");
	r = rw(BLKIF_OP_READ, 2, 0, 11);
	r.nr_segments = 12;
	cr_expect_eq(one(r), BLKIF_RSP_ERROR, "12 segments");
	r = rw(BLKIF_OP_READ, 3, 0, 1);
	r.seg[0].first_sect = 5, r.seg[0].last_sect = 4;
	cr_expect_eq(one(r), BLKIF_RSP_ERROR, "first > last");
	r.seg[0].first_sect = 0, r.seg[0].last_sect = 8;
	cr_expect_eq(one(r), BLKIF_RSP_ERROR, "past the page");
	r = rw(BLKIF_OP_READ, 4, SECTORS - 7, 1);
	cr_expect_eq(one(r), BLKIF_RSP_ERROR, "past the image's end");
	r = rw(BLKIF_OP_WRITE, 5, ~0ULL / 256, 1);
	cr_expect_eq(one(r), BLKIF_RSP_ERROR, "a sector that overflows");
	r = rw(BLKIF_OP_READ, 6, 0, 1);
	r.seg[0].gref = 4 * 512; /* past the frame set up */
	cr_expect_eq(one(r), BLKIF_RSP_ERROR, "bad grant reference");
	r.seg[0].gref = 0xffffffff;
	cr_expect_eq(one(r), BLKIF_RSP_ERROR);
	grant(300, 300, GTF_permit_access, 5);
	r.seg[0].gref = 300;
	cr_expect_eq(one(r), BLKIF_RSP_ERROR, "granted to domain 5");
	grant(301, GUEST_PAGES, GTF_permit_access, 0);
	r.seg[0].gref = 301;
	cr_expect_eq(one(r), BLKIF_RSP_ERROR, "a frame that is not the guest's");
	grant(302, GT_BASE, GTF_permit_access, 0);
	r.seg[0].gref = 302;
	cr_expect_eq(one(r), BLKIF_RSP_ERROR, "the grant table itself");
	grant(303, 303, GTF_permit_access | GTF_readonly, 0);
	memset(page(303), 0xee, 4096);
	r.seg[0].gref = 303;
	cr_expect_eq(one(r), BLKIF_RSP_ERROR, "a read into a read-only grant");
	cr_expect_eq(page(303)[0], 0xee, "untouched");
	r.operation = BLKIF_OP_WRITE;
	cr_expect_eq(one(r), BLKIF_RSP_OKAY, "a write from it is fine");
	grant(304, 304, GTF_accept_transfer, 0);
	r.seg[0].gref = 304;
	cr_expect_eq(one(r), BLKIF_RSP_ERROR, "not an access grant");
	r = rw(BLKIF_OP_RESERVED_1, 7, 0, 1);
	cr_expect_eq(one(r), BLKIF_RSP_EOPNOTSUPP);
	r.operation = 200;
	cr_expect_eq(one(r), BLKIF_RSP_EOPNOTSUPP);
	cr_expect(blkback_connected(bb), "errors keep the ring");
}

Test(bb, dishonest_producer_stops_the_ring)
{
	fr.sring->req_prod = fr.req_prod_pvt + 1000;
	blkback_kick(bb);
	cr_expect_eq(fr.sring->rsp_prod, 0, "nothing answered");
	cr_expect_eq(blkback_stats(bb).bad_ring, 1);
	cr_expect(!blkback_connected(bb));
	cr_expect_eq(blkback_inflight(bb), 0);
}

Test(bb, connect_checks_the_ring_grant)
{
	grant(2, RING_FRAME, GTF_permit_access | GTF_readonly, 0);
	cr_expect_eq(blkback_connect(bb, 2, 7), -EINVAL, "the ring must be writable");
	cr_expect_eq(blkback_connect(bb, 9999, 7), -EINVAL);
	grant(3, GUEST_PAGES + 2, GTF_permit_access, 0);
	cr_expect_eq(blkback_connect(bb, 3, 7), -EINVAL);
}

Test(bb, host_io_error_is_blkif_error)
{
	int full = open("/dev/full", O_RDWR | O_CLOEXEC), saved = dup(blk_fd(engine));

	cr_assert(full >= 0 && saved >= 0);
	dup2(full, blk_fd(engine));
	cr_expect_eq(one(rw(BLKIF_OP_WRITE, 1, 0, 2)), BLKIF_RSP_ERROR, "ENOSPC");
	dup2(saved, blk_fd(engine));
	close(full);
	close(saved);
	cr_expect_eq(one(rw(BLKIF_OP_WRITE, 2, 0, 2)), BLKIF_RSP_OKAY, "and it goes on");
}

Test(bb, disconnect_orphans_what_is_in_flight)
{
	blkif_request_t r = rw(BLKIF_OP_WRITE, 1, 0, 11);

	*RING_GET_REQUEST(&fr, fr.req_prod_pvt++) = r;
	RING_PUSH_REQUESTS(&fr);
	blkback_kick(bb);
	blkback_disconnect(bb);
	while (blkback_inflight(bb)) {
		struct pollfd p = {.fd = blk_event_fd(engine), .events = POLLIN};

		cr_assert_eq(poll(&p, 1, 5000), 1);
		blkback_complete(bb);
	}
	cr_expect_eq(fr.sring->rsp_prod, 0, "no response into a ring that is gone");
}

Test(bb_ro, readonly_image_refuses_writes, .init = NULL)
{
	setup_ro(true);
	cr_expect_eq(one(rw(BLKIF_OP_WRITE, 1, 0, 1)), BLKIF_RSP_ERROR);
	cr_expect_eq(one(rw(BLKIF_OP_READ, 2, 0, 1)), BLKIF_RSP_OKAY);
	teardown();
}

/* --- the vbd: xenstore nodes and the state machine ---------------------------------- */

static struct xs_guest g;
static struct xen_vbd *vbd;
static bool port_ok;

static bool bind_port(void *ctx, evtchn_port_t port)
{
	(void)ctx;
	return port_ok && port == 9;
}

static void store_notify(void *ctx)
{
	(void)ctx;
}

static void vbd_setup(void)
{
	cr_assert_eq(mem_alloc_ram(&mem, RAM), 0);
	xen_gnttab_init(&gt, &mem, GT_BASE, 4, GUEST_PAGES, DOMID);
	gt.nr_frames = 1;
	open_image(false);
	memset(&g, 0, sizeof(g));
	g.r = (void *)(mem.ram + XS_GPA);
	g.s = xenstore_new(&mem, XS_GPA, DOMID, store_notify, NULL);
	cr_assert(g.s);
	struct xen_vbd_params p = {.xs = g.s,
				   .gnttab = &gt,
				   .engine = engine,
				   .image = path,
				   .domid = DOMID,
				   .vdev = 51712,
				   .notify = notify,
				   .bind_port = bind_port};

	cr_assert_eq(xen_vbd_create(&vbd, &p), 0);
	port_ok = true;
	blkif_sring_t *s = (blkif_sring_t *)page(RING_FRAME);

	SHARED_RING_INIT(s);
	FRONT_RING_INIT(&fr, s, 4096);
	grant(RING_REF, RING_FRAME, GTF_permit_access, 0);
	grant(DATA_FRAME, DATA_FRAME, GTF_permit_access, 0);
}

static void vbd_teardown(void)
{
	xenstore_free(g.s);
	xen_vbd_free(vbd);
	blk_close(engine);
	unlink(path);
	mem_free(&mem);
}

TestSuite(vbd, .init = vbd_setup, .fini = vbd_teardown);

#define FE "device/vbd/51712"
#define BE "/local/domain/0/backend/vbd/1/51712"

static const char *guest_read(const char *p)
{
	cr_assert_eq(xsg_read(&g, 0, p), XS_READ, "%s: %s", p, g.body);
	return g.body;
}

static void frontend_connects(const char *ring_ref)
{
	uint32_t tx;

	cr_assert_eq(xsg_req(&g, XS_TRANSACTION_START, 0, "", 1), XS_TRANSACTION_START);
	tx = (uint32_t)strtoul(g.body, NULL, 10);
	cr_assert_eq(xsg_write(&g, tx, FE "/ring-ref", ring_ref), XS_WRITE);
	cr_assert_eq(xsg_write(&g, tx, FE "/event-channel", "9"), XS_WRITE);
	cr_assert_eq(xsg_write(&g, tx, FE "/protocol", "x86_64-abi"), XS_WRITE);
	cr_assert_eq(xsg_req(&g, XS_TRANSACTION_END, tx, "T", 2), XS_TRANSACTION_END);
	cr_assert_eq(xsg_write(&g, 0, FE "/state", "3"), XS_WRITE);
}

Test(vbd, nodes_as_blkfront_reads_them)
{
	cr_expect_str_eq(guest_read(FE "/backend"), BE);
	cr_expect_str_eq(guest_read(FE "/backend-id"), "0");
	cr_expect_str_eq(guest_read(FE "/virtual-device"), "51712");
	cr_expect_str_eq(guest_read(FE "/state"), "1");
	cr_expect_str_eq(guest_read(BE "/state"), "2", "InitWait");
	cr_expect_str_eq(guest_read(BE "/sectors"), "2048");
	cr_expect_str_eq(guest_read(BE "/sector-size"), "512");
	cr_expect_str_eq(guest_read(BE "/info"), "0");
	cr_expect_str_eq(guest_read(BE "/feature-flush-cache"), "1");
	cr_expect_str_eq(guest_read(BE "/feature-max-indirect-segments"), "256");
	cr_expect_eq(xsg_req(&g, XS_DIRECTORY, 0, BE, sizeof(BE)), XS_DIRECTORY,
		     "xenbus_exists on the backend");
	cr_expect_eq(xsg_write(&g, 0, BE "/sectors", "99999999"), XS_ERROR,
		     "the backend's nodes are domain 0's");
	cr_expect_eq(xsg_write(&g, 0, BE "/state", "4"), XS_ERROR);
}

Test(vbd, state_machine_and_io)
{
	cr_assert_eq(xsg_req2(&g, XS_WATCH, 0, BE "/state", "be", true), XS_WATCH);
	frontend_connects("1");
	cr_expect_str_eq(guest_read(BE "/state"), "4", "Connected");
	xsg_drain(&g);
	bool heard = false;

	for (unsigned i = 0; i < g.nevents; i++)
		heard |= !strcmp(g.events[i], BE "/state|be");
	cr_expect(heard, "the frontend's watch on the backend's state fired");
	cr_expect_eq(xen_vbd_port(vbd), 9);
	bb = xen_vbd_blkback(vbd);
	memset(page(DATA_FRAME), 0x42, 4096);
	cr_expect_eq(one(rw(BLKIF_OP_WRITE, 1, 0, 1)), BLKIF_RSP_OKAY);
	cr_expect_eq(last_port, 9);
	/* close, reconnect */
	cr_assert_eq(xsg_write(&g, 0, FE "/state", "5"), XS_WRITE);
	cr_expect_str_eq(guest_read(BE "/state"), "5");
	cr_assert_eq(xsg_write(&g, 0, FE "/state", "6"), XS_WRITE);
	cr_expect_str_eq(guest_read(BE "/state"), "6");
	cr_expect(!blkback_connected(bb));
	cr_assert_eq(xsg_write(&g, 0, FE "/state", "1"), XS_WRITE);
	cr_expect_str_eq(guest_read(BE "/state"), "2", "InitWait again");
	frontend_connects("1");
	cr_expect_str_eq(guest_read(BE "/state"), "4");
}

Test(vbd, bad_ring_ref_or_port_fails_the_connection)
{
	frontend_connects("4000");
	cr_expect_str_eq(guest_read(BE "/state"), "5", "Closing");
	cr_expect(strstr(guest_read(BE "/error"), "ring-ref") != NULL);
	cr_expect(!blkback_connected(xen_vbd_blkback(vbd)));
}

Test(vbd, port_not_for_domain_0)
{
	port_ok = false;
	frontend_connects("1");
	cr_expect_str_eq(guest_read(BE "/state"), "5");
	cr_expect(strstr(guest_read(BE "/error"), "event-channel") != NULL);
}

Test(vbd, nonsense_states_and_values)
{
	cr_assert_eq(xsg_write(&g, 0, FE "/state", "banana"), XS_WRITE);
	cr_expect_str_eq(guest_read(BE "/state"), "2");
	cr_assert_eq(xsg_write(&g, 0, FE "/ring-ref", "-1"), XS_WRITE);
	cr_assert_eq(xsg_write(&g, 0, FE "/event-channel", "99999999999999999999"), XS_WRITE);
	cr_assert_eq(xsg_write(&g, 0, FE "/state", "4"), XS_WRITE);
	cr_expect_str_eq(guest_read(BE "/state"), "5");
	cr_assert_eq(xsg_req(&g, XS_RM, 0, FE "/state", sizeof(FE "/state")), XS_RM);
}
