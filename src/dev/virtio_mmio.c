/*
 * virtio_mmio.c - the virtio-mmio register file (virtio 1.x section 4.2.2).
 *
 * Registers are 32 bits wide; any other access to them reads as zero and writes are
 * ignored, as is anything written in the wrong state (a queue changed while ready,
 * features after FEATURES_OK). A queue the driver makes ready with areas outside guest
 * RAM, or a size the device does not offer, puts the device in DEVICE_NEEDS_RESET.
 */
#include "dev/virtio_mmio.h"

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <string.h>

#define VIRT_MAGIC  0x74726976 /* "virt" */
#define VIRT_VENDOR 0x4c444752 /* "LDGR" */

void virtio_mmio_init(struct virtio_mmio *t, const struct virtio_mmio_device *ops, void *dev,
		      const struct guest_mem *mem, virtio_irq_fn set_irq, void *irq_ctx)
{
	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
	t->ops = ops;
	t->dev = dev;
	t->mem = mem;
	t->set_irq = set_irq;
	t->irq_ctx = irq_ctx;
}

void virtio_mmio_destroy(struct virtio_mmio *t)
{
	pthread_mutex_destroy(&t->lock);
}

static uint64_t offered(const struct virtio_mmio *t)
{
	return t->ops->features | 1ULL << VIRTIO_F_VERSION_1;
}

static void update_irq(struct virtio_mmio *t)
{
	if (t->set_irq)
		t->set_irq(t->irq_ctx, t->int_status != 0);
}

bool virtio_mmio_live(const struct virtio_mmio *t)
{
	return (t->status & VIRTIO_CONFIG_S_DRIVER_OK) &&
	       !(t->status & VIRTIO_CONFIG_S_NEEDS_RESET);
}

void virtio_mmio_notify_used(struct virtio_mmio *t)
{
	t->int_status |= VIRTIO_MMIO_INT_VRING;
	update_irq(t);
}

void virtio_mmio_needs_reset(struct virtio_mmio *t)
{
	if (t->status & VIRTIO_CONFIG_S_NEEDS_RESET)
		return;
	t->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	t->int_status |= VIRTIO_MMIO_INT_CONFIG;
	update_irq(t);
}

static void reset(struct virtio_mmio *t)
{
	t->ops->reset(t->dev);
	t->status = 0;
	t->dev_features_sel = t->drv_features_sel = 0;
	t->driver_features = 0;
	t->queue_sel = 0;
	t->int_status = 0;
	memset(t->vq, 0, sizeof(t->vq));
	update_irq(t);
}

static struct virtq *selected(struct virtio_mmio *t)
{
	return t->queue_sel < VIRTIO_MMIO_QUEUES ? &t->vq[t->queue_sel] : NULL;
}

static uint32_t reg_read(struct virtio_mmio *t, uint64_t off)
{
	struct virtq *q = selected(t);

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE:
		return VIRT_MAGIC;
	case VIRTIO_MMIO_VERSION:
		return 2;
	case VIRTIO_MMIO_DEVICE_ID:
		return t->ops->device_id;
	case VIRTIO_MMIO_VENDOR_ID:
		return VIRT_VENDOR;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		return t->dev_features_sel < 2
			       ? (uint32_t)(offered(t) >> (32 * t->dev_features_sel))
			       : 0;
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
		return q ? VQ_MAX_SIZE : 0;
	case VIRTIO_MMIO_QUEUE_READY:
		return q ? q->ready : 0;
	case VIRTIO_MMIO_INTERRUPT_STATUS:
		return t->int_status;
	case VIRTIO_MMIO_STATUS:
		return t->status;
	case VIRTIO_MMIO_CONFIG_GENERATION:
		return t->config_generation;
	default:
		return 0; /* write-only and reserved registers */
	}
}

/* Low or high half of a 64-bit queue address, set while the queue is not ready. */
static void set_half(uint64_t *field, uint32_t v, bool high)
{
	*field =
		high ? (*field & 0xffffffffULL) | (uint64_t)v << 32 : (*field & ~0xffffffffULL) | v;
}

static void write_status(struct virtio_mmio *t, uint32_t v)
{
	if (v == 0) {
		reset(t);
		return;
	}
	/* FEATURES_OK only for a subset of what was offered that includes VERSION_1 (no
	 * legacy interface): otherwise the bit does not stick, and the driver sees it. */
	if ((v & VIRTIO_CONFIG_S_FEATURES_OK) && !(t->status & VIRTIO_CONFIG_S_FEATURES_OK) &&
	    ((t->driver_features & ~offered(t)) ||
	     !(t->driver_features & 1ULL << VIRTIO_F_VERSION_1)))
		v &= ~VIRTIO_CONFIG_S_FEATURES_OK;
	/* The driver cannot clear NEEDS_RESET except by a reset. */
	t->status = (v & 0xff) | (t->status & VIRTIO_CONFIG_S_NEEDS_RESET);
}

static void write_queue_ready(struct virtio_mmio *t, struct virtq *q, uint32_t v)
{
	if (!v) {
		q->ready = false;
		return;
	}
	if (q->ready)
		return;
	q->ready = true;
	q->last_avail = q->used_idx = 0;
	if (!vq_areas_ok(t->mem, q)) {
		q->ready = false;
		virtio_mmio_needs_reset(t);
	}
}

static void reg_write(struct virtio_mmio *t, uint64_t off, uint32_t v)
{
	struct virtq *q = selected(t);
	bool can_negotiate = !(t->status & VIRTIO_CONFIG_S_FEATURES_OK);

	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
		t->dev_features_sel = v;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
		t->drv_features_sel = v;
		break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		if (can_negotiate && t->drv_features_sel < 2)
			set_half(&t->driver_features, v, t->drv_features_sel == 1);
		break;
	case VIRTIO_MMIO_QUEUE_SEL:
		t->queue_sel = v;
		break;
	case VIRTIO_MMIO_QUEUE_NUM:
		if (q && !q->ready)
			q->num = v > 0xffff ? 0 : (uint16_t)v; /* checked at QueueReady */
		break;
	case VIRTIO_MMIO_QUEUE_READY:
		if (q)
			write_queue_ready(t, q, v);
		break;
	case VIRTIO_MMIO_QUEUE_NOTIFY:
		if (v < VIRTIO_MMIO_QUEUES && t->vq[v].ready && virtio_mmio_live(t))
			t->ops->notify(t->dev, &t->vq[v]);
		break;
	case VIRTIO_MMIO_INTERRUPT_ACK:
		t->int_status &= ~v;
		update_irq(t);
		break;
	case VIRTIO_MMIO_STATUS:
		write_status(t, v);
		break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		if (q && !q->ready)
			set_half(&q->desc_gpa, v, off == VIRTIO_MMIO_QUEUE_DESC_HIGH);
		break;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		if (q && !q->ready)
			set_half(&q->avail_gpa, v, off == VIRTIO_MMIO_QUEUE_AVAIL_HIGH);
		break;
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		if (q && !q->ready)
			set_half(&q->used_gpa, v, off == VIRTIO_MMIO_QUEUE_USED_HIGH);
		break;
	default:
		break; /* read-only and reserved registers */
	}
}

void virtio_mmio_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct virtio_mmio *t = opaque;

	pthread_mutex_lock(&t->lock);
	if (offset >= VIRTIO_MMIO_CONFIG) {
		uint64_t off = offset - VIRTIO_MMIO_CONFIG;

		/* The configuration space is read-only here (virtio-blk's writeback toggle is
		 * not offered); reads past its end are zeros. */
		if (!is_write) {
			memset(data, 0, len);
			if (off < t->ops->config_size)
				t->ops->config_read(t->dev, off, data,
						    off + len > t->ops->config_size
							    ? (unsigned)(t->ops->config_size - off)
							    : len);
		}
	} else if (len != 4 || offset % 4) {
		if (!is_write)
			memset(data, 0, len);
	} else if (is_write) {
		uint32_t v;

		memcpy(&v, data, 4);
		reg_write(t, offset, v);
	} else {
		uint32_t v = reg_read(t, offset);

		memcpy(data, &v, 4);
	}
	pthread_mutex_unlock(&t->lock);
}
