/*
 * fuzz_xenring.c - libFuzzer harness for the Xen backends' ring parsers: xenstore's
 * request ring (src/xen/xenstore.c, xs_tree.c, with a vbd's state machine, vbd.c, behind
 * it) and the blkif ring with its grant table (blkback.c, grant.c).
 *
 * Input: one byte choosing the target, then
 *   xenstore: chunks of [u8 flags][u16 len][len bytes] written onto the request ring and
 *     kicked; flag bit 0 also sets req_prod from the next u32 (a dishonest index), bit 1
 *     leaves the replies unread;
 *   blkif: the grant table's first 512 bytes (64 entries), then up to 32 ring entries of
 *     112 bytes and a u32 request producer; the ring is kicked and completed twice.
 * Guest memory is fenced by unmapped guard regions; the image is a 64 KiB memfd served
 * synchronously. A crash, a sanitizer report or a hang is a finding.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define xen_mb()  __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define xen_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#include <xen/io/blkif.h>
#include <xen/io/xs_wire.h>

#include "fuzz_common.h"
#include "xen/blkback.h"
#include "xen/grant.h"
#include "xen/vbd.h"
#include "xen/xenstore.h"

#define PAGES	   64 /* guest frames [0, 60), the grant table at 60 */
#define GT_FRAME   60
#define XS_FRAME   1
#define RING_FRAME 2

static uint8_t *ram;
static struct guest_mem mem;
static struct blk_engine *engine;

static void open_engine(void)
{
	struct blk_options opt = {.aio = BLK_AIO_THREADS};
	char path[64], err[128];
	int fd = memfd_create("fuzz-xdisk", 0);

	if (fd < 0 || ftruncate(fd, 64 * 1024) < 0)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	opt.path = path;
	if (blk_open(&engine, &opt, err, sizeof(err)))
		abort();
}

static void no_notify(void *ctx)
{
	(void)ctx;
}

static void no_port(void *ctx, evtchn_port_t port)
{
	(void)ctx;
	(void)port;
}

static void fuzz_xenstore(struct fuzz_input *in, const struct xen_gnttab *gt)
{
	struct xenstore *s = xenstore_new(&mem, XS_FRAME * 4096, 1, no_notify, NULL);
	struct xenstore_domain_interface *r = (void *)(ram + XS_FRAME * 4096);
	struct xen_vbd *vbd = NULL;
	struct xen_vbd_params p = {.gnttab = gt,
				   .engine = engine,
				   .image = "fuzz",
				   .domid = 1,
				   .vdev = 51712,
				   .notify = no_port};
	unsigned rounds = 0;

	if (!s)
		abort();
	p.xs = s;
	FUZZ_CHECK(xenstore_mkdir(s, "/local/domain/1") == 0, "toolstack tree");
	xenstore_set_perms(s, "/local/domain/1", (struct xs_perm[]){{0, 'n'}, {1, 'r'}}, 2);
	FUZZ_CHECK(xen_vbd_create(&vbd, &p) == 0, "vbd");
	while (in->left && rounds++ < 64) {
		uint8_t flags = fin_u8(in);
		uint16_t len = fin_u16(in) % 1100;

		for (uint16_t i = 0; i < len; i++)
			r->req[MASK_XENSTORE_IDX(r->req_prod + i)] = (char)fin_u8(in);
		r->req_prod += len;
		if (flags & 1)
			r->req_prod = fin_u32(in);
		xenstore_kick(s);
		FUZZ_CHECK(r->rsp_prod - r->rsp_cons <= XENSTORE_RING_SIZE || xenstore_error(s),
			   "rsp ring overfilled: prod %u cons %u", r->rsp_prod, r->rsp_cons);
		if (!(flags & 2))
			r->rsp_cons = r->rsp_prod;
	}
	xenstore_free(s);
	xen_vbd_free(vbd);
}

static void fuzz_blkif(struct fuzz_input *in, const struct xen_gnttab *gt)
{
	struct blkback *b = blkback_new(gt, engine, 0, no_port, NULL);
	blkif_sring_t *s = (void *)(ram + RING_FRAME * 4096);

	if (!b)
		abort();
	fin_bytes(in, ram + GT_FRAME * 4096, 512);
	/* the ring itself is always granted, so that the parser runs */
	*(struct grant_entry_v1 *)(ram + GT_FRAME * 4096 + 8) =
		(struct grant_entry_v1){GTF_permit_access, 0, RING_FRAME};
	memset(s, 0, 64);
	fin_bytes(in, s->ring, 32 * sizeof(s->ring[0]));
	s->req_prod = fin_u32(in);
	s->rsp_event = 1;
	FUZZ_CHECK(blkback_connect(b, 1, 5) == 0, "the ring grant");
	for (int round = 0; round < 2; round++) {
		blkback_kick(b);
		blkback_complete(b);
		FUZZ_CHECK(s->rsp_prod - 0 <= 32 * (unsigned)(round + 1),
			   "more responses (%u) than requests", s->rsp_prod);
	}
	blkback_disconnect(b);
	blkback_complete(b);
	FUZZ_CHECK(blkback_inflight(b) == 0, "synchronous I/O left %u in flight",
		   blkback_inflight(b));
	blkback_free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = {data, size};
	struct xen_gnttab gt;

	if (!ram) {
		ram = fuzz_map_guarded(PAGES * 4096);
		mem = (struct guest_mem){.ram = ram, .ram_size = PAGES * 4096};
		open_engine();
	}
	memset(ram, 0, PAGES * 4096);
	xen_gnttab_init(&gt, &mem, GT_FRAME, 1, GT_FRAME, 1);
	gt.nr_frames = 1;
	if (fin_u8(&in) & 1)
		fuzz_blkif(&in, &gt);
	else
		fuzz_xenstore(&in, &gt);
	return 0;
}
