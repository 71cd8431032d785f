/* evtchn.c - event channels, 2-level ABI: pending and mask bits in shared_info. */
#include <stdint.h>
#include <string.h>

#include <xen/event_channel.h>

#include "xen/families.h"
#include "xen/hypercall.h"

#define BITS_PER_WORD 64

static struct shared_info *shinfo(struct xen_domain *d)
{
	return gpa_ptr_guest(d->mem, d->shared_info_gpa, sizeof(struct shared_info));
}

void xen_evtchn_init(struct xen_domain *d)
{
	/* Xen binds them to the backends (console daemon, xenstored): interdomain */
	if (d->console_port && d->console_port < XEN_NR_PORTS)
		d->ports[d->console_port].state = EVTCHNSTAT_interdomain;
	if (d->store_port && d->store_port < XEN_NR_PORTS)
		d->ports[d->store_port].state = EVTCHNSTAT_interdomain;
}

static bool test_and_set(xen_ulong_t *w, unsigned bit)
{
	xen_ulong_t m = (xen_ulong_t)1 << bit;

	return __atomic_fetch_or(w, m, __ATOMIC_SEQ_CST) & m;
}

void xen_evtchn_set_pending(struct xen_vcpu *v, evtchn_port_t port)
{
	struct shared_info *s = shinfo(v->d);
	struct vcpu_info *vi = xen_vcpu_info(v);
	unsigned w = port / BITS_PER_WORD, b = port % BITS_PER_WORD;

	if (!s || port >= XEN_NR_PORTS)
		return;
	v->d->events[port]++;
	if (test_and_set(&s->evtchn_pending[w], b))
		return;
	if ((s->evtchn_mask[w] >> b) & 1)
		return;
	if (vi && !test_and_set(&vi->evtchn_pending_sel, w))
		vi->evtchn_upcall_pending = 1;
	else if (vi)
		vi->evtchn_upcall_pending = 1;
}

static long alloc_port(struct xen_domain *d)
{
	for (evtchn_port_t p = 1; p < XEN_NR_PORTS; p++)
		if (d->ports[p].state == EVTCHNSTAT_closed)
			return p;
	return -XEN_ENOSPC;
}

static bool port_ok(const struct xen_domain *d, uint64_t port)
{
	return port < XEN_NR_PORTS && d->ports[port].state != EVTCHNSTAT_closed;
}

long xen_event_channel_op(struct xen_vcpu *v, const uint64_t a[6])
{
	struct xen_domain *d = v->d;
	uint64_t cmd = a[0], arg = a[1];
	union {
		struct evtchn_bind_virq bind_virq;
		struct evtchn_send send;
		struct evtchn_unmask unmask;
		struct evtchn_close close;
		struct evtchn_alloc_unbound alloc;
		struct evtchn_status status;
		struct evtchn_init_control init;
		struct evtchn_bind_ipi bind_ipi;
		struct evtchn_bind_vcpu bind_vcpu;
	} u;
	size_t size;
	long p;

	switch (cmd) {
	case EVTCHNOP_bind_virq:
		size = sizeof(u.bind_virq);
		break;
	case EVTCHNOP_send:
		size = sizeof(u.send);
		break;
	case EVTCHNOP_unmask:
		size = sizeof(u.unmask);
		break;
	case EVTCHNOP_close:
		size = sizeof(u.close);
		break;
	case EVTCHNOP_alloc_unbound:
		size = sizeof(u.alloc);
		break;
	case EVTCHNOP_status:
		size = sizeof(u.status);
		break;
	case EVTCHNOP_init_control:
		size = sizeof(u.init);
		break;
	case EVTCHNOP_bind_ipi:
		size = sizeof(u.bind_ipi);
		break;
	case EVTCHNOP_bind_vcpu:
		size = sizeof(u.bind_vcpu);
		break;
	default:
		return -XEN_ENOSYS; /* FIFO's expand_array, set_priority... included */
	}
	if (xen_copy_from_guest(v, &u, arg, size))
		return -XEN_EFAULT;
	switch (cmd) {
	case EVTCHNOP_bind_virq:
		if (u.bind_virq.virq >= NR_VIRQS)
			return -XEN_EINVAL;
		if (u.bind_virq.vcpu != 0)
			return -XEN_ENOENT;
		if (d->virq_port[u.bind_virq.virq])
			return -XEN_EEXIST;
		if ((p = alloc_port(d)) < 0)
			return p;
		d->ports[p] = (struct xen_port){.state = EVTCHNSTAT_virq,
						.virq = (uint8_t)u.bind_virq.virq};
		d->virq_port[u.bind_virq.virq] = (evtchn_port_t)p;
		u.bind_virq.port = (evtchn_port_t)p;
		return xen_copy_to_guest(v, arg, &u, size);
	case EVTCHNOP_bind_ipi:
		/* Linux binds its IPIs even with one CPU (xen_smp_intr_init) */
		if (u.bind_ipi.vcpu != 0)
			return -XEN_ENOENT;
		if ((p = alloc_port(d)) < 0)
			return p;
		d->ports[p] = (struct xen_port){.state = EVTCHNSTAT_ipi};
		u.bind_ipi.port = (evtchn_port_t)p;
		return xen_copy_to_guest(v, arg, &u, size);
	case EVTCHNOP_bind_vcpu:
		/* every port already notifies vCPU 0, the only one */
		if (!port_ok(d, u.bind_vcpu.port))
			return -XEN_EINVAL;
		return u.bind_vcpu.vcpu == 0 ? 0 : -XEN_ENOENT;
	case EVTCHNOP_send:
		if (!port_ok(d, u.send.port))
			return -XEN_EINVAL;
		if (d->ports[u.send.port].state == EVTCHNSTAT_ipi) {
			xen_evtchn_set_pending(v, u.send.port); /* to itself */
			return 0;
		}
		if (u.send.port == d->console_port) {
			d->ring_used = true;
			xen_console_drain(v);
		} else {
			xen_backends_send(v, u.send.port);
		}
		return 0;
	case EVTCHNOP_unmask: {
		struct shared_info *s = shinfo(d);
		unsigned w = u.unmask.port / BITS_PER_WORD, b = u.unmask.port % BITS_PER_WORD;

		if (u.unmask.port >= XEN_NR_PORTS)
			return -XEN_EINVAL;
		if (!s)
			return 0;
		__atomic_fetch_and(&s->evtchn_mask[w], ~((xen_ulong_t)1 << b), __ATOMIC_SEQ_CST);
		if ((s->evtchn_pending[w] >> b) & 1) {
			struct vcpu_info *vi = xen_vcpu_info(v);

			if (vi && !test_and_set(&vi->evtchn_pending_sel, w))
				vi->evtchn_upcall_pending = 1;
		}
		return 0;
	}
	case EVTCHNOP_close:
		if (!port_ok(d, u.close.port))
			return -XEN_EINVAL;
		if (d->ports[u.close.port].state == EVTCHNSTAT_virq)
			d->virq_port[d->ports[u.close.port].virq] = 0;
		d->ports[u.close.port] = (struct xen_port){0};
		return 0;
	case EVTCHNOP_alloc_unbound:
		if (u.alloc.dom != DOMID_SELF)
			return -XEN_EPERM;
		if ((p = alloc_port(d)) < 0)
			return p;
		d->ports[p] = (struct xen_port){.state = EVTCHNSTAT_unbound,
						.remote_dom = u.alloc.remote_dom};
		u.alloc.port = (evtchn_port_t)p;
		return xen_copy_to_guest(v, arg, &u, size);
	case EVTCHNOP_status:
		if (u.status.dom != DOMID_SELF)
			return -XEN_EPERM;
		if (u.status.port >= XEN_NR_PORTS)
			return -XEN_EINVAL;
		u.status.status = d->ports[u.status.port].state;
		u.status.vcpu = 0;
		if (u.status.status == EVTCHNSTAT_virq)
			u.status.u.virq = d->ports[u.status.port].virq;
		else if (u.status.status == EVTCHNSTAT_unbound)
			u.status.u.unbound.dom = d->ports[u.status.port].remote_dom;
		return xen_copy_to_guest(v, arg, &u, size);
	case EVTCHNOP_init_control:
		/* Xen's evtchn_fifo_init_control checks its arguments (the vCPU, the control
		 * block inside one page, 8-aligned, in a frame of the guest: XSA-188 gives it a
		 * bad one) before it maps anything; lodger then declines the FIFO ABI itself,
		 * and the guest stays on the 2-level one. */
		if (u.init.vcpu != 0)
			return -XEN_ENOENT;
		if (u.init.offset > XEN_PAGE_SIZE - sizeof(struct evtchn_fifo_control_block) ||
		    (u.init.offset & 7) || !xen_frame_ok(d, u.init.control_gfn))
			return -XEN_EINVAL;
		return -XEN_ENOSYS;
	}
	return -XEN_ENOSYS;
}
