/*
 * backend.h - lodger as domain 0 for one Xen PV guest: the grant table, xenstore, and a
 * virtual block device per -drive if=xen (docs/block.md, "Xen PV guests").
 *
 * xen_backends_start sets d->gnttab and d->backends, so grant_table_op and EVTCHNOP_send
 * reach them; without it a PV guest sees what it saw before (-ENOSYS, no xenstore). The
 * grant table takes the reserved frames after shared_info (xen/domain.h); xenstore serves
 * the page and port of start_info. Completions run in an I/O thread of their own, which
 * sets the frontend's port pending and calls `wake` so that a vCPU blocked in
 * SCHEDOP_block notices.
 */
#ifndef LODGER_XEN_BACKEND_H
#define LODGER_XEN_BACKEND_H

#include <stdint.h>

#include "block/engine.h"
#include "xen/state.h"

#define XEN_GUEST_DOMID	  1	/* the guest's domid in xenstore (domain 0 is lodger) */
#define XEN_VBD_FIRST	  51712 /* xvda: (202 << 8); disk N is + 16 * N */
#define XEN_BACKEND_DISKS 4

struct xen_backend_disk {
	struct blk_engine *engine; /* stays the caller's */
	const char *image;	   /* the path, for the backend's `params` node */
};

struct xen_backends_params {
	struct xen_domain *d;
	struct xen_vcpu *v; /* events go to its vcpu_info */
	const char *name;   /* the domain's name node */
	const struct xen_backend_disk *disks;
	unsigned ndisks; /* up to XEN_BACKEND_DISKS */
	void (*wake)(void *ctx);
	void *wake_ctx;
};

/* 0, or -errno (nothing is left set up). */
int xen_backends_start(const struct xen_backends_params *p);
/* Stops the I/O thread and frees everything; d->gnttab and d->backends go back to NULL. */
void xen_backends_stop(struct xen_domain *d);

/* For tests and -stats: the guest's xenstore. */
struct xenstore *xen_backends_store(struct xen_domain *d);

#endif
