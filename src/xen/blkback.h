/*
 * blkback.h - the blkif backend (<xen/io/blkif.h>): a Xen frontend's block ring served by
 * the block engine, as Linux's xen-blkback and QEMU's xen-block serve it.
 *
 * Independent of xenstore and KVM (xen/vbd.h connects it): it is given guest memory, the
 * grant table, an engine and how to raise the frontend's event. blkback_kick, on the
 * frontend's notification (the vCPU thread), copies each request off the ring once,
 * checks it and queues it; blkback_complete, when the engine's eventfd is readable (the
 * I/O thread), writes the responses. Both hold the backend's lock.
 *
 * Operations: READ, WRITE, FLUSH_DISKCACHE (a flush, then its data if any),
 * WRITE_BARRIER (flush, write, flush: durable when acknowledged), DISCARD (where the
 * image supports it, else EOPNOTSUPP), INDIRECT (READ or WRITE with up to
 * BLKBACK_MAX_INDIRECT segments). Every guest value is hostile: a ring whose producer
 * runs more than a ring ahead stops the backend (as Linux's "bogus ring requests"); a
 * request with too many segments, a bad sector range in a page, a grant the frontend did
 * not give domain `backend_id` (or read-only for a read into it), or sectors past the end
 * of the image is answered BLKIF_RSP_ERROR; an unknown operation BLKIF_RSP_EOPNOTSUPP;
 * host I/O errors BLKIF_RSP_ERROR.
 */
#ifndef LODGER_XEN_BLKBACK_H
#define LODGER_XEN_BLKBACK_H

#include <stdbool.h>
#include <stdint.h>

#include <xen/event_channel.h>
#include <xen/grant_table.h>

#include "block/engine.h"
#include "xen/grant.h"

#define BLKBACK_MAX_INDIRECT 256 /* feature-max-indirect-segments */

struct blkback;

/* Raise the frontend's event on `port`. */
typedef void (*blkback_notify_fn)(void *ctx, evtchn_port_t port);

struct blkback_stats {
	uint64_t requests, errors, unsupported, bad_ring;
};

struct blkback *blkback_new(const struct xen_gnttab *gnttab, struct blk_engine *engine,
			    uint16_t backend_id, blkback_notify_fn notify, void *ctx);
/* Waits for nothing: requests still in flight finish into guest memory, never the ring. */
void blkback_free(struct blkback *b);

/* Attaches the one-page ring that grant ring_ref gives (writable) and the frontend's event
 * port. 0, or -EINVAL when the grant does not allow it (nothing attached). */
int blkback_connect(struct blkback *b, grant_ref_t ring_ref, evtchn_port_t port);
/* Detaches the ring; requests in flight complete without a response. */
void blkback_disconnect(struct blkback *b);
bool blkback_connected(struct blkback *b);

/* The frontend notified: take the requests on the ring. */
void blkback_kick(struct blkback *b);
/* The engine's eventfd is readable: respond to what finished. */
void blkback_complete(struct blkback *b);

/* Requests taken but not answered yet. */
unsigned blkback_inflight(struct blkback *b);
struct blkback_stats blkback_stats(struct blkback *b);

#endif
