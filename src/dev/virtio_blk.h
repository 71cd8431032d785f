/*
 * virtio_blk.h - the virtio-blk device model over virtio-mmio, on the block engine.
 *
 * Independent of KVM: the caller gives it guest memory, an engine and how to drive its
 * interrupt line, so tests and the fuzzer drive it directly. Requests are taken from the
 * queue on the guest's notification (the vCPU thread) and sent to the engine in one
 * batch; virtio_blk_complete, called when the engine's eventfd is readable (the I/O
 * thread), writes each status and returns the chains to the guest.
 */
#ifndef LODGER_VIRTIO_BLK_H
#define LODGER_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include "block/engine.h"
#include "dev/virtio_mmio.h"

#define VIRTIO_BLK_SLOTS (2 * VQ_MAX_SIZE) /* requests in flight, across one reset */

struct virtio_blk;

struct virtio_blk_slot {
	struct blk_req req;
	struct virtio_blk *blk;
	bool in_use;
	bool orphan; /* the driver reset the device while this was in flight */
	uint16_t head;
	uint8_t *status; /* in guest RAM */
	uint32_t used_len;
	struct iovec iov[VQ_MAX_SIZE];
};

/* A gathered view of one direction of a chain. */
struct virtio_blk_span {
	struct iovec iov[VQ_MAX_SIZE];
	unsigned n;
	uint64_t total;
};

struct virtio_blk_stats {
	uint64_t requests, io_errors, unsupported, resets_needed;
};

struct virtio_blk {
	struct virtio_mmio transport;
	struct virtio_mmio_device ops;
	struct blk_engine *engine;
	char serial[20]; /* VIRTIO_BLK_T_GET_ID */
	bool head_busy[VQ_MAX_SIZE];
	struct virtio_blk_slot slots[VIRTIO_BLK_SLOTS];
	struct vq_chain chain;	       /* scratch, under the lock */
	struct virtio_blk_span rd, wr; /* scratch: the chain's two directions */
	struct virtio_blk_stats stats;
};

/* e stays the caller's; `serial` may be NULL. */
void virtio_blk_init(struct virtio_blk *b, struct blk_engine *e, const struct guest_mem *mem,
		     virtio_irq_fn set_irq, void *irq_ctx, const char *serial);
void virtio_blk_destroy(struct virtio_blk *b);

/* The engine's eventfd is readable: finish what completed (takes the lock). */
void virtio_blk_complete(struct virtio_blk *b);

#endif
