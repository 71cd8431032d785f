/*
 * drive_opt.h - disks in the configuration: -drive and the -readconfig [drive] group,
 * with QEMU's key names (docs/block.md, docs/cli.md, docs/config.md).
 */
#ifndef LODGER_DRIVE_OPT_H
#define LODGER_DRIVE_OPT_H

#include <stdbool.h>
#include <stdio.h>

#include "block/engine.h"

enum drive_if { DRIVE_IF_VIRTIO, DRIVE_IF_XEN };

struct drive_config {
	char *file; /* NULL until given */
	enum drive_if iface;
	bool readonly;
	enum blk_cache cache;
	enum blk_aio aio;
};

#define DRIVE_MAX 4 /* virtio-mmio slots in the device window */

struct drive_list {
	struct drive_config d[DRIVE_MAX];
	unsigned n;
	bool overflow; /* a merge would have passed DRIVE_MAX (reported by the caller) */
};

/* Adds a drive with QEMU's defaults; -1 when the list is full. */
int drive_list_add(struct drive_list *l);
void drive_list_free(struct drive_list *l);
/* Moves src's drives after dst's (a command line's after its files'); when they do not
 * fit, drops src's and sets dst->overflow. */
void drive_list_move(struct drive_list *dst, struct drive_list *src);

/*
 * One key of a drive: file, format (raw), if (virtio, or xen: a blkif device for a Xen PV guest),
 * readonly (on/off), cache (writeback, none, writethrough, directsync, unsafe), aio (io_uring,
 * threads); id and media=disk are accepted. Returns 0, or -1 with `why`
 * (CONFIG_WHY_MAX bytes).
 */
int drive_set_key(struct drive_config *d, const char *key, const char *val, char *why);

/* A whole -drive argument "key=value,..." as a new drive. Returns 0 or -1 with `why`. */
int drive_parse(struct drive_list *l, const char *arg, char *why);

/* What must hold once all keys are in (a file); 0 or -1 with `why`. */
int drive_check(const struct drive_config *d, char *why);

/* The [drive] groups of --print-config. */
void drive_print(const struct drive_list *l, FILE *out);

#endif
