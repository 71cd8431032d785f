/*
 * virtio.c - the test guests' virtio-blk driver: virtio 1.x over virtio-mmio, polled.
 *
 * The rings and the request page come from the runtime's page allocator: RAM is
 * identity-mapped, so their addresses are also what the device is given. Register
 * accesses are 32-bit, through the uncached mapping of the device window.
 */
#include "virtio.h"

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>

#include "rt.h"

#define SPIN_LIMIT 200000000ULL /* far beyond any honest request */

static uint32_t reg_read(const struct rt_vblk *d, uint32_t off)
{
	return mmio_read32(d->base + off);
}

static void reg_write(const struct rt_vblk *d, uint32_t off, uint32_t v)
{
	mmio_write32(d->base + off, v);
}

static uint64_t reg_config64(const struct rt_vblk *d, uint32_t off)
{
	return reg_read(d, VIRTIO_MMIO_CONFIG + off) |
	       (uint64_t)reg_read(d, VIRTIO_MMIO_CONFIG + off + 4) << 32;
}

static bool find_node(unsigned n, uint64_t *base, uint32_t *irq)
{
	const void *fdt = rt_boot.fdt;
	int node = -1;

	for (;;) {
		const uint8_t *reg;
		uint32_t len;

		node = rt_fdt_next_compatible(fdt, node, "virtio,mmio");
		if (node < 0)
			return false;
		reg = rt_fdt_getprop(fdt, node, "reg", &len);
		if (!reg || len != 16)
			continue;
		*base = rt_be64(reg);
		const uint8_t *ints = rt_fdt_getprop(fdt, node, "interrupts", &len);
		*irq = ints && len >= 4 ? rt_be32(ints) : 0;
		if (mmio_read32(*base + VIRTIO_MMIO_DEVICE_ID) != VIRTIO_ID_BLOCK)
			continue;
		if (n-- == 0)
			return true;
	}
}

bool rt_vblk_init(struct rt_vblk *d, unsigned n)
{
	uint64_t offered;
	uint32_t status = VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER;

	rt_memset(d, 0, sizeof(*d));
	if (!find_node(n, &d->base, &d->irq)) {
		rt_printf("%s: no virtio-blk device %u in the device tree\n", rt_guest_name, n);
		return false;
	}
	if (reg_read(d, VIRTIO_MMIO_MAGIC_VALUE) != 0x74726976 ||
	    reg_read(d, VIRTIO_MMIO_VERSION) != 2) {
		rt_printf("%s: not a virtio-mmio version 2 device\n", rt_guest_name);
		return false;
	}
	reg_write(d, VIRTIO_MMIO_STATUS, 0);
	reg_write(d, VIRTIO_MMIO_STATUS, status);
	reg_write(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	offered = reg_read(d, VIRTIO_MMIO_DEVICE_FEATURES);
	reg_write(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	offered |= (uint64_t)reg_read(d, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	if (!(offered & 1ULL << VIRTIO_F_VERSION_1)) {
		rt_printf("%s: the device does not offer VIRTIO_F_VERSION_1\n", rt_guest_name);
		return false;
	}
	uint64_t wanted = offered & (1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_BLK_F_FLUSH |
				     1ULL << VIRTIO_BLK_F_RO);
	reg_write(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	reg_write(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)wanted);
	reg_write(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	reg_write(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(wanted >> 32));
	status |= VIRTIO_CONFIG_S_FEATURES_OK;
	reg_write(d, VIRTIO_MMIO_STATUS, status);
	if (!(reg_read(d, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK)) {
		rt_printf("%s: the device refused our features\n", rt_guest_name);
		return false;
	}
	d->flush = wanted & 1ULL << VIRTIO_BLK_F_FLUSH;
	d->readonly = wanted & 1ULL << VIRTIO_BLK_F_RO;
	d->capacity = reg_config64(d, 0);

	reg_write(d, VIRTIO_MMIO_QUEUE_SEL, 0);
	if (reg_read(d, VIRTIO_MMIO_QUEUE_NUM_MAX) < RT_VBLK_QUEUE) {
		rt_printf("%s: the queue is too small\n", rt_guest_name);
		return false;
	}
	d->desc = rt_alloc_page();
	d->avail = rt_alloc_page();
	d->used = rt_alloc_page();
	d->hdr = rt_alloc_page();
	reg_write(d, VIRTIO_MMIO_QUEUE_NUM, RT_VBLK_QUEUE);
	reg_write(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)(uint64_t)d->desc);
	reg_write(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)((uint64_t)d->desc >> 32));
	reg_write(d, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)(uint64_t)d->avail);
	reg_write(d, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)((uint64_t)d->avail >> 32));
	reg_write(d, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)(uint64_t)d->used);
	reg_write(d, VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)((uint64_t)d->used >> 32));
	reg_write(d, VIRTIO_MMIO_QUEUE_READY, 1);
	status |= VIRTIO_CONFIG_S_DRIVER_OK;
	reg_write(d, VIRTIO_MMIO_STATUS, status);
	if (reg_read(d, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET) {
		rt_printf("%s: the device needs a reset after setup\n", rt_guest_name);
		return false;
	}
	return true;
}

/* Sends the chain at descriptor 0 and waits until the device has used it. */
static unsigned submit(struct rt_vblk *d, unsigned ndesc)
{
	struct vring_avail *avail = d->avail;
	volatile struct vring_used *used = d->used;
	uint8_t *status = (uint8_t *)d->hdr + 64;

	(void)ndesc;
	*(volatile uint8_t *)status = 0xff;
	avail->ring[d->avail_idx % RT_VBLK_QUEUE] = 0;
	__atomic_thread_fence(__ATOMIC_SEQ_CST); /* the chain before the index */
	d->avail_idx++;
	*(volatile uint16_t *)&avail->idx = d->avail_idx;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	reg_write(d, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	for (uint64_t spin = 0; used->idx == d->used_seen; spin++) {
		if (spin == SPIN_LIMIT)
			return RT_VBLK_TIMEOUT;
		__asm__ volatile("pause");
	}
	d->used_seen++;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	reg_write(d, VIRTIO_MMIO_INTERRUPT_ACK, reg_read(d, VIRTIO_MMIO_INTERRUPT_STATUS));
	return *(volatile uint8_t *)status;
}

static void set_desc(struct rt_vblk *d, unsigned i, void *addr, uint32_t len, uint16_t flags)
{
	struct vring_desc *desc = d->desc;

	desc[i].addr = (uint64_t)addr;
	desc[i].len = len;
	desc[i].flags = flags;
	desc[i].next = (uint16_t)(i + 1);
}

unsigned rt_vblk_rw(struct rt_vblk *d, bool write, uint64_t sector, void *buf, uint32_t len)
{
	struct virtio_blk_outhdr *h = d->hdr;

	h->type = write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
	h->ioprio = 0;
	h->sector = sector;
	set_desc(d, 0, h, sizeof(*h), VRING_DESC_F_NEXT);
	set_desc(d, 1, buf, len, VRING_DESC_F_NEXT | (write ? 0 : VRING_DESC_F_WRITE));
	set_desc(d, 2, (uint8_t *)d->hdr + 64, 1, VRING_DESC_F_WRITE);
	return submit(d, 3);
}

unsigned rt_vblk_flush(struct rt_vblk *d)
{
	struct virtio_blk_outhdr *h = d->hdr;

	h->type = VIRTIO_BLK_T_FLUSH;
	h->ioprio = 0;
	h->sector = 0;
	set_desc(d, 0, h, sizeof(*h), VRING_DESC_F_NEXT);
	set_desc(d, 1, (uint8_t *)d->hdr + 64, 1, VRING_DESC_F_WRITE);
	return submit(d, 2);
}
