/* virtqueue.c - parsing a split virtqueue that the guest controls. */
#include "dev/virtqueue.h"

#include <linux/virtio_ring.h>
#include <string.h>

static bool power_of_two(unsigned n)
{
	return n && !(n & (n - 1));
}

bool vq_areas_ok(const struct guest_mem *mem, const struct virtq *q)
{
	uint64_t n = q->num;

	if (!power_of_two(q->num) || q->num > VQ_MAX_SIZE)
		return false;
	/* virtio 1.x 2.7: descriptors 16-aligned, avail 2-aligned, used 4-aligned */
	if (q->desc_gpa % 16 || q->avail_gpa % 2 || q->used_gpa % 4)
		return false;
	return gpa_ok(mem, q->desc_gpa, 16 * n) && gpa_ok(mem, q->avail_gpa, 6 + 2 * n) &&
	       gpa_ok(mem, q->used_gpa, 6 + 8 * n);
}

/* A 16-bit field the guest may write at any time, read once. */
static uint16_t load16(const struct guest_mem *mem, uint64_t gpa)
{
	uint16_t *p = gpa_ptr_guest(mem, gpa, 2);

	return p ? __atomic_load_n(p, __ATOMIC_ACQUIRE) : 0;
}

enum vq_pop vq_pop(const struct guest_mem *mem, struct virtq *q, struct vq_chain *chain)
{
	struct vring_desc d;
	uint16_t avail_idx, pending, idx;

	/* The areas were checked when the queue became ready; checked again because RAM
	 * cannot change, but a hand-built queue in a test or fuzzer can. */
	if (!q->ready || !vq_areas_ok(mem, q))
		return VQ_BROKEN;
	avail_idx = load16(mem, q->avail_gpa + 2);
	pending = (uint16_t)(avail_idx - q->last_avail);
	if (!pending)
		return VQ_EMPTY;
	if (pending > q->num) /* more new entries than the ring has: a dishonest idx */
		return VQ_BROKEN;
	chain->head = load16(mem, q->avail_gpa + 4 + 2 * (uint64_t)(q->last_avail % q->num));
	if (chain->head >= q->num)
		return VQ_BROKEN;
	q->last_avail++;
	chain->n = 0;
	chain->bad_buffer = false;
	idx = chain->head;
	for (;;) {
		struct vq_buf *b;

		if (chain->n == q->num) /* longer than the table: a loop */
			return VQ_BAD_CHAIN;
		memcpy(&d, gpa_ptr_guest(mem, q->desc_gpa + 16 * (uint64_t)idx, 16), 16);
		if (d.flags & VRING_DESC_F_INDIRECT) /* not offered */
			return VQ_BAD_CHAIN;
		b = &chain->buf[chain->n++];
		b->len = d.len;
		b->writable = d.flags & VRING_DESC_F_WRITE;
		/* gpa_ptr_guest refuses ranges that wrap or leave RAM; monitor memory is not RAM */
		b->host = gpa_ptr_guest(mem, d.addr, d.len);
		if (!b->host)
			chain->bad_buffer = true;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return VQ_CHAIN;
		if (d.next >= q->num)
			return VQ_BAD_CHAIN;
		idx = d.next;
	}
}

bool vq_push(const struct guest_mem *mem, struct virtq *q, uint16_t head, uint32_t len)
{
	struct vring_used_elem elem = {.id = head, .len = len};
	uint8_t *slot;
	uint16_t *idx;

	if (!q->ready || !vq_areas_ok(mem, q))
		return false;
	slot = gpa_ptr_guest(mem, q->used_gpa + 4 + 8 * (uint64_t)(q->used_idx % q->num), 8);
	idx = gpa_ptr_guest(mem, q->used_gpa + 2, 2);
	memcpy(slot, &elem, sizeof(elem));
	q->used_idx++;
	/* the element before the index that publishes it */
	__atomic_store_n(idx, q->used_idx, __ATOMIC_RELEASE);
	return true;
}
