/* vcpu.c - vcpu_op: vcpu_info and runstate registration, timers, is_up. */
#include <stdint.h>
#include <string.h>

#include <xen/sched.h>
#include <xen/vcpu.h>

#include "xen/families.h"
#include "xen/hypercall.h"
#include "xen/time.h"

struct vcpu_info *xen_vcpu_info(struct xen_vcpu *v)
{
	return gpa_ptr_guest(v->d->mem, v->vcpu_info_gpa, sizeof(struct vcpu_info));
}

long xen_vcpu_op(struct xen_vcpu *v, const uint64_t a[6])
{
	uint64_t cmd = a[0], id = a[1], arg = a[2];
	uint64_t now = v->hooks && v->hooks->now_ns ? v->hooks->now_ns(v->opaque) : 0;

	if (id != 0)
		return -XEN_ENOENT; /* one vCPU */
	switch (cmd) {
	case VCPUOP_is_up:
		return 1;
	case VCPUOP_down:
		/* The only vCPU: nothing could bring it up again (Xen would leave the domain
		 * there forever; Linux does it in its early-exception halt loop). The run ends
		 * as a crash rather than hang. */
		v->d->shut_down = true;
		v->d->shutdown_reason = SHUTDOWN_crash;
		return 0;
	case VCPUOP_register_vcpu_info: {
		struct vcpu_register_vcpu_info r;
		struct vcpu_info *old = xen_vcpu_info(v), *new;

		if (xen_copy_from_guest(v, &r, arg, sizeof(r)))
			return -XEN_EFAULT;
		if (r.offset > XEN_PAGE_SIZE - sizeof(struct vcpu_info) ||
		    !xen_frame_ok(v->d, r.mfn))
			return -XEN_EINVAL;
		if (v->vcpu_info_gpa != v->d->shared_info_gpa)
			return -XEN_EINVAL; /* once only, as Xen */
		new = gpa_ptr_guest(v->d->mem, r.mfn * XEN_PAGE_SIZE + r.offset, sizeof(*new));
		if (!new)
			return -XEN_EINVAL;
		if (old)
			memmove(new, old, sizeof(*new));
		v->vcpu_info_gpa = r.mfn * XEN_PAGE_SIZE + r.offset;
		/* Xen's force_update_vcpu_system_time: the new copy is current at once */
		xen_time_publish(v, v->hooks && v->hooks->guest_tsc ? v->hooks->guest_tsc(v->opaque)
								    : 0);
		return 0;
	}
	case VCPUOP_register_runstate_memory_area: {
		struct vcpu_register_runstate_memory_area r;
		struct vcpu_runstate_info rs = {.state = RUNSTATE_running, .state_entry_time = now};

		if (xen_copy_from_guest(v, &r, arg, sizeof(r)))
			return -XEN_EFAULT;
		v->runstate_va = (uint64_t)(uintptr_t)r.addr.v;
		/* Xen tolerates an unmapped area: the write is retried at each switch */
		if (v->runstate_va)
			(void)xen_copy_to_guest(v, v->runstate_va, &rs, sizeof(rs));
		return 0;
	}
	case VCPUOP_set_singleshot_timer: {
		struct vcpu_set_singleshot_timer t;

		if (xen_copy_from_guest(v, &t, arg, sizeof(t)))
			return -XEN_EFAULT;
		if ((t.flags & VCPU_SSHOTTMR_future) && t.timeout_abs_ns < now)
			return -XEN_ETIME;
		v->timer_deadline_ns = t.timeout_abs_ns;
		return 0;
	}
	case VCPUOP_stop_singleshot_timer:
		v->timer_deadline_ns = 0;
		return 0;
	case VCPUOP_set_periodic_timer: {
		struct vcpu_set_periodic_timer t;

		if (xen_copy_from_guest(v, &t, arg, sizeof(t)))
			return -XEN_EFAULT;
		/* Xen: at least 1 ms, at most STIME_DELTA_MAX (now + period never wraps) */
		if (t.period_ns < 1000000 || t.period_ns > INT64_MAX)
			return -XEN_EINVAL;
		v->periodic_ns = t.period_ns;
		v->periodic_next_ns = now + t.period_ns;
		return 0;
	}
	case VCPUOP_stop_periodic_timer:
		v->periodic_ns = 0;
		v->periodic_next_ns = 0;
		return 0;
	case VCPUOP_register_vcpu_time_memory_area:
		return xen_time_register_area(v, arg);
	default:
		return -XEN_ENOSYS;
	}
}
