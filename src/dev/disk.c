/*
 * disk.c - virtio-blk disks on virtio-mmio, wired to KVM and the I/O thread.
 *
 * Drive N sits at LODGER_VIRTIO_MMIO_BASE + N * LODGER_VIRTIO_MMIO_STRIDE with IOAPIC pin
 * LODGER_VIRTIO_MMIO_IRQ_BASE + N. The vCPU thread handles register accesses and queue
 * notifications (submitting to io_uring); the I/O thread waits on each engine's eventfd
 * and finishes requests. The interrupt line is level-triggered and follows the
 * transport's interrupt status.
 */
#include "dev/disk.h"

#include <errno.h>
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dev/devices.h"
#include "dev/iothread.h"
#include "dev/virtio_blk.h"
#include "front/exitcode.h"
#include "front/log.h"
#include "kvm/vm.h"
#include "lodger/boot.h"

#define IOAPIC_PHANDLE 1 /* irqchip.c's */

struct disk {
	struct vm *vm;
	bool xen;      /* if=xen: served by the Xen backends (xen/backend.h), not here */
	unsigned slot; /* virtio-mmio slot */
	unsigned irq;
	struct blk_engine *engine;
	struct virtio_blk *blk;
};

static struct {
	struct disk d[DRIVE_MAX];
	unsigned n, nvirtio;
	struct iothread *io;
} disks;

static uint64_t slot_base(unsigned i)
{
	return LODGER_VIRTIO_MMIO_BASE + i * LODGER_VIRTIO_MMIO_STRIDE;
}

int disks_open(struct vm *vm)
{
	const struct drive_list *l = &vm->cfg->drives;

	for (unsigned i = 0; i < l->n; i++) {
		const struct drive_config *dc = &l->d[i];
		struct blk_options opt = {
			.path = dc->file,
			.readonly = dc->readonly,
			.cache = dc->cache,
			.aio = dc->aio,
		};
		struct disk *d = &disks.d[disks.n];
		char err[256];

		if (blk_open(&d->engine, &opt, err, sizeof(err))) {
			pr_err("drive %s: %s", dc->file, err);
			return EXIT_BAD_IMAGE;
		}
		d->vm = vm;
		d->xen = dc->iface == DRIVE_IF_XEN;
		disks.n++;
		if (d->xen) {
			pr_debug(LOG_BOOT, "drive %s: a Xen blkif device (if=xen)", dc->file);
			continue;
		}
		d->slot = disks.nvirtio++;
		d->irq = LODGER_VIRTIO_MMIO_IRQ_BASE + d->slot;
		pr_debug(LOG_BOOT, "drive %s: virtio-blk at %#llx, IRQ %u, %llu sectors, %s%s, %s",
			 dc->file, (unsigned long long)slot_base(d->slot), d->irq,
			 (unsigned long long)(blk_size(d->engine) / BLK_SECTOR_SIZE),
			 dc->readonly ? "read-only, " : "", blk_cache_name(dc->cache),
			 blk_uses_io_uring(d->engine) ? "io_uring" : "synchronous");
	}
	return 0;
}

void disks_close(void)
{
	for (unsigned i = 0; i < disks.n; i++) {
		blk_close(disks.d[i].engine);
		disks.d[i].engine = NULL;
	}
	disks.n = disks.nvirtio = 0;
}

unsigned disks_xen(struct xen_backend_disk *out, unsigned max)
{
	const struct drive_list *l;
	unsigned n = 0;

	for (unsigned i = 0; i < disks.n && n < max; i++) {
		if (!disks.d[i].xen)
			continue;
		l = &disks.d[i].vm->cfg->drives;
		out[n++] = (struct xen_backend_disk){disks.d[i].engine, l->d[i].file};
	}
	return n;
}

static void disk_set_irq(void *ctx, bool level)
{
	struct disk *d = ctx;

	vm_set_irq_line(d->vm, d->irq, level);
}

static void disk_complete(void *ctx)
{
	struct disk *d = ctx;

	virtio_blk_complete(d->blk);
}

static void disk_exit(struct vm *vm);

static int disk_init(struct vm *vm)
{
	int r = 0;

	if (!disks.nvirtio)
		return 0;
	for (unsigned i = 0; i < disks.n; i++) {
		struct disk *d = &disks.d[i];
		char serial[24]; /* "lodger-diskN", cut to virtio's 20 bytes */

		if (d->xen)
			continue;
		d->blk = malloc(sizeof(*d->blk));
		if (!d->blk) {
			r = -ENOMEM;
			break;
		}
		snprintf(serial, sizeof(serial), "lodger-disk%u", d->slot);
		virtio_blk_init(d->blk, d->engine, &vm->mem, disk_set_irq, d, serial);
		r = io_register(&vm->mmio, slot_base(d->slot), VIRTIO_MMIO_SIZE, virtio_mmio_access,
				&d->blk->transport, "virtio-blk");
		if (r)
			break;
	}
	if (!r)
		r = iothread_start(&disks.io);
	for (unsigned i = 0; !r && i < disks.n; i++)
		if (!disks.d[i].xen)
			r = iothread_watch(disks.io, blk_event_fd(disks.d[i].engine), disk_complete,
					   &disks.d[i]);
	if (r)
		disk_exit(vm); /* vm.c calls exit only for devices that started */
	return r;
}

static void disk_exit(struct vm *vm)
{
	(void)vm;
	iothread_stop(disks.io);
	disks.io = NULL;
	for (unsigned i = 0; i < disks.n; i++) {
		struct disk *d = &disks.d[i];

		if (d->blk) {
			virtio_blk_destroy(d->blk);
			free(d->blk);
			d->blk = NULL;
		}
	}
}

static int disk_fdt(struct vm *vm, void *fdt, int isa)
{
	(void)vm;
	(void)isa;
	for (unsigned i = 0; i < disks.n; i++) {
		char name[32];
		int node, r;

		if (disks.d[i].xen)
			continue;
		snprintf(name, sizeof(name), "virtio_mmio@%llx",
			 (unsigned long long)slot_base(disks.d[i].slot));
		node = fdt_add_subnode(fdt, 0, name);
		if (node < 0)
			return node;
		r = fdt_setprop_string(fdt, node, "compatible", "virtio,mmio") ?:
		    fdt_setprop_u64(fdt, node, "reg", slot_base(disks.d[i].slot)) ?:
		    fdt_appendprop_u64(fdt, node, "reg", VIRTIO_MMIO_SIZE) ?:
		    fdt_setprop_u32(fdt, node, "interrupt-parent", IOAPIC_PHANDLE) ?:
		    fdt_setprop_u32(fdt, node, "interrupts", disks.d[i].irq) ?:
		    fdt_appendprop_u32(fdt, node, "interrupts", 1); /* level, active high */
		if (r)
			return r;
	}
	return 0;
}

const struct device disk_device = {
	.name = "virtio-blk",
	.init = disk_init,
	.fdt_node = disk_fdt,
	.exit = disk_exit,
};
