/*
 * test_xen_time.c - Xen's time for PV guests (src/xen/time.c): the scale against exact
 * arithmetic, the pvclock as Linux reads it, the version protocol, the wallclock, the
 * secondary time area, and VIRQ_TIMER from set_timer_op, singleshot and periodic timers.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include <xen/event_channel.h>
#include <xen/vcpu.h>

#include "xen/domain.h"
#include "xen/families.h"
#include "xen/hypercall.h"
#include "xen/time.h"
#include "xen_fixture.h"
#include "xen_image.h"

#define RAM	(32ULL << 20)
#define SCRATCH 0x200000ULL
#define HZ	2893456000ULL /* a TSC rate that is no power of two */

static struct guest_mem mem;
static struct xen_domain d;
static struct xen_layout l;
static struct xen_vcpu v;
static struct xen_clock clk;
static uint64_t tsc_now;

static uint64_t guest_tsc(void *o)
{
	(void)o;
	return tsc_now;
}

static uint64_t now_ns(void *o)
{
	(void)o;
	return xen_clock_ns(&clk, tsc_now);
}

static const struct xen_hooks hooks = {.guest_tsc = guest_tsc, .now_ns = now_ns};

static void setup(void)
{
	xen_fixture_vcpu(&mem, RAM, &d, &l, &v, &hooks);
	tsc_now = 5000000;
	xen_clock_init(&clk, HZ, tsc_now, 1700000000ULL * 1000000000 + 250000000, true);
	d.clock = &clk;
}

static void teardown(void)
{
	xen_domain_free(&d);
	mem_free(&mem);
}

TestSuite(time, .init = setup, .fini = teardown);

/* Linux's pvclock_clocksource_read, written from the ABI: the reader's side. */
static uint64_t linux_read(const volatile struct vcpu_time_info *t, uint64_t tsc)
{
	uint32_t version;
	uint64_t delta, ns;

	do {
		version = t->version & ~1u;
		delta = tsc - t->tsc_timestamp;
		if (t->tsc_shift < 0)
			delta >>= -t->tsc_shift;
		else
			delta <<= t->tsc_shift;
		ns = t->system_time +
		     (uint64_t)(((unsigned __int128)delta * t->tsc_to_system_mul) >> 32);
	} while (t->version != version);
	return ns;
}

Test(time, scale_matches_exact_arithmetic)
{
	static const uint64_t rates[] = {1000000,    25000000, 999999999,  1000000000, 1000000001,
					 2000000000, HZ,       3700000000, 4294967296, 10000000000};

	for (unsigned i = 0; i < sizeof(rates) / sizeof(rates[0]); i++) {
		uint32_t mul;
		int8_t shift;

		xen_time_scale(rates[i], &mul, &shift);
		cr_assert_geq(mul, 1u << 31, "%llu Hz: mul keeps 32 significant bits",
			      (unsigned long long)rates[i]);
		/* an hour of ticks: within 2 ppb of ticks * 1e9 / hz */
		for (uint64_t secs = 1; secs <= 3600; secs *= 60) {
			uint64_t ticks = rates[i] * secs;
			uint64_t exact =
				(uint64_t)((unsigned __int128)ticks * 1000000000 / rates[i]);
			uint64_t got = xen_time_scale_delta(ticks, mul, shift);
			uint64_t err = got > exact ? got - exact : exact - got;

			cr_expect_leq(err, exact / 500000000 + 2, "%llu Hz, %llu s: %llu vs %llu",
				      (unsigned long long)rates[i], (unsigned long long)secs,
				      (unsigned long long)got, (unsigned long long)exact);
		}
	}
}

Test(time, one_gigahertz_is_the_identity)
{
	uint32_t mul;
	int8_t shift;

	xen_time_scale(1000000000, &mul, &shift);
	cr_expect_eq(mul, 1u << 31);
	cr_expect_eq(shift, 1);
	cr_expect_eq(xen_time_scale_delta(123456789, mul, shift), 123456789);
}

Test(time, linux_reads_what_lodger_counts)
{
	struct vcpu_info *vi = xen_vcpu_info(&v);

	tsc_now += HZ / 2; /* half a second after boot */
	xen_time_publish(&v, tsc_now);
	cr_expect_eq(vi->time.version % 2, 0, "even after an update");
	cr_expect_eq(vi->time.flags, XEN_PVCLOCK_TSC_STABLE_BIT);
	cr_expect_eq(vi->time.system_time, now_ns(NULL));
	/* the guest reads its TSC later, without a new publication: the same clock */
	for (uint64_t later = 0; later < 5 * HZ; later += HZ / 7 + 12345) {
		uint64_t guest = linux_read(&vi->time, tsc_now + later);
		uint64_t lodger = xen_clock_ns(&clk, tsc_now + later);
		uint64_t err = guest > lodger ? guest - lodger : lodger - guest;

		cr_assert_leq(err, 1, "at +%llu ticks: guest %llu, lodger %llu",
			      (unsigned long long)later, (unsigned long long)guest,
			      (unsigned long long)lodger);
	}
	cr_expect_geq(linux_read(&vi->time, tsc_now + HZ) - vi->time.system_time, 999999990);
}

Test(time, version_protocol)
{
	struct vcpu_info *vi = xen_vcpu_info(&v);
	uint32_t before;

	xen_time_publish(&v, tsc_now);
	before = vi->time.version;
	xen_time_publish(&v, tsc_now + 10);
	cr_expect_eq(vi->time.version, before + 2, "one odd step, one even step");
	vi->time.version = 7; /* the guest scribbled an odd version */
	xen_time_publish(&v, tsc_now + 20);
	cr_expect_eq(vi->time.version % 2, 0);
	cr_expect_gt(vi->time.version, 7);
	d.clock = NULL;
	before = vi->time.version;
	xen_time_publish(&v, tsc_now + 30);
	cr_expect_eq(vi->time.version, before, "no clock: nothing published");
}

Test(time, wallclock)
{
	struct shared_info *s = (struct shared_info *)(mem.ram + d.shared_info_gpa);

	xen_wallclock_publish(&d);
	cr_expect_eq(s->wc_version % 2, 0);
	cr_expect_neq(s->wc_version, 0);
	cr_expect_eq(s->wc_sec, 1700000000u);
	cr_expect_eq(s->wc_nsec, 250000000u);
	cr_expect_eq(s->xen_wc_sec_hi, 0);
	clk.wall0 = (1ULL << 32) * 1000000000 + 7; /* past 2106 */
	xen_wallclock_publish(&d);
	cr_expect_eq(s->wc_sec, 0);
	cr_expect_eq(s->xen_wc_sec_hi, 1);
	cr_expect_eq(s->wc_nsec, 7);
}

static long vcpu_op(uint64_t cmd, uint64_t arg)
{
	const uint64_t a[6] = {cmd, 0, arg, 0, 0, 0};

	return xen_hypercall(&v, __HYPERVISOR_vcpu_op, a);
}

Test(time, secondary_time_area)
{
	struct vcpu_register_time_memory_area *r = (void *)(mem.ram + SCRATCH);
	struct vcpu_time_info *area = (void *)(mem.ram + SCRATCH + 0x100);

	r->addr.p = SCRATCH + 0x100;
	tsc_now += HZ;
	cr_assert_eq(vcpu_op(VCPUOP_register_vcpu_time_memory_area, SCRATCH), 0);
	cr_expect_eq(area->version % 2, 0);
	cr_expect_neq(area->version, 0, "written at once: Linux checks its flags next");
	cr_expect_eq(area->flags, XEN_PVCLOCK_TSC_STABLE_BIT);
	cr_expect_eq(area->system_time, now_ns(NULL));
	cr_expect_eq(area->tsc_to_system_mul, clk.mul);
	xen_time_publish(&v, tsc_now + 100);
	cr_expect_eq(area->tsc_timestamp, tsc_now + 100, "kept up to date");

	r->addr.p = 0x7fff00000000ULL; /* canonical, unmapped: accepted, nothing written */
	cr_expect_eq(vcpu_op(VCPUOP_register_vcpu_time_memory_area, SCRATCH), 0);
	r->addr.p = 0xffff800000000000ULL; /* in Xen's range */
	cr_expect_eq(vcpu_op(VCPUOP_register_vcpu_time_memory_area, SCRATCH), -XEN_EFAULT);
	r->addr.p = 0x8000000000000000ULL;
	cr_expect_eq(vcpu_op(VCPUOP_register_vcpu_time_memory_area, SCRATCH), -XEN_EFAULT);
	r->addr.p = ~0ULL - 4; /* wraps */
	cr_expect_eq(vcpu_op(VCPUOP_register_vcpu_time_memory_area, SCRATCH), -XEN_EFAULT);
	cr_expect_eq(vcpu_op(VCPUOP_register_vcpu_time_memory_area, 0x7fff00000000ULL), -XEN_EFAULT,
		     "the argument itself unmapped");
	r->addr.p = 0;
	cr_expect_eq(vcpu_op(VCPUOP_register_vcpu_time_memory_area, SCRATCH), 0, "unregister");
	cr_expect_eq(v.time_area_va, 0);
}

/* VIRQ_TIMER bound through the hypercall, as Linux binds it; returns its port. */
static evtchn_port_t bind_timer(void)
{
	struct evtchn_bind_virq *b = (void *)(mem.ram + SCRATCH);
	const uint64_t a[6] = {EVTCHNOP_bind_virq, SCRATCH};

	*b = (struct evtchn_bind_virq){.virq = VIRQ_TIMER, .vcpu = 0};
	long r = xen_hypercall(&v, __HYPERVISOR_event_channel_op, a);

	cr_assert_eq(r, 0, "bind_virq: %ld", r);
	return b->port;
}

static bool fired(evtchn_port_t port)
{
	struct shared_info *s = (struct shared_info *)(mem.ram + d.shared_info_gpa);
	bool pending = (s->evtchn_pending[port / 64] >> (port % 64)) & 1;

	s->evtchn_pending[port / 64] &= ~(1ULL << (port % 64));
	return pending;
}

Test(time, singleshot_timer_fires_virq_timer)
{
	evtchn_port_t port = bind_timer();
	struct vcpu_set_singleshot_timer *t = (void *)(mem.ram + SCRATCH + 0x40);
	uint64_t now;

	tsc_now += HZ; /* a second in: a past timeout is representable */
	now = now_ns(NULL);

	t->timeout_abs_ns = now + 1000000;
	t->flags = 0;
	cr_assert_eq(vcpu_op(VCPUOP_set_singleshot_timer, SCRATCH + 0x40), 0);
	cr_expect_eq(xen_timer_poll(&v, now), now + 1000000, "the core sleeps until then");
	cr_expect(!fired(port));
	cr_expect_eq(xen_timer_poll(&v, now + 1000000), 0, "nothing left");
	cr_expect(fired(port));
	cr_expect(xen_vcpu_info(&v)->evtchn_upcall_pending);
	cr_expect_eq(xen_timer_poll(&v, now + 5000000), 0);
	cr_expect(!fired(port), "a singleshot fires once");

	/* a timeout already past (Linux 6.1 sends flags 0) fires at the next poll */
	t->timeout_abs_ns = now - 1;
	cr_assert_eq(vcpu_op(VCPUOP_set_singleshot_timer, SCRATCH + 0x40), 0);
	xen_timer_poll(&v, now);
	cr_expect(fired(port));
	t->timeout_abs_ns = now + 1000;
	cr_assert_eq(vcpu_op(VCPUOP_set_singleshot_timer, SCRATCH + 0x40), 0);
	cr_assert_eq(vcpu_op(VCPUOP_stop_singleshot_timer, 0), 0);
	xen_timer_poll(&v, now + 2000);
	cr_expect(!fired(port), "stopped");
}

Test(time, set_timer_op_semantics)
{
	evtchn_port_t port = bind_timer();
	uint64_t now = now_ns(NULL);
	const uint64_t a0[6] = {0}, huge[6] = {now + (1ULL << 51)}, neg[6] = {1ULL << 63};
	const uint64_t soon[6] = {now + 500};

	cr_expect_eq(xen_hypercall(&v, __HYPERVISOR_set_timer_op, soon), 0);
	cr_expect_eq(v.timer_deadline_ns, now + 500);
	cr_expect_eq(xen_hypercall(&v, __HYPERVISOR_set_timer_op, a0), 0);
	cr_expect_eq(v.timer_deadline_ns, 0, "0 cancels");
	cr_expect_eq(xen_hypercall(&v, __HYPERVISOR_set_timer_op, huge), 0);
	cr_expect_eq(v.timer_deadline_ns, now + 100000000, "more than 2^50 ns ahead: 100 ms");
	cr_expect_eq(xen_hypercall(&v, __HYPERVISOR_set_timer_op, neg), 0);
	cr_expect_eq(v.timer_deadline_ns, now + 100000000, "negative: 100 ms");
	xen_timer_poll(&v, now + 100000000);
	cr_expect(fired(port));
}

Test(time, periodic_timer)
{
	evtchn_port_t port = bind_timer();
	struct vcpu_set_periodic_timer *t = (void *)(mem.ram + SCRATCH + 0x40);
	uint64_t now = now_ns(NULL);

	t->period_ns = 10000000;
	cr_assert_eq(vcpu_op(VCPUOP_set_periodic_timer, SCRATCH + 0x40), 0);
	cr_expect_eq(xen_timer_poll(&v, now), now + 10000000);
	cr_expect(!fired(port));
	cr_expect_eq(xen_timer_poll(&v, now + 5000000), now + 10000000);
	cr_expect(!fired(port));
	cr_expect_eq(xen_timer_poll(&v, now + 10000000), now + 20000000);
	cr_expect(fired(port));
	cr_assert_eq(vcpu_op(VCPUOP_stop_periodic_timer, 0), 0);
	cr_expect_eq(xen_timer_poll(&v, now + 30000000), 0, "Linux stops the 100 Hz tick");
	cr_expect(!fired(port));
}

Test(time, unbound_virq_timer_is_harmless)
{
	uint64_t now = now_ns(NULL);

	v.timer_deadline_ns = now;
	cr_expect_eq(xen_timer_poll(&v, now), 0);
	cr_expect_eq(v.timer_deadline_ns, 0);
}
