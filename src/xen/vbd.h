/*
 * vbd.h - one Xen virtual block device: its xenstore nodes, the frontend/backend state
 * machine (<xen/io/xenbus.h>'s XenbusState), and the blkif backend it connects.
 *
 * lodger plays domain 0 and the toolstack: it writes the frontend's directory
 * /local/domain/<domid>/device/vbd/<vdev> (backend, backend-id, state 1, virtual-device,
 * device-type; owned by the guest, readable by domain 0) and the backend's
 * /local/domain/0/backend/vbd/<domid>/<vdev> (frontend, frontend-id, online, mode,
 * params, sectors, info, sector-size, physical-sector-size, the feature-* nodes; owned by
 * domain 0, readable by the guest), then puts the backend in InitWait and watches the
 * frontend's state:
 *   Initialised or Connected: read ring-ref, event-channel and protocol, attach the ring
 *     (a bad grant, port or protocol: an `error` node and state Closing), then Connected;
 *   Closing: Closing; Closed: detach, Closed; Initialising after Closed: InitWait again.
 */
#ifndef LODGER_XEN_VBD_H
#define LODGER_XEN_VBD_H

#include <stdbool.h>
#include <stdint.h>

#include "block/engine.h"
#include "xen/blkback.h"
#include "xen/xenstore.h"

struct xen_vbd;

struct xen_vbd_params {
	struct xenstore *xs;
	const struct xen_gnttab *gnttab;
	struct blk_engine *engine;
	const char *image; /* for the `params` node */
	uint16_t domid;	   /* the frontend's */
	unsigned vdev;	   /* virtual-device: 51712 is xvda (202 << 8), + 16 per disk */
	blkback_notify_fn notify;
	void *ctx;
	/* The frontend's event-channel port may be bound to domain 0 (an unbound port the
	 * guest allocated for remote domain 0); binds it. NULL accepts any. */
	bool (*bind_port)(void *ctx, evtchn_port_t port);
};

/* Writes the nodes and starts watching; 0 or -errno. */
int xen_vbd_create(struct xen_vbd **out, const struct xen_vbd_params *p);
void xen_vbd_free(struct xen_vbd *v);

struct blkback *xen_vbd_blkback(struct xen_vbd *v);
/* The connected frontend's port, 0 when not connected. */
evtchn_port_t xen_vbd_port(const struct xen_vbd *v);

#endif
