/*
 * virtqueue.h - the device side of a virtio 1.x split virtqueue, for a guest that is
 * hostile.
 *
 * Every index, address and length comes from guest memory and is checked before use:
 * the rings must lie in guest RAM (never monitor memory: gpa_ptr_guest only knows RAM),
 * a descriptor is copied out before it is checked (the guest may change it under us),
 * chains are bounded by the queue size, and an avail index more than a queue ahead is a
 * broken ring. The caller (a device) decides what each fault costs the guest: a chain
 * with a bad buffer still names its head, so the request can fail with the device's
 * error status; a broken ring or chain means DEVICE_NEEDS_RESET.
 */
#ifndef LODGER_VIRTQUEUE_H
#define LODGER_VIRTQUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "kvm/mem.h"

#define VQ_MAX_SIZE 128 /* the largest queue lodger's devices offer */

struct virtq {
	uint16_t num; /* QueueNum: a power of two, 1 .. VQ_MAX_SIZE */
	bool ready;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t last_avail; /* the next avail entry to take */
	uint16_t used_idx;   /* the used ring's idx as lodger last wrote it */
};

struct vq_buf {
	uint8_t *host; /* NULL: the buffer is not all guest RAM */
	uint32_t len;
	bool writable; /* device-writable (VRING_DESC_F_WRITE) */
};

struct vq_chain {
	uint16_t head;
	unsigned n;	 /* descriptors in buf[] */
	bool bad_buffer; /* some buf[i].host is NULL (outside RAM, wrapping) */
	struct vq_buf buf[VQ_MAX_SIZE];
};

enum vq_pop {
	VQ_EMPTY,     /* nothing new in the avail ring */
	VQ_CHAIN,     /* *chain holds one chain (check bad_buffer) */
	VQ_BAD_CHAIN, /* the chain at chain->head cannot be followed: a next index out of
		       * range, a loop or a chain longer than the queue, an indirect table */
	VQ_BROKEN,    /* the ring itself is garbage (avail idx, head index, areas) */
};

/* True when the three areas fit guest RAM for q->num entries, aligned as virtio says. */
bool vq_areas_ok(const struct guest_mem *mem, const struct virtq *q);

/* Takes the next available chain. */
enum vq_pop vq_pop(const struct guest_mem *mem, struct virtq *q, struct vq_chain *chain);

/* Returns a chain to the guest with `len` bytes written; false if the ring is gone. */
bool vq_push(const struct guest_mem *mem, struct virtq *q, uint16_t head, uint32_t len);

#endif
