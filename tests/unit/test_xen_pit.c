/* The PIT channel 2 of a Xen PV guest (src/xen/pit.c), driven as Linux's TSC calibration
 * drives it, and as a hostile guest might. */
#include <criterion/criterion.h>
#include <string.h>

#include "xen/pit.h"

#define NS_PER_TICK(n) ((uint64_t)(n)*1000000000ULL / PIT_HZ + 1)

static struct xen_pit pit;

static void setup(void)
{
	memset(&pit, 0, sizeof(pit));
}

TestSuite(xen_pit, .init = setup);

/* Reads the counter as Linux's pit_verify_msb does: LSB, then MSB. */
static uint16_t read16(uint64_t now)
{
	uint8_t lo = xen_pit_read(&pit, 0x42, now);

	return (uint16_t)(lo | xen_pit_read(&pit, 0x42, now) << 8);
}

Test(xen_pit, quick_pit_calibrate_sees_the_msb_count_down_with_time)
{
	uint64_t t0 = 5000000;

	/* gate high, speaker off; channel 2, LSB then MSB, mode 0; count 0xffff */
	xen_pit_write(&pit, 0x61, (uint8_t)((xen_pit_read(&pit, 0x61, t0) & ~2) | 1), t0);
	xen_pit_write(&pit, 0x43, 0xb0, t0);
	xen_pit_write(&pit, 0x42, 0xff, t0);
	xen_pit_write(&pit, 0x42, 0xff, t0);
	cr_assert_eq(read16(t0), 0xffff);
	cr_assert_eq(read16(t0 + NS_PER_TICK(1)), 0xfffe);
	cr_assert_eq(read16(t0 + NS_PER_TICK(256)) >> 8, 0xfe, "one MSB step per 256 ticks");
	cr_assert_eq(read16(t0 + NS_PER_TICK(0x1000)), 0xffff - 0x1000);
	/* mode 0 wraps through 0xffff and goes on counting */
	cr_assert_eq(read16(t0 + NS_PER_TICK(0x10000 + 5)), 0xffff - 5);
}

Test(xen_pit, mode_0_raises_out2_once_the_count_passes_zero)
{
	uint64_t t0 = 1000, latch = PIT_HZ / 100; /* pit_calibrate_tsc: 10 ms */

	xen_pit_write(&pit, 0x61, 1, t0);
	xen_pit_write(&pit, 0x43, 0xb0, t0);
	cr_assert_eq(xen_pit_read(&pit, 0x61, t0) & 0x20, 0, "OUT2 low from the control word");
	xen_pit_write(&pit, 0x42, (uint8_t)latch, t0);
	cr_assert_eq(xen_pit_read(&pit, 0x61, t0 + 20000000) & 0x20, 0,
		     "expected the count stopped until its MSB");
	xen_pit_write(&pit, 0x42, (uint8_t)(latch >> 8), t0);
	cr_assert_eq(xen_pit_read(&pit, 0x61, t0 + 9900000) & 0x20, 0, "OUT2 low before 10 ms");
	cr_assert_eq(xen_pit_read(&pit, 0x61, t0 + 10000000) & 0x21, 0x21,
		     "OUT2 high at 10 ms, the gate still reads back");
}

Test(xen_pit, a_latched_count_holds_until_read)
{
	xen_pit_write(&pit, 0x61, 1, 0);
	xen_pit_write(&pit, 0x43, 0xb0, 0);
	xen_pit_write(&pit, 0x42, 0x00, 0);
	xen_pit_write(&pit, 0x42, 0x80, 0);		     /* 0x8000 */
	xen_pit_write(&pit, 0x43, 0x80, NS_PER_TICK(0x100)); /* latch channel 2 */
	cr_assert_eq(read16(NS_PER_TICK(0x700)), 0x7f00, "expected the latched value");
	cr_assert_eq(read16(NS_PER_TICK(0x700)), 0x7900, "expected the live count again");
	/* read-back command, count of channel 2 */
	xen_pit_write(&pit, 0x43, 0xd8, NS_PER_TICK(0x800));
	cr_assert_eq(read16(NS_PER_TICK(0x900)), 0x7800);
}

Test(xen_pit, the_gate_pauses_the_count)
{
	xen_pit_write(&pit, 0x61, 1, 0);
	xen_pit_write(&pit, 0x43, 0xb0, 0);
	xen_pit_write(&pit, 0x42, 0x00, 0);
	xen_pit_write(&pit, 0x42, 0x10, 0); /* 0x1000 */
	xen_pit_write(&pit, 0x61, 0, NS_PER_TICK(0x100));
	cr_assert_eq(read16(NS_PER_TICK(0x800)), 0x0f00, "expected no counting, gate low");
	xen_pit_write(&pit, 0x61, 1, NS_PER_TICK(0x800));
	cr_assert_eq(read16(NS_PER_TICK(0x900)), 0x0e00);
}

Test(xen_pit, single_byte_access_modes_and_no_control_word)
{
	xen_pit_write(&pit, 0x42, 0x12, 0); /* before any control word: ignored */
	cr_assert_eq(xen_pit_read(&pit, 0x42, 0), 0, "expected nothing counting");
	xen_pit_write(&pit, 0x61, 1, 0);
	xen_pit_write(&pit, 0x43, 0xa0, 0); /* MSB only, mode 0 */
	xen_pit_write(&pit, 0x42, 0x20, 0); /* 0x2000 */
	cr_assert_eq(xen_pit_read(&pit, 0x42, NS_PER_TICK(0x100)), 0x1f);
	cr_assert_eq(xen_pit_read(&pit, 0x42, NS_PER_TICK(0x100)), 0x1f, "MSB every time");
	xen_pit_write(&pit, 0x43, 0x90, 0); /* LSB only */
	xen_pit_write(&pit, 0x42, 0x00, 0); /* 0: 256 in LSB mode? the 8254's 0 is 65536 */
	cr_assert_eq(xen_pit_read(&pit, 0x42, NS_PER_TICK(1)), 0xff);
}

Test(xen_pit, hostile_commands_change_nothing_outside_channel_2)
{
	uint8_t before[sizeof(pit)];

	xen_pit_write(&pit, 0x61, 1, 0);
	xen_pit_write(&pit, 0x43, 0xb0, 0);
	xen_pit_write(&pit, 0x42, 0xff, 0);
	xen_pit_write(&pit, 0x42, 0xff, 0);
	memcpy(before, &pit, sizeof(pit));
	for (unsigned v = 0; v < 0x80; v++) /* channels 0 and 1 */
		xen_pit_write(&pit, 0x43, (uint8_t)v, 7);
	cr_assert_eq(memcmp(before, &pit, sizeof(pit)), 0);
	/* modes 6 and 7 are 2 and 3; every control word leaves a valid mode */
	for (unsigned v = 0x80; v < 0xc0; v++) {
		xen_pit_write(&pit, 0x43, (uint8_t)v, 7);
		cr_assert_leq(pit.mode, 5);
		xen_pit_write(&pit, 0x42, 0, 7);
		xen_pit_write(&pit, 0x42, 0, 7);
		(void)xen_pit_read(&pit, 0x61, UINT64_MAX);
		(void)xen_pit_read(&pit, 0x42, UINT64_MAX);
	}
	cr_assert_eq(xen_pit_read(&pit, 0x43, 0), 0xff, "the control word reads all ones");
	cr_assert(xen_pit_port(0x42) && xen_pit_port(0x43) && xen_pit_port(0x61));
	cr_assert(!xen_pit_port(0x40) && !xen_pit_port(0x80));
}
