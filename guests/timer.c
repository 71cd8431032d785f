/*
 * timer - the local APIC timer of lodger's in-kernel irqchip (docs/guest-contract.md)
 * interrupts the guest: in periodic mode it delivers its vector through the guest's IDT
 * (acknowledged with an EOI), waking `sti; hlt`; with RFLAGS.IF clear nothing is
 * delivered (the request waits in the IRR) and `sti` delivers it.
 *
 * Must behave identically in direct mode and in shadow mode (there the guest's IF is
 * virtual and the monitor must hold the interrupt back in the same way). Nothing about
 * timing is printed: only counts the architecture fixes.
 */
#include "rt.h"

GUEST("timer");

#define TIMER_VECTOR	 0x30
#define SPURIOUS_VECTOR	 0xff
#define APIC_SVR_ENABLE	 (1u << 8)
#define APIC_BASE_ENABLE (1ULL << 11)
#define LVT_MASKED	 (1u << 16)
#define LVT_PERIODIC	 (1u << 17)
#define PIC1_DATA	 0x21
#define PIC2_DATA	 0xa1
#define DIVIDE_BY_16	 0x3
/* KVM's APIC timer counts at 1 GHz: / 16 and 62500 counts is about 1 ms. Each interrupt
 * costs on the order of 100 guest instructions, interpreted on kvm_pvm at ~1 us each. */
#define PERIOD_COUNT 62500
#define TICKS_WANTED 100

static volatile unsigned ticks;
static volatile uint64_t bad_rip;
extern char after_hlt[];

static bool vector_bit(uint32_t base, unsigned vector)
{
	return lapic_read(base + 0x10 * (vector / 32)) & (1u << (vector % 32));
}

/*
 * Not checked here, though the architecture says so: that the vector is in service (ISR)
 * from delivery to the EOI. kvm_pvm's in-kernel APIC shows ISR and PPR clear inside the
 * handler, and delivers the next period even without an EOI.
 */
static void timer_interrupt(struct rt_frame *f)
{
	if (f->rip != (uint64_t)after_hlt && !bad_rip)
		bad_rip = f->rip;
	ticks++;
	lapic_write(LAPIC_EOI, 0);
}

/* GCC may also clone a function; clang has no such pass, nor the attribute. */
#if defined(__has_attribute) && __has_attribute(noclone)
#define NOCLONE noclone
#else
#define NOCLONE noinline
#endif

/* Enables interrupts for one `hlt` and returns once one has been taken. Not inlined:
 * the asm defines a global label, which must exist once. */
__attribute__((noinline, NOCLONE)) static void wait_for_interrupt(void)
{
	__asm__ volatile("sti\n\t"
			 "hlt\n"
			 ".globl after_hlt\n"
			 "after_hlt:\n\t"
			 "cli"
			 :
			 :
			 : "memory");
}

/*
 * Busy-waits (IF=0) until the timer has reloaded at least `periods` times and its
 * interrupt is requested (IRR); false if that does not happen within a bounded time.
 */
static bool spin_until_requested(unsigned periods)
{
	uint32_t last = lapic_read(LAPIC_TIMER_CUR);

	for (unsigned i = 0; i < 1000000; i++) {
		uint32_t now = lapic_read(LAPIC_TIMER_CUR);
		if (now > last && periods) /* reloaded from the initial count */
			periods--;
		last = now;
		if (!periods && vector_bit(LAPIC_IRR, TIMER_VECTOR))
			return true;
	}
	return false;
}

void guest_main(void)
{
	unsigned wakes = 0, before;
	uint32_t a, b;

	rt_set_handler(TIMER_VECTOR, timer_interrupt);

	STEP("the local APIC is there, enabled, at its default base");
	CHECK_EQ(rdmsr(MSR_APIC_BASE) & ~0xfffULL, LODGER_LAPIC_BASE);
	CHECK(rdmsr(MSR_APIC_BASE) & APIC_BASE_ENABLE);
	CHECK(lapic_read(LAPIC_VER) != 0xffffffff);
	CHECK_EQ(lapic_read(LAPIC_VER) & 0xf0, 0x10); /* an integrated xAPIC: 0x1X */

	STEP("only the local APIC timer may interrupt: mask the 8259 PICs and LINT0");
	outb(PIC1_DATA, 0xff);
	outb(PIC2_DATA, 0xff);
	lapic_write(LAPIC_LVT_LINT0, LVT_MASKED);

	STEP("software-enable it and start the timer: periodic, vector 0x30, ~1 ms");
	lapic_write(LAPIC_TPR, 0);
	lapic_write(LAPIC_SVR, APIC_SVR_ENABLE | SPURIOUS_VECTOR);
	lapic_write(LAPIC_TIMER_DIV, DIVIDE_BY_16);
	lapic_write(LAPIC_LVT_TIMER, LVT_PERIODIC | TIMER_VECTOR);
	lapic_write(LAPIC_TIMER_INIT, PERIOD_COUNT);
	a = lapic_read(LAPIC_TIMER_CUR);
	b = lapic_read(LAPIC_TIMER_CUR);
	CHECK(a <= PERIOD_COUNT && b <= PERIOD_COUNT);
	CHECK(a != b); /* it counts */

	STEP("take 100 interrupts with sti; hlt, each acknowledged with an EOI");
	while (ticks < TICKS_WANTED && wakes < 10 * TICKS_WANTED) {
		wait_for_interrupt();
		wakes++;
	}
	CHECK(ticks >= TICKS_WANTED);
	/* Only the timer interrupts here, and only ever at the hlt. */
	CHECK_EQ(bad_rip, 0);
	CHECK(ticks >= wakes);
	CHECK(!vector_bit(LAPIC_ISR, TIMER_VECTOR));

	STEP("with IF=0 the timer fires but nothing is delivered");
	cli();
	before = ticks;
	CHECK(spin_until_requested(3)); /* requested, and waiting */
	CHECK_EQ(ticks, before);

	STEP("sti delivers it again");
	wait_for_interrupt();
	CHECK(ticks > before);
	CHECK_EQ(bad_rip, 0);

	STEP("stop the timer");
	lapic_write(LAPIC_LVT_TIMER, LVT_MASKED | LVT_PERIODIC | TIMER_VECTOR);
	lapic_write(LAPIC_TIMER_INIT, 0);
	CHECK_EQ(lapic_read(LAPIC_TIMER_CUR), 0);

	DONE();
}
