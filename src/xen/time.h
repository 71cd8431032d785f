/*
 * time.h - Xen's time for a PV guest: the pvclock in vcpu_info (and the area of
 * VCPUOP_register_vcpu_time_memory_area), the wallclock in shared_info, and VIRQ_TIMER
 * from the singleshot and periodic timers.
 *
 * The guest reads its own TSC and scales it with what lodger publishes, as Linux's
 * pvclock_clocksource_read does:
 *     system_time + (((tsc - tsc_timestamp) << tsc_shift) * tsc_to_system_mul) >> 32
 * (a negative shift shifts right). Xen's system time is nanoseconds since the domain
 * started; lodger defines it by the same formula from one (guest TSC, time 0) pair, so
 * the guest's clock and lodger's timers are one clock: the core's hooks->now_ns should
 * return xen_clock_ns(clock, hooks->guest_tsc()). Each publication follows the version
 * protocol: version made odd, fields written, version made even, with barriers between.
 */
#ifndef LODGER_XEN_TIME_H
#define LODGER_XEN_TIME_H

#include <stdint.h>

#include "xen/state.h"

struct xen_clock {
	uint64_t tsc0;	/* the guest TSC at system time 0 */
	uint32_t mul;	/* tsc_to_system_mul */
	int8_t shift;	/* tsc_shift */
	uint64_t wall0; /* UTC (ns since the epoch) at system time 0 */
	uint8_t flags;	/* XEN_PVCLOCK_TSC_STABLE_BIT when the TSC is invariant */
};

/* Xen's set_time_scale: mul and shift that turn ticks at `hz` into nanoseconds. */
void xen_time_scale(uint64_t hz, uint32_t *mul, int8_t *shift);

/* pvclock's scale of a TSC delta: ((delta << shift) * mul) >> 32, shift may be < 0. */
uint64_t xen_time_scale_delta(uint64_t delta, uint32_t mul, int8_t shift);

/* A clock whose system time 0 is guest TSC tsc0 and UTC wall0; tsc_hz > 0. */
void xen_clock_init(struct xen_clock *c, uint64_t tsc_hz, uint64_t tsc0, uint64_t wall0,
		    bool stable);

/* System time (ns) at guest TSC value tsc (0 before tsc0). */
uint64_t xen_clock_ns(const struct xen_clock *c, uint64_t tsc);

/* Writes the time at guest TSC `tsc` into the vCPU's vcpu_info and its registered time
 * area (Xen's update_vcpu_system_time). Nothing when d->clock is NULL. */
void xen_time_publish(struct xen_vcpu *v, uint64_t tsc);

/* Writes shared_info's wallclock (wc_version, wc_sec, wc_nsec, wc_sec_hi). */
void xen_wallclock_publish(struct xen_domain *d);

/* VCPUOP_register_vcpu_time_memory_area (arg: the guest's struct); 0 or -errno. */
long xen_time_register_area(struct xen_vcpu *v, uint64_t arg);

/* set_timer_op's semantics (Xen's do_set_timer_op) at system time now. */
void xen_timer_set(struct xen_vcpu *v, uint64_t timeout, uint64_t now);

/*
 * At system time now: fires VIRQ_TIMER (when bound) for an expired singleshot timer or a
 * due periodic one, as Xen's timer functions do. Returns the next deadline (system time)
 * the core must wake the vCPU at, 0 for none.
 */
uint64_t xen_timer_poll(struct xen_vcpu *v, uint64_t now);

#endif
