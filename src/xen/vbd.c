/* vbd.c - a virtual block device's xenstore nodes and state machine, on blkback. */
#include "xen/vbd.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xen/io/blkif.h>
#include <xen/io/protocols.h>
#include <xen/io/xenbus.h>

#define VDISK_READONLY_INFO 0x4 /* blkif.h's VDISK_READONLY, named in Linux's blkfront */

struct xen_vbd {
	struct xen_vbd_params p;
	struct blkback *bb;
	char fe[96], be[96]; /* the two directories */
	evtchn_port_t port;
	XenbusState state; /* the backend's */
};

static int node(const char *dir, const char *key, char *path, size_t len)
{
	return snprintf(path, len, "%s/%s", dir, key) < (int)len ? 0 : -ENAMETOOLONG;
}

static int put(struct xen_vbd *v, const char *dir, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int put(struct xen_vbd *v, const char *dir, const char *key, const char *fmt, ...)
{
	char path[160], val[256];
	va_list ap;
	int r;

	if ((r = node(dir, key, path, sizeof(path))))
		return r;
	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	return xenstore_write(v->p.xs, path, val);
}

/* The frontend's integer node `key`, or -1 when missing or not a number. */
static long get_num(struct xen_vbd *v, const char *key)
{
	char path[160], val[32], *end;
	long n;

	if (node(v->fe, key, path, sizeof(path)) ||
	    xenstore_read(v->p.xs, path, val, sizeof(val)) || !val[0])
		return -1;
	n = strtol(val, &end, 10);
	return *end || n < 0 ? -1 : n;
}

static void set_state(struct xen_vbd *v, XenbusState s)
{
	v->state = s;
	put(v, v->be, "state", "%d", s);
}

/* Fails the connection as xenbus_dev_fatal does: an error node, then Closing. */
static void fatal(struct xen_vbd *v, const char *why)
{
	char path[160];

	snprintf(path, sizeof(path), "%s/error", v->be);
	xenstore_write(v->p.xs, path, why);
	set_state(v, XenbusStateClosing);
}

static void connect(struct xen_vbd *v)
{
	char path[160], proto[32];
	long ring_ref = get_num(v, "ring-ref"), port = get_num(v, "event-channel");
	long order = get_num(v, "ring-page-order");

	if (order > 0) {
		fatal(v, "multi-page rings are not offered (max-ring-page-order is absent)");
		return;
	}
	if (ring_ref < 0 && order == 0)
		ring_ref = get_num(v, "ring-ref0");
	if (ring_ref < 0 || ring_ref > UINT32_MAX || port <= 0 || port > UINT32_MAX) {
		fatal(v, "reading ring-ref and event-channel");
		return;
	}
	snprintf(path, sizeof(path), "%s/protocol", v->fe);
	if (!xenstore_read(v->p.xs, path, proto, sizeof(proto)) &&
	    strcmp(proto, XEN_IO_PROTO_ABI_NATIVE)) {
		fatal(v, "unsupported protocol (only " XEN_IO_PROTO_ABI_NATIVE ")");
		return;
	}
	if (v->p.bind_port && !v->p.bind_port(v->p.ctx, (evtchn_port_t)port)) {
		fatal(v, "event-channel is not a port for domain 0");
		return;
	}
	if (blkback_connect(v->bb, (grant_ref_t)ring_ref, (evtchn_port_t)port)) {
		fatal(v, "ring-ref is not a writable grant to domain 0");
		return;
	}
	v->port = (evtchn_port_t)port;
	set_state(v, XenbusStateConnected);
	blkback_kick(v->bb); /* requests the frontend queued before it heard */
}

static void frontend_changed(void *ctx, const char *path)
{
	struct xen_vbd *v = ctx;
	long fs = get_num(v, "state");

	(void)path;
	switch (fs) {
	case XenbusStateInitialising:
		if (v->state == XenbusStateClosed)
			set_state(v, XenbusStateInitWait); /* a reconnect (kexec, module reload) */
		break;
	case XenbusStateInitialised:
	case XenbusStateConnected:
		if (v->state == XenbusStateInitWait)
			connect(v);
		break;
	case XenbusStateClosing:
		if (v->state != XenbusStateClosing && v->state != XenbusStateClosed)
			set_state(v, XenbusStateClosing);
		break;
	case XenbusStateClosed:
		blkback_disconnect(v->bb);
		v->port = 0;
		if (v->state != XenbusStateClosed)
			set_state(v, XenbusStateClosed);
		break;
	default:
		break; /* Unknown, a removed node, nonsense: nothing to do */
	}
}

int xen_vbd_create(struct xen_vbd **out, const struct xen_vbd_params *p)
{
	struct xen_vbd *v = calloc(1, sizeof(*v));
	struct blk_engine *e = p->engine;
	char path[160];
	int r;

	if (!v)
		return -ENOMEM;
	v->p = *p;
	v->bb = blkback_new(p->gnttab, e, 0, p->notify, p->ctx);
	if (!v->bb) {
		free(v);
		return -ENOMEM;
	}
	snprintf(v->fe, sizeof(v->fe), "/local/domain/%u/device/vbd/%u", p->domid, p->vdev);
	snprintf(v->be, sizeof(v->be), "/local/domain/0/backend/vbd/%u/%u", p->domid, p->vdev);
	r = xenstore_mkdir(p->xs, v->be) ?:
	    xenstore_set_perms(p->xs, v->be, (struct xs_perm[]){{0, 'n'}, {p->domid, 'r'}}, 2) ?:
	    put(v, v->be, "frontend", "%s", v->fe) ?:
	    put(v, v->be, "frontend-id", "%u", p->domid) ?:
	    put(v, v->be, "online", "1") ?:
	    put(v, v->be, "removable", "0") ?:
	    put(v, v->be, "bootable", "1") ?:
	    put(v, v->be, "type", "file") ?:
	    put(v, v->be, "params", "%s", p->image ? p->image : "") ?:
	    put(v, v->be, "mode", blk_readonly(e) ? "r" : "w") ?:
	    put(v, v->be, "device-type", "disk") ?:
	    put(v, v->be, "sectors", "%llu",
		(unsigned long long)(blk_size(e) / BLK_SECTOR_SIZE)) ?:
	    put(v, v->be, "info", "%u", blk_readonly(e) ? VDISK_READONLY_INFO : 0) ?:
	    put(v, v->be, "sector-size", "%u", BLK_SECTOR_SIZE) ?:
	    put(v, v->be, "physical-sector-size", "%u", BLK_SECTOR_SIZE) ?:
	    put(v, v->be, "feature-flush-cache", "1") ?:
	    put(v, v->be, "feature-barrier", "1") ?:
	    put(v, v->be, "feature-max-indirect-segments", "%u", BLKBACK_MAX_INDIRECT);
	if (!r && blk_discard_supported(e) && !blk_readonly(e))
		r = put(v, v->be, "feature-discard", "1") ?:
		    put(v, v->be, "discard-granularity", "%u", BLK_SECTOR_SIZE) ?:
		    put(v, v->be, "discard-alignment", "0") ?:
		    put(v, v->be, "discard-secure", "0");
	if (!r)
		r = xenstore_mkdir(p->xs, v->fe) ?:
		    xenstore_set_perms(p->xs, v->fe,
				       (struct xs_perm[]){{p->domid, 'n'}, {0, 'r'}}, 2) ?:
		    put(v, v->fe, "backend", "%s", v->be) ?:
		    put(v, v->fe, "backend-id", "0") ?:
		    put(v, v->fe, "virtual-device", "%u", p->vdev) ?:
		    put(v, v->fe, "device-type", "disk") ?:
		    put(v, v->fe, "state", "%d", XenbusStateInitialising);
	if (!r) {
		v->state = XenbusStateInitWait;
		r = put(v, v->be, "state", "%d", XenbusStateInitWait);
	}
	if (!r && !node(v->fe, "state", path, sizeof(path)))
		r = xenstore_watch(p->xs, path, frontend_changed, v);
	if (r) {
		xen_vbd_free(v);
		return r;
	}
	*out = v;
	return 0;
}

void xen_vbd_free(struct xen_vbd *v)
{
	if (!v)
		return;
	blkback_free(v->bb);
	free(v);
}

struct blkback *xen_vbd_blkback(struct xen_vbd *v)
{
	return v->bb;
}

evtchn_port_t xen_vbd_port(const struct xen_vbd *v)
{
	return v->port;
}
