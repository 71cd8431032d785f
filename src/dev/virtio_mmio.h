/*
 * virtio_mmio.h - the virtio-mmio transport, version 2 (virtio 1.x, modern only).
 *
 * The register file of one device: feature negotiation, status, queue setup, the
 * interrupt status and its line. The device behind it (virtio_blk.c) supplies its
 * features, its configuration space and what a queue notification does. One lock covers
 * the transport and the device, so the vCPU thread (register accesses, notifications)
 * and the I/O thread (completions) never see each other half-way.
 */
#ifndef LODGER_VIRTIO_MMIO_H
#define LODGER_VIRTIO_MMIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "dev/virtqueue.h"
#include "kvm/mem.h"

#define VIRTIO_MMIO_SIZE   0x200 /* registers and configuration space */
#define VIRTIO_MMIO_QUEUES 1

struct virtio_mmio;

struct virtio_mmio_device {
	uint32_t device_id; /* VIRTIO_ID_* */
	uint64_t features;  /* offered; VIRTIO_F_VERSION_1 is added */
	/* Reads `len` bytes of configuration space at `off` (the caller bounds it). */
	void (*config_read)(void *dev, uint64_t off, uint8_t *data, unsigned len);
	/* The driver notified queue q (ready): take what it made available. Lock held. */
	void (*notify)(void *dev, struct virtq *q);
	/* The driver reset the device: forget everything in flight. Lock held. */
	void (*reset)(void *dev);
	unsigned config_size;
};

typedef void (*virtio_irq_fn)(void *ctx, bool level);

struct virtio_mmio {
	pthread_mutex_t lock;
	const struct virtio_mmio_device *ops;
	void *dev;
	const struct guest_mem *mem;
	virtio_irq_fn set_irq;
	void *irq_ctx;

	uint32_t status;
	uint32_t dev_features_sel, drv_features_sel;
	uint64_t driver_features;
	uint32_t queue_sel;
	uint32_t int_status; /* VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG */
	uint32_t config_generation;
	struct virtq vq[VIRTIO_MMIO_QUEUES];
};

void virtio_mmio_init(struct virtio_mmio *t, const struct virtio_mmio_device *ops, void *dev,
		      const struct guest_mem *mem, virtio_irq_fn set_irq, void *irq_ctx);
void virtio_mmio_destroy(struct virtio_mmio *t);

/* The MMIO handler (io.h): one guest access at `offset` from the device's base. */
void virtio_mmio_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write);

/* With the lock held: the device used buffers (raise the vring interrupt). */
void virtio_mmio_notify_used(struct virtio_mmio *t);

/* With the lock held: the device cannot go on (DEVICE_NEEDS_RESET, config interrupt);
 * nothing more is taken from the queues until the driver resets it. */
void virtio_mmio_needs_reset(struct virtio_mmio *t);

/* True once the driver set DRIVER_OK and the device needs no reset. */
bool virtio_mmio_live(const struct virtio_mmio *t);

#endif
