/* blkback.c - blkif requests from a hostile frontend, served by the block engine. */
#include "xen/blkback.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ring.h leaves the barriers to its includer */
#define xen_mb()  __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define xen_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#include <xen/io/blkif.h>

#define PAGE	       4096u
#define SECTS_PER_PAGE (PAGE / BLK_SECTOR_SIZE)
#define SEGS_PER_IND   (PAGE / sizeof(struct blkif_request_segment))
#define SLOTS	       __CONST_RING_SIZE(blkif, PAGE)
#define MAX_STEPS      3

struct slot {
	bool in_use, orphan;
	uint64_t id;
	uint8_t op;
	uint8_t steps[MAX_STEPS]; /* enum blk_op, run in order */
	unsigned nsteps, step;
	struct blk_req req;
	uint64_t offset;
	struct iovec iov[BLKBACK_MAX_INDIRECT];
	unsigned iovcnt;
	uint64_t discard_len;
};

struct blkback {
	pthread_mutex_t lock;
	const struct xen_gnttab *gnttab;
	struct blk_engine *engine;
	uint16_t backend_id;
	blkback_notify_fn notify;
	void *ctx;

	bool connected, broken;
	blkif_back_ring_t ring;
	evtchn_port_t port;
	struct slot slots[SLOTS];
	unsigned inflight;
	struct blkif_request_segment segs[BLKBACK_MAX_INDIRECT]; /* scratch, under the lock */
	struct blkback_stats stats;
};

struct blkback *blkback_new(const struct xen_gnttab *gnttab, struct blk_engine *engine,
			    uint16_t backend_id, blkback_notify_fn notify, void *ctx)
{
	struct blkback *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	pthread_mutex_init(&b->lock, NULL);
	b->gnttab = gnttab;
	b->engine = engine;
	b->backend_id = backend_id;
	b->notify = notify;
	b->ctx = ctx;
	return b;
}

void blkback_free(struct blkback *b)
{
	if (!b)
		return;
	pthread_mutex_destroy(&b->lock);
	free(b);
}

int blkback_connect(struct blkback *b, grant_ref_t ring_ref, evtchn_port_t port)
{
	blkif_sring_t *s =
		xen_gnttab_access(b->gnttab, ring_ref, b->backend_id, true, 0, PAGE, NULL);

	if (!s)
		return -EINVAL;
	pthread_mutex_lock(&b->lock);
	for (unsigned i = 0; i < SLOTS; i++)
		if (b->slots[i].in_use)
			b->slots[i].orphan = true;
	BACK_RING_INIT(&b->ring, s, PAGE);
	b->port = port;
	b->connected = true;
	b->broken = false;
	pthread_mutex_unlock(&b->lock);
	return 0;
}

void blkback_disconnect(struct blkback *b)
{
	pthread_mutex_lock(&b->lock);
	for (unsigned i = 0; i < SLOTS; i++)
		if (b->slots[i].in_use)
			b->slots[i].orphan = true;
	b->connected = false;
	pthread_mutex_unlock(&b->lock);
}

bool blkback_connected(struct blkback *b)
{
	bool c;

	pthread_mutex_lock(&b->lock);
	c = b->connected && !b->broken;
	pthread_mutex_unlock(&b->lock);
	return c;
}

/* Queues one response (lock held); the caller pushes them. */
static void respond(struct blkback *b, uint64_t id, uint8_t op, int16_t status)
{
	struct blkif_response r = {.id = id, .operation = op, .status = status};

	if (status == BLKIF_RSP_ERROR)
		b->stats.errors++;
	else if (status == BLKIF_RSP_EOPNOTSUPP)
		b->stats.unsupported++;
	memcpy(RING_GET_RESPONSE(&b->ring, b->ring.rsp_prod_pvt), &r, sizeof(r));
	b->ring.rsp_prod_pvt++;
}

static void push(struct blkback *b)
{
	int notify;

	RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&b->ring, notify);
	if (notify && b->notify)
		b->notify(b->ctx, b->port);
}

static int16_t status_of(int result)
{
	if (!result)
		return BLKIF_RSP_OKAY;
	return result == -EOPNOTSUPP ? BLKIF_RSP_EOPNOTSUPP : BLKIF_RSP_ERROR;
}

/* Submits the slot's current step; 0 or -errno (then nothing is in flight). */
static int submit_step(struct blkback *b, struct slot *s)
{
	enum blk_op op = s->steps[s->step];

	s->req = (struct blk_req){.op = op, .opaque = s};
	if (op == BLK_OP_READ || op == BLK_OP_WRITE) {
		s->req.offset = s->offset;
		s->req.iov = s->iov;
		s->req.iovcnt = s->iovcnt;
	} else if (op == BLK_OP_DISCARD) {
		s->req.offset = s->offset;
		s->req.len = s->discard_len;
	}
	return blk_submit(b->engine, &s->req);
}

/* The segments' guest buffers into s->iov; false on any bad segment. */
static bool map_segments(struct blkback *b, struct slot *s, const struct blkif_request_segment *seg,
			 unsigned n, bool into_guest, uint64_t *bytes)
{
	*bytes = 0;
	for (unsigned i = 0; i < n; i++) {
		unsigned first = seg[i].first_sect, last = seg[i].last_sect;
		void *p;

		if (first > last || last >= SECTS_PER_PAGE)
			return false;
		p = xen_gnttab_access(b->gnttab, seg[i].gref, b->backend_id, into_guest,
				      first * BLK_SECTOR_SIZE, (last - first + 1) * BLK_SECTOR_SIZE,
				      NULL);
		if (!p)
			return false;
		s->iov[i] = (struct iovec){p, (last - first + 1) * BLK_SECTOR_SIZE};
		*bytes += s->iov[i].iov_len;
	}
	s->iovcnt = n;
	return true;
}

/* The segments of an indirect request into b->segs; false when a page is not granted. */
static bool read_indirect(struct blkback *b, const struct blkif_request_indirect *ind,
			  unsigned nseg)
{
	unsigned pages = (nseg + SEGS_PER_IND - 1) / SEGS_PER_IND;

	for (unsigned i = 0; i < pages; i++) {
		unsigned k = nseg - i * SEGS_PER_IND < SEGS_PER_IND ? nseg - i * SEGS_PER_IND
								    : SEGS_PER_IND;
		const void *p = xen_gnttab_access(b->gnttab, ind->indirect_grefs[i], b->backend_id,
						  false, 0, PAGE, NULL);

		if (!p)
			return false;
		memcpy(&b->segs[i * SEGS_PER_IND], p, k * sizeof(b->segs[0]));
	}
	return true;
}

/* Turns one request into engine steps, or answers it. True when it went to the engine. */
static bool start(struct blkback *b, struct slot *s, const blkif_request_t *req)
{
	uint64_t sectors = blk_size(b->engine) / BLK_SECTOR_SIZE, bytes = 0;
	const struct blkif_request_segment *seg = req->seg;
	uint8_t op = req->operation;
	unsigned nseg = req->nr_segments;
	bool data_in = false; /* into the guest (a read) */
	int r;

	s->id = req->id; /* at the same offset in every request type */
	s->op = op;
	s->nsteps = s->step = 0;
	s->iovcnt = 0;
	switch (op) {
	case BLKIF_OP_READ:
	case BLKIF_OP_WRITE:
		if (!nseg)
			goto error;
		break;
	case BLKIF_OP_FLUSH_DISKCACHE:
	case BLKIF_OP_WRITE_BARRIER:
		s->steps[s->nsteps++] = BLK_OP_FLUSH;
		break;
	case BLKIF_OP_DISCARD: {
		blkif_request_discard_t d;

		memcpy(&d, req, sizeof(d));
		if (!blk_discard_supported(b->engine) || blk_readonly(b->engine)) {
			respond(b, s->id, op, BLKIF_RSP_EOPNOTSUPP);
			return false;
		}
		if (d.sector_number > sectors || d.nr_sectors > sectors - d.sector_number)
			goto error;
		s->offset = d.sector_number * BLK_SECTOR_SIZE;
		s->discard_len = d.nr_sectors * BLK_SECTOR_SIZE;
		s->steps[s->nsteps++] = BLK_OP_DISCARD;
		goto submit;
	}
	case BLKIF_OP_INDIRECT: {
		blkif_request_indirect_t ind;

		memcpy(&ind, req, sizeof(ind));
		/* answered with the operation it carries, as Xen's blkback does: Linux's blkfront
		 * disables the disk on a response naming BLKIF_OP_INDIRECT */
		s->op = ind.indirect_op;
		if (ind.indirect_op != BLKIF_OP_READ && ind.indirect_op != BLKIF_OP_WRITE)
			goto error;
		nseg = ind.nr_segments;
		if (!nseg || nseg > BLKBACK_MAX_INDIRECT || !read_indirect(b, &ind, nseg))
			goto error;
		seg = b->segs;
		op = ind.indirect_op;
		if (ind.sector_number > sectors)
			goto error;
		s->offset = ind.sector_number * BLK_SECTOR_SIZE;
		goto data;
	}
	default:
		respond(b, s->id, op, BLKIF_RSP_EOPNOTSUPP);
		return false;
	}
	if (nseg > BLKIF_MAX_SEGMENTS_PER_REQUEST || (nseg && req->sector_number > sectors))
		goto error;
	s->offset = req->sector_number * BLK_SECTOR_SIZE;
data:
	if (nseg) {
		data_in = op == BLKIF_OP_READ;
		if (!map_segments(b, s, seg, nseg, data_in, &bytes))
			goto error;
		if (s->offset / BLK_SECTOR_SIZE + bytes / BLK_SECTOR_SIZE > sectors)
			goto error;
		s->steps[s->nsteps++] = data_in ? BLK_OP_READ : BLK_OP_WRITE;
	}
	if (s->op == BLKIF_OP_WRITE_BARRIER)
		s->steps[s->nsteps++] = BLK_OP_FLUSH; /* the write is durable when acknowledged */
submit:
	r = submit_step(b, s);
	if (r) {
		respond(b, s->id, s->op, status_of(r));
		return false;
	}
	s->in_use = true;
	s->orphan = false;
	b->inflight++;
	return true;
error:
	respond(b, s->id, s->op, BLKIF_RSP_ERROR);
	return false;
}

static struct slot *free_slot(struct blkback *b)
{
	for (unsigned i = 0; i < SLOTS; i++)
		if (!b->slots[i].in_use)
			return &b->slots[i];
	return NULL;
}

/* Takes requests until the ring is empty or the slots run out (lock held). */
static void process(struct blkback *b)
{
	bool queued = false;
	int more;

	if (!b->connected || b->broken)
		return;
	do {
		RING_IDX rc = b->ring.req_cons;
		RING_IDX rp = __atomic_load_n(&b->ring.sring->req_prod, __ATOMIC_ACQUIRE);

		if (RING_REQUEST_PROD_OVERFLOW(&b->ring, rp)) {
			b->broken = true; /* Linux: "Frontend provided bogus ring requests" */
			b->stats.bad_ring++;
			break;
		}
		while (rc != rp && !RING_REQUEST_CONS_OVERFLOW(&b->ring, rc)) {
			struct slot *s = free_slot(b);
			blkif_request_t req;

			if (!s)
				goto out; /* a completion takes up again */
			RING_COPY_REQUEST(&b->ring, rc, &req);
			b->ring.req_cons = ++rc;
			b->stats.requests++;
			queued |= start(b, s, &req);
		}
		RING_FINAL_CHECK_FOR_REQUESTS(&b->ring, more);
	} while (more);
out:
	if (queued)
		blk_kick(b->engine);
	push(b);
}

void blkback_kick(struct blkback *b)
{
	pthread_mutex_lock(&b->lock);
	process(b);
	pthread_mutex_unlock(&b->lock);
}

static void on_done(void *ctx, struct blk_req *req, int result)
{
	struct blkback *b = ctx;
	struct slot *s = req->opaque;

	if (!result && s->step + 1 < s->nsteps && !s->orphan) {
		s->step++;
		result = submit_step(b, s);
		if (!result)
			return; /* the next step is in flight */
	}
	s->in_use = false;
	b->inflight--;
	if (s->orphan || !b->connected || b->broken)
		return;
	respond(b, s->id, s->op, status_of(result));
}

void blkback_complete(struct blkback *b)
{
	pthread_mutex_lock(&b->lock);
	blk_complete(b->engine, on_done, b);
	blk_kick(b->engine); /* next steps submitted from on_done */
	if (b->connected && !b->broken)
		process(b); /* pushes the responses, and takes what waited for a slot */
	pthread_mutex_unlock(&b->lock);
}

unsigned blkback_inflight(struct blkback *b)
{
	unsigned n;

	pthread_mutex_lock(&b->lock);
	n = b->inflight;
	pthread_mutex_unlock(&b->lock);
	return n;
}

struct blkback_stats blkback_stats(struct blkback *b)
{
	struct blkback_stats s;

	pthread_mutex_lock(&b->lock);
	s = b->stats;
	pthread_mutex_unlock(&b->lock);
	return s;
}
