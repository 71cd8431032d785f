/*
 * virtio_blk.c - virtio-blk requests (virtio 1.x section 5.2) from a hostile guest.
 *
 * A request is a chain: device-readable bytes (the 16-byte header, then write data or
 * discard segments), then device-writable bytes (read data, then the status byte, the
 * chain's last). Nothing is assumed about how the guest cuts it into descriptors. A
 * chain whose buffers leave guest RAM, whose header is short or whose sectors pass the
 * end of the image ends with VIRTIO_BLK_S_IOERR; one with no writable last byte cannot
 * be told anything and is returned with nothing written; a chain that cannot be
 * followed, a dishonest avail ring or a head already in flight puts the device in
 * DEVICE_NEEDS_RESET.
 */
#include "dev/virtio_blk.h"

#include <errno.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include <stdio.h>
#include <string.h>

#define HDR_SIZE 16
#define SEG_MAX	 (VQ_MAX_SIZE - 2) /* data descriptors beside the header and status */
/* The largest data descriptor (VIRTIO_BLK_F_SIZE_MAX): with SEG_MAX, a request moves at
 * most 8 MiB, so no guest (descriptors may alias the same RAM) makes one notify move
 * gigabytes on the vCPU's thread (the synchronous fallback) or bounce buffers that size
 * (cache=none). A descriptor may carry the header or the status byte besides. */
#define SIZE_MAX_BYTES	 (64u << 10)
#define DESC_MAX_BYTES	 (SIZE_MAX_BYTES + HDR_SIZE + 1)
#define DISCARD_SEG_SIZE 16

static struct virtio_blk_config config_of(const struct virtio_blk *b)
{
	struct virtio_blk_config c = {
		.capacity = blk_size(b->engine) / BLK_SECTOR_SIZE,
		.size_max = SIZE_MAX_BYTES,
		.seg_max = SEG_MAX,
		.blk_size = BLK_SECTOR_SIZE,
		.num_queues = 1,
		.max_discard_sectors = UINT32_MAX / BLK_SECTOR_SIZE,
		.max_discard_seg = 1,
		.discard_sector_alignment = 1,
	};

	return c;
}

static void config_read(void *dev, uint64_t off, uint8_t *data, unsigned len)
{
	struct virtio_blk_config c = config_of(dev);

	memcpy(data, (uint8_t *)&c + off, len); /* bounded by the transport */
}

#define span virtio_blk_span

/* Copies `len` bytes from the front of a span; false when it is shorter. */
static bool span_read(const struct span *s, void *out, size_t len)
{
	uint8_t *o = out;

	for (unsigned i = 0; i < s->n && len; i++) {
		size_t k = s->iov[i].iov_len < len ? s->iov[i].iov_len : len;

		memcpy(o, s->iov[i].iov_base, k);
		o += k;
		len -= k;
	}
	return len == 0;
}

/* The span less `skip` bytes at the front and `trim` at the back, into iov. */
static unsigned span_slice(const struct span *s, uint64_t skip, uint64_t trim, struct iovec *iov)
{
	uint64_t want = s->total - skip - trim; /* callers check total >= skip + trim */
	unsigned n = 0;

	for (unsigned i = 0; i < s->n && want; i++) {
		uint8_t *base = s->iov[i].iov_base;
		uint64_t len = s->iov[i].iov_len;

		if (skip >= len) {
			skip -= len;
			continue;
		}
		base += skip;
		len -= skip;
		skip = 0;
		if (len > want)
			len = want;
		iov[n++] = (struct iovec){base, len};
		want -= len;
	}
	return n;
}

static struct virtio_blk_slot *slot_get(struct virtio_blk *b)
{
	for (unsigned i = 0; i < VIRTIO_BLK_SLOTS; i++)
		if (!b->slots[i].in_use)
			return &b->slots[i];
	return NULL;
}

static uint8_t status_of(int result)
{
	if (result == 0)
		return VIRTIO_BLK_S_OK;
	return result == -EOPNOTSUPP ? VIRTIO_BLK_S_UNSUPP : VIRTIO_BLK_S_IOERR;
}

/* Ends a request now: its status, the chain back to the guest. */
static void finish_now(struct virtio_blk *b, uint16_t head, uint8_t *status, uint8_t value,
		       uint32_t used_len)
{
	struct virtio_mmio *t = &b->transport;

	if (value == VIRTIO_BLK_S_IOERR)
		b->stats.io_errors++;
	else if (value == VIRTIO_BLK_S_UNSUPP)
		b->stats.unsupported++;
	if (status)
		*status = value;
	if (!vq_push(t->mem, &t->vq[0], head, status ? used_len : 0))
		virtio_mmio_needs_reset(t);
}

/*
 * Turns one chain into an engine request in `s`, or ends it. Returns true when the
 * request went to the engine.
 */
static bool start_request(struct virtio_blk *b, const struct vq_chain *c, struct virtio_blk_slot *s)
{
	struct span *rd = &b->rd, *wr = &b->wr;
	const struct vq_buf *last = &c->buf[c->n - 1];
	struct virtio_blk_outhdr hdr;
	uint8_t *status = NULL;
	uint64_t size = blk_size(b->engine);
	int r;

	if (last->writable && last->host && last->len >= 1)
		status = last->host + last->len - 1;
	if (!status) {
		finish_now(b, c->head, NULL, 0, 0);
		return false;
	}
	if (c->bad_buffer)
		goto ioerr;
	rd->n = wr->n = 0;
	rd->total = wr->total = 0;
	for (unsigned i = 0; i < c->n; i++) {
		struct span *sp = c->buf[i].writable ? wr : rd;

		if ((!c->buf[i].writable && wr->n) /* readable after writable */ ||
		    c->buf[i].len > DESC_MAX_BYTES)
			goto ioerr;
		sp->iov[sp->n++] = (struct iovec){c->buf[i].host, c->buf[i].len};
		sp->total += c->buf[i].len;
	}
	if (!span_read(rd, &hdr, sizeof(hdr)))
		goto ioerr;

	s->req = (struct blk_req){.opaque = s};
	s->head = c->head;
	s->status = status;
	s->used_len = 1;
	switch (hdr.type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT: {
		bool in = hdr.type == VIRTIO_BLK_T_IN;
		const struct span *data = in ? wr : rd;
		uint64_t skip = in ? 0 : HDR_SIZE, trim = in ? 1 : 0;

		if (data->total < skip + trim || data->total > UINT32_MAX)
			goto ioerr;
		s->req.op = in ? BLK_OP_READ : BLK_OP_WRITE;
		s->req.iovcnt = span_slice(data, skip, trim, s->iov);
		s->req.iov = s->iov;
		if (hdr.sector > size / BLK_SECTOR_SIZE)
			goto ioerr;
		s->req.offset = hdr.sector * BLK_SECTOR_SIZE;
		if (in)
			s->used_len = (uint32_t)wr->total; /* the data and the status byte */
		if (!s->req.iovcnt)			   /* no data: nothing to do */
			goto ok;
		break;
	}
	case VIRTIO_BLK_T_FLUSH:
		s->req.op = BLK_OP_FLUSH;
		break;
	case VIRTIO_BLK_T_GET_ID: {
		struct iovec iov[VQ_MAX_SIZE];
		uint64_t room = wr->total - 1;
		unsigned n = span_slice(wr, 0, 1, iov);
		size_t left = room < sizeof(b->serial) ? room : sizeof(b->serial);
		const char *src = b->serial;

		for (unsigned i = 0; i < n && left; i++) {
			size_t k = iov[i].iov_len < left ? iov[i].iov_len : left;

			memcpy(iov[i].iov_base, src, k);
			src += k;
			left -= k;
		}
		s->used_len = (uint32_t)(room < sizeof(b->serial) ? room : sizeof(b->serial)) + 1;
		goto ok;
	}
	case VIRTIO_BLK_T_DISCARD: {
		struct virtio_blk_discard_write_zeroes seg;

		if (!(b->ops.features & 1ULL << VIRTIO_BLK_F_DISCARD)) {
			finish_now(b, c->head, status, VIRTIO_BLK_S_UNSUPP, 1);
			return false;
		}
		if (rd->total != HDR_SIZE + DISCARD_SEG_SIZE) /* max_discard_seg is 1 */
			goto ioerr;
		uint8_t both[HDR_SIZE + DISCARD_SEG_SIZE];

		span_read(rd, both, sizeof(both));
		memcpy(&seg, both + HDR_SIZE, sizeof(seg));
		if (seg.flags) { /* the unmap flag belongs to write-zeroes */
			finish_now(b, c->head, status, VIRTIO_BLK_S_UNSUPP, 1);
			return false;
		}
		if (seg.sector > size / BLK_SECTOR_SIZE)
			goto ioerr;
		s->req.op = BLK_OP_DISCARD;
		s->req.offset = seg.sector * BLK_SECTOR_SIZE;
		s->req.len = (uint64_t)seg.num_sectors * BLK_SECTOR_SIZE;
		break;
	}
	default:
		finish_now(b, c->head, status, VIRTIO_BLK_S_UNSUPP, 1);
		return false;
	}
	r = blk_submit(b->engine, &s->req);
	if (r) {
		finish_now(b, c->head, status, status_of(r), 1);
		return false;
	}
	s->in_use = true;
	s->orphan = false;
	b->head_busy[c->head] = true;
	return true;

ok:
	finish_now(b, c->head, status, VIRTIO_BLK_S_OK, s->used_len);
	return false;
ioerr:
	finish_now(b, c->head, status, VIRTIO_BLK_S_IOERR, 1);
	return false;
}

/* Takes what the guest made available, until the queue is empty or slots run out
 * (then the next completion takes up again). Lock held. */
static void process(struct virtio_blk *b)
{
	struct virtio_mmio *t = &b->transport;
	struct virtq *q = &t->vq[0];
	uint16_t used_before = q->used_idx;
	bool queued = false;

	while (virtio_mmio_live(t) && q->ready) {
		struct virtio_blk_slot *s = slot_get(b);
		enum vq_pop r;

		if (!s)
			break;
		r = vq_pop(t->mem, q, &b->chain);
		if (r == VQ_EMPTY)
			break;
		if (r != VQ_CHAIN || b->head_busy[b->chain.head]) {
			b->stats.resets_needed++;
			virtio_mmio_needs_reset(t);
			break;
		}
		b->stats.requests++;
		queued |= start_request(b, &b->chain, s);
	}
	if (queued)
		blk_kick(b->engine); /* one io_uring_submit per notification */
	if (q->used_idx != used_before)
		virtio_mmio_notify_used(t);
}

static void notify(void *dev, struct virtq *q)
{
	(void)q;
	process(dev);
}

static void reset(void *dev)
{
	struct virtio_blk *b = dev;

	/* In-flight requests finish into guest RAM, which stays mapped, but must not touch
	 * the rings of the next driver. */
	for (unsigned i = 0; i < VIRTIO_BLK_SLOTS; i++)
		if (b->slots[i].in_use)
			b->slots[i].orphan = true;
	memset(b->head_busy, 0, sizeof(b->head_busy));
}

static void on_done(void *ctx, struct blk_req *req, int result)
{
	struct virtio_blk *b = ctx;
	struct virtio_blk_slot *s = req->opaque;

	s->in_use = false;
	if (s->orphan)
		return;
	b->head_busy[s->head] = false;
	if (!virtio_mmio_live(&b->transport))
		return;
	finish_now(b, s->head, s->status, status_of(result), result ? 1 : s->used_len);
}

void virtio_blk_complete(struct virtio_blk *b)
{
	struct virtio_mmio *t = &b->transport;
	uint16_t used_before;

	pthread_mutex_lock(&t->lock);
	used_before = t->vq[0].used_idx;
	blk_complete(b->engine, on_done, b);
	if (t->vq[0].used_idx != used_before)
		virtio_mmio_notify_used(t);
	process(b); /* requests left waiting for a slot */
	pthread_mutex_unlock(&t->lock);
}

void virtio_blk_init(struct virtio_blk *b, struct blk_engine *e, const struct guest_mem *mem,
		     virtio_irq_fn set_irq, void *irq_ctx, const char *serial)
{
	memset(b, 0, sizeof(*b));
	b->engine = e;
	b->ops = (struct virtio_mmio_device){
		.device_id = VIRTIO_ID_BLOCK,
		.features = 1ULL << VIRTIO_BLK_F_SIZE_MAX | 1ULL << VIRTIO_BLK_F_SEG_MAX |
			    1ULL << VIRTIO_BLK_F_BLK_SIZE | 1ULL << VIRTIO_BLK_F_FLUSH,
		.config_read = config_read,
		.notify = notify,
		.reset = reset,
		.config_size = sizeof(struct virtio_blk_config),
	};
	if (blk_readonly(e))
		b->ops.features |= 1ULL << VIRTIO_BLK_F_RO;
	else if (blk_discard_supported(e))
		b->ops.features |= 1ULL << VIRTIO_BLK_F_DISCARD;
	if (serial)
		/* virtio's id is 20 bytes, NUL-padded, not NUL-terminated when full */
		memcpy(b->serial, serial, strnlen(serial, sizeof(b->serial)));
	for (unsigned i = 0; i < VIRTIO_BLK_SLOTS; i++)
		b->slots[i].blk = b;
	virtio_mmio_init(&b->transport, &b->ops, b, mem, set_irq, irq_ctx);
}

void virtio_blk_destroy(struct virtio_blk *b)
{
	virtio_mmio_destroy(&b->transport);
}
