/* time.c - the pvclock, the wallclock and the timers of a Xen PV guest (xen/time.h). */
#include "xen/time.h"

#include <string.h>

#include <xen/vcpu.h>

#include "xen/families.h"
#include "xen/hypercall.h"

#define NS_PER_SEC 1000000000ULL

void xen_time_scale(uint64_t hz, uint32_t *mul, int8_t *shift)
{
	uint64_t tps = hz ? hz : 1;
	int s = 0;

	/* Xen's set_time_scale: bring the rate into (1e9, 2e9], then mul = 1e9 / rate as a
	 * 32-bit binary fraction, so mul never overflows and keeps 31+ significant bits */
	while (tps > 2 * NS_PER_SEC) {
		tps >>= 1;
		s--;
	}
	while (tps <= NS_PER_SEC) {
		tps <<= 1;
		s++;
	}
	*mul = (uint32_t)((NS_PER_SEC << 32) / tps);
	*shift = (int8_t)s;
}

uint64_t xen_time_scale_delta(uint64_t delta, uint32_t mul, int8_t shift)
{
	if (shift < 0)
		delta >>= -shift;
	else
		delta <<= shift;
	return (uint64_t)(((unsigned __int128)delta * mul) >> 32);
}

void xen_clock_init(struct xen_clock *c, uint64_t tsc_hz, uint64_t tsc0, uint64_t wall0,
		    bool stable)
{
	memset(c, 0, sizeof(*c));
	xen_time_scale(tsc_hz, &c->mul, &c->shift);
	c->tsc0 = tsc0;
	c->wall0 = wall0;
	c->flags = stable ? XEN_PVCLOCK_TSC_STABLE_BIT : 0;
}

uint64_t xen_clock_ns(const struct xen_clock *c, uint64_t tsc)
{
	return tsc > c->tsc0 ? xen_time_scale_delta(tsc - c->tsc0, c->mul, c->shift) : 0;
}

/* The record for guest TSC tsc; version left to the caller. */
static struct vcpu_time_info record(const struct xen_clock *c, uint64_t tsc)
{
	return (struct vcpu_time_info){
		.version = 0,
		.tsc_timestamp = tsc,
		.system_time = xen_clock_ns(c, tsc),
		.tsc_to_system_mul = c->mul,
		.tsc_shift = c->shift,
		.flags = c->flags,
	};
}

/* Version odd, fields, version even: a reader that sees the same even version before
 * and after its reads has a consistent record (pvclock_read_begin/retry). */
static void publish_at(struct vcpu_time_info *t, const struct vcpu_time_info *r)
{
	uint32_t version = (__atomic_load_n(&t->version, __ATOMIC_RELAXED) + 1) | 1;

	__atomic_store_n(&t->version, version, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	t->tsc_timestamp = r->tsc_timestamp;
	t->system_time = r->system_time;
	t->tsc_to_system_mul = r->tsc_to_system_mul;
	t->tsc_shift = r->tsc_shift;
	t->flags = r->flags;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&t->version, version + 1, __ATOMIC_RELAXED);
}

/* The secondary copy lives at a guest-linear address: Xen's update_secondary_system_time
 * writes it with copy_to_guest, version first and last; an unmapped area is skipped. */
static void publish_area(struct xen_vcpu *v, const struct vcpu_time_info *r)
{
	uint64_t va = v->time_area_va;
	struct vcpu_time_info t;
	uint32_t version;

	if (xen_copy_from_guest(v, &version, va, sizeof(version)))
		return;
	version = (version + 1) | 1;
	if (xen_copy_to_guest(v, va, &version, sizeof(version)))
		return;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	t = *r;
	t.version = version;
	if (xen_copy_to_guest(v, va + sizeof(version), (const uint8_t *)&t + sizeof(version),
			      sizeof(t) - sizeof(version)))
		return;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	version++;
	(void)xen_copy_to_guest(v, va, &version, sizeof(version));
}

void xen_time_publish(struct xen_vcpu *v, uint64_t tsc)
{
	struct vcpu_info *vi = xen_vcpu_info(v);
	struct vcpu_time_info r;

	if (!v->d->clock)
		return;
	r = record(v->d->clock, tsc);
	if (vi)
		publish_at(&vi->time, &r);
	if (v->time_area_va)
		publish_area(v, &r);
}

void xen_wallclock_publish(struct xen_domain *d)
{
	struct shared_info *s = gpa_ptr_guest(d->mem, d->shared_info_gpa, sizeof(*s));
	uint32_t version;

	if (!s || !d->clock)
		return;
	version = (__atomic_load_n(&s->wc_version, __ATOMIC_RELAXED) + 1) | 1;
	__atomic_store_n(&s->wc_version, version, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	s->wc_sec = (uint32_t)(d->clock->wall0 / NS_PER_SEC);
	s->wc_nsec = (uint32_t)(d->clock->wall0 % NS_PER_SEC);
	s->xen_wc_sec_hi = (uint32_t)(d->clock->wall0 / NS_PER_SEC >> 32);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&s->wc_version, version + 1, __ATOMIC_RELAXED);
}

long xen_time_register_area(struct xen_vcpu *v, uint64_t arg)
{
	struct vcpu_register_time_memory_area r;
	uint64_t va;

	if (xen_copy_from_guest(v, &r, arg, sizeof(r)))
		return -XEN_EFAULT;
	va = r.addr.p;
	/* Xen's guest_handle_okay: the whole record below the hypervisor's range */
	if (va && (va + sizeof(struct vcpu_time_info) < va ||
		   (va + sizeof(struct vcpu_time_info) > __HYPERVISOR_VIRT_START &&
		    va < __HYPERVISOR_VIRT_END)))
		return -XEN_EFAULT;
	if (va && (uint64_t)((int64_t)(va << 16) >> 16) != va)
		return -XEN_EFAULT;
	v->time_area_va = va;
	/* force_update_vcpu_system_time: the guest reads the area right after */
	xen_time_publish(v, v->hooks && v->hooks->guest_tsc ? v->hooks->guest_tsc(v->opaque) : 0);
	return 0;
}

/* Xen's do_set_timer_op: 0 stops; a negative timeout or one more than 2^50 ns ahead
 * (Linux's wrapped jiffies) becomes an event in 100 ms; a past one fires at once. */
void xen_timer_set(struct xen_vcpu *v, uint64_t timeout, uint64_t now)
{
	int64_t offset = (int64_t)(timeout - now);

	if (!timeout)
		v->timer_deadline_ns = 0;
	else if ((int64_t)timeout < 0 || (offset > 0 && (uint32_t)(offset >> 50)))
		v->timer_deadline_ns = now + 100000000;
	else
		v->timer_deadline_ns = timeout;
}

static void virq_timer(struct xen_vcpu *v)
{
	evtchn_port_t port = v->d->virq_port[VIRQ_TIMER];

	if (port)
		xen_evtchn_set_pending(v, port);
}

uint64_t xen_timer_poll(struct xen_vcpu *v, uint64_t now)
{
	uint64_t next = 0;

	if (v->timer_deadline_ns && now >= v->timer_deadline_ns) {
		v->timer_deadline_ns = 0; /* singleshot */
		virq_timer(v);
	}
	if (!v->periodic_ns) {
		v->periodic_next_ns = 0;
	} else {
		if (!v->periodic_next_ns)
			v->periodic_next_ns = now + v->periodic_ns;
		if (now >= v->periodic_next_ns) {
			virq_timer(v);
			v->periodic_next_ns = now + v->periodic_ns; /* periodic_last_event */
		}
		next = v->periodic_next_ns;
	}
	if (v->timer_deadline_ns && (!next || v->timer_deadline_ns < next))
		next = v->timer_deadline_ns;
	return next;
}
