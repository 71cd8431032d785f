/* backend.c - domain 0's services for a PV guest: grant table, xenstore, block devices. */
#include "xen/backend.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "dev/iothread.h"
#include "xen/domain.h"
#include "xen/families.h"
#include "xen/grant.h"
#include "xen/vbd.h"
#include "xen/xenstore.h"

struct xen_backends {
	struct xen_domain *d;
	struct xen_vcpu *v;
	struct xen_gnttab gnttab;
	struct xenstore *xs;
	struct xen_vbd *vbd[XEN_BACKEND_DISKS];
	struct blk_engine *engine[XEN_BACKEND_DISKS];
	unsigned nvbd;
	struct iothread *io;
	void (*wake)(void *ctx);
	void *wake_ctx;
};

static void store_notify(void *ctx)
{
	struct xen_backends *b = ctx;

	xen_evtchn_set_pending(b->v, b->d->store_port);
}

/* From either thread: the vCPU thread's kick or the I/O thread's completions. */
static void vbd_notify(void *ctx, evtchn_port_t port)
{
	struct xen_backends *b = ctx;

	xen_evtchn_set_pending(b->v, port);
	if (b->wake)
		b->wake(b->wake_ctx);
}

/* Xen's bind_interdomain from domain 0's side: the guest's port must be unbound for 0. */
static bool bind_port(void *ctx, evtchn_port_t port)
{
	struct xen_backends *b = ctx;
	struct xen_port *p;

	if (port == 0 || port >= XEN_NR_PORTS)
		return false;
	p = &b->d->ports[port];
	if (p->state == EVTCHNSTAT_unbound && p->remote_dom == 0) {
		p->state = EVTCHNSTAT_interdomain;
		return true;
	}
	return false;
}

static void vbd_complete(void *ctx)
{
	blkback_complete(xen_vbd_blkback(ctx));
}

static int domain_tree(struct xen_backends *b, const char *name)
{
	struct xenstore *xs = b->xs;
	const uint16_t id = XEN_GUEST_DOMID;
	char dom[64], path[128];
	int r;

	snprintf(dom, sizeof(dom), "/local/domain/%u", id);
	/* as a toolstack lays it out: the guest reads its directory and owns the parts it
	 * writes (device/ entries, control/, data/) */
	r = xenstore_mkdir(xs, "/local/domain/0") ?: xenstore_write(xs, "/local/domain/0/name",
								  "Domain-0") ?:
	    xenstore_mkdir(xs, dom) ?:
	    xenstore_set_perms(xs, dom, (struct xs_perm[]){{0, 'n'}, {id, 'r'}}, 2);
	if (r)
		return r;
	snprintf(path, sizeof(path), "%s/name", dom);
	r = xenstore_write(xs, path, name ? name : "lodger");
	snprintf(path, sizeof(path), "%s/domid", dom);
	r = r ?: xenstore_printf(xs, path, "%u", id);
	snprintf(path, sizeof(path), "%s/cpu/0/availability", dom);
	r = r ?: xenstore_write(xs, path, "online");
	snprintf(path, sizeof(path), "%s/device", dom);
	r = r ?: xenstore_mkdir(xs, path);
	static const char *const owned[] = {"control", "data"};

	for (unsigned i = 0; !r && i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", dom, owned[i]);
		r = xenstore_mkdir(xs, path)
			    ?: xenstore_set_perms(xs, path, (struct xs_perm[]){{id, 'n'}}, 1);
	}
	return r;
}

int xen_backends_start(const struct xen_backends_params *p)
{
	struct xen_domain *d = p->d;
	struct xen_backends *b;
	int r = 0;

	if (p->ndisks > XEN_BACKEND_DISKS)
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->d = d;
	b->v = p->v;
	b->wake = p->wake;
	b->wake_ctx = p->wake_ctx;
	xen_gnttab_init(&b->gnttab, d->mem, d->shared_info_gpa / XEN_PAGE_SIZE + 1,
			XEN_GNTTAB_MAX_FRAMES, d->nr_pages, XEN_GUEST_DOMID);
	b->xs = xenstore_new(d->mem, d->store_gpa, XEN_GUEST_DOMID, store_notify, b);
	if (!b->xs)
		r = -ENOMEM;
	r = r ?: domain_tree(b, p->name);
	for (unsigned i = 0; !r && i < p->ndisks; i++) {
		struct xen_vbd_params vp = {
			.xs = b->xs,
			.gnttab = &b->gnttab,
			.engine = p->disks[i].engine,
			.image = p->disks[i].image,
			.domid = XEN_GUEST_DOMID,
			.vdev = XEN_VBD_FIRST + 16 * i,
			.notify = vbd_notify,
			.ctx = b,
			.bind_port = bind_port,
		};

		r = xen_vbd_create(&b->vbd[i], &vp);
		if (!r)
			b->engine[b->nvbd++] = p->disks[i].engine;
	}
	if (!r && b->nvbd)
		r = iothread_start(&b->io);
	for (unsigned i = 0; !r && i < b->nvbd; i++)
		r = iothread_watch(b->io, blk_event_fd(b->engine[i]), vbd_complete, b->vbd[i]);
	d->gnttab = &b->gnttab;
	d->backends = b;
	if (r)
		xen_backends_stop(d);
	return r;
}

void xen_backends_stop(struct xen_domain *d)
{
	struct xen_backends *b = d->backends;

	if (!b)
		return;
	iothread_stop(b->io);
	xenstore_free(b->xs);
	for (unsigned i = 0; i < b->nvbd; i++)
		xen_vbd_free(b->vbd[i]);
	d->gnttab = NULL;
	d->backends = NULL;
	free(b);
}

struct xenstore *xen_backends_store(struct xen_domain *d)
{
	return d->backends ? d->backends->xs : NULL;
}

void xen_backends_send(struct xen_vcpu *v, evtchn_port_t port)
{
	struct xen_backends *b = v->d->backends;

	if (!b)
		return;
	if (port == v->d->store_port) {
		xenstore_kick(b->xs);
		return;
	}
	for (unsigned i = 0; i < b->nvbd; i++)
		if (port && xen_vbd_port(b->vbd[i]) == port)
			blkback_kick(xen_vbd_blkback(b->vbd[i]));
}
