/*
 * virtio.h - a small polled virtio-blk driver for test guests (virtio-mmio, version 2).
 *
 * One request at a time, one queue of RT_VBLK_QUEUE entries; the driver finds the device
 * in the device tree (compatible "virtio,mmio", DeviceID 2) and waits for each request by
 * watching the used ring, so it needs no interrupt setup. Status values are virtio's
 * (VIRTIO_BLK_S_OK 0, IOERR 1, UNSUPP 2); RT_VBLK_TIMEOUT when the device never answers.
 */
#ifndef GUEST_VIRTIO_H
#define GUEST_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/virtio_blk.h> /* VIRTIO_BLK_S_* */

#define RT_VBLK_QUEUE	8
#define RT_VBLK_TIMEOUT 0x100

struct rt_vblk {
	uint64_t base;	   /* the registers, from reg */
	uint32_t irq;	   /* from interrupts (not used: the driver polls) */
	uint64_t capacity; /* in 512-byte sectors */
	bool readonly;
	bool flush; /* VIRTIO_BLK_F_FLUSH negotiated */
	void *desc, *avail, *used;
	uint16_t avail_idx, used_seen;
	void *hdr; /* a page for the request header and the status byte */
};

/* Finds the n-th virtio-blk device (0, 1...) in the device tree and initialises it;
 * false, after printing why, if there is none or it misbehaves. */
bool rt_vblk_init(struct rt_vblk *d, unsigned n);

/* Reads or writes `len` bytes (a multiple of 512) at `sector`; the virtio status. */
unsigned rt_vblk_rw(struct rt_vblk *d, bool write, uint64_t sector, void *buf, uint32_t len);
unsigned rt_vblk_flush(struct rt_vblk *d);

#endif
