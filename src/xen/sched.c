/* sched.c - sched_op (yield, block, poll, shutdown) and set_timer_op. */
#include <stdint.h>
#include <xen/sched.h>

#include "xen/families.h"
#include "xen/hypercall.h"
#include "xen/time.h"

long xen_sched_op(struct xen_vcpu *v, const uint64_t a[6])
{
	uint64_t cmd = a[0], arg = a[1];

	switch (cmd) {
	case SCHEDOP_yield:
		return 0;
	case SCHEDOP_block: {
		/* Xen unmasks events and sleeps until one is pending: the core waits */
		struct vcpu_info *vi = xen_vcpu_info(v);

		if (vi)
			vi->evtchn_upcall_mask = 0;
		v->blocked = true;
		return 0;
	}
	case SCHEDOP_shutdown: {
		struct sched_shutdown s;

		if (xen_copy_from_guest(v, &s, arg, sizeof(s)))
			return -XEN_EFAULT;
		v->d->shut_down = true;
		v->d->shutdown_reason = s.reason;
		return 0;
	}
	case SCHEDOP_poll: {
		struct sched_poll p;

		if (xen_copy_from_guest(v, &p, arg, sizeof(p)))
			return -XEN_EFAULT;
		if (p.nr_ports > 128) /* Xen's limit */
			return -XEN_EINVAL;
		for (unsigned i = 0; i < p.nr_ports; i++) {
			evtchn_port_t port;

			if (xen_copy_from_guest(v, &port,
						(uint64_t)(uintptr_t)p.ports.p + i * sizeof(port),
						sizeof(port)))
				return -XEN_EFAULT;
			if (port >= XEN_NR_PORTS)
				return -XEN_EINVAL;
		}
		return 0; /* one vCPU and no remote end: nothing to wait for */
	}
	default:
		return -XEN_ENOSYS;
	}
}

long xen_set_timer_op(struct xen_vcpu *v, const uint64_t a[6])
{
	xen_timer_set(v, a[0], v->hooks && v->hooks->now_ns ? v->hooks->now_ns(v->opaque) : 0);
	return 0;
}
