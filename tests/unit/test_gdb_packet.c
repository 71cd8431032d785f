/* test_gdb_packet.c - the GDB remote protocol's framing and hex (src/gdb/packet.c). */
#include <criterion/criterion.h>
#include <string.h>

#include "gdb/packet.h"

static struct gdb_rx rx;

static enum gdb_rx_event feed(const char *s)
{
	enum gdb_rx_event e = GDB_RX_NONE;

	for (; *s; s++) {
		e = gdb_rx_feed(&rx, (uint8_t)*s);
		if (e != GDB_RX_NONE && s[1])
			cr_assert_fail("event %d before the end of \"%s\"", e, s);
	}
	return e;
}

static void setup(void)
{
	gdb_rx_init(&rx);
}

TestSuite(gdb_packet, .init = setup);

Test(gdb_packet, a_packet_with_its_checksum_is_received)
{
	cr_assert_eq(feed("$g#67"), GDB_RX_PACKET);
	cr_assert_str_eq(rx.buf, "g");
	cr_assert_eq(rx.len, 1);
}

Test(gdb_packet, a_wrong_checksum_is_bad)
{
	cr_assert_eq(feed("$g#68"), GDB_RX_BAD);
}

Test(gdb_packet, escapes_are_undone_and_counted_in_the_checksum)
{
	char framed[32];
	size_t n = gdb_frame("a#b}", 4, framed, sizeof(framed));

	cr_assert_gt(n, 0);
	cr_assert_eq(strncmp(framed,
			     "$a}\x03"
			     "b}]#",
			     8),
		     0, "got %s", framed);
	cr_assert_eq(feed(framed), GDB_RX_PACKET);
	cr_assert_str_eq(rx.buf, "a#b}");
}

Test(gdb_packet, ctrl_c_acks_and_naks_between_packets)
{
	cr_assert_eq(gdb_rx_feed(&rx, 0x03), GDB_RX_INTERRUPT);
	cr_assert_eq(gdb_rx_feed(&rx, '+'), GDB_RX_ACK);
	cr_assert_eq(gdb_rx_feed(&rx, '-'), GDB_RX_NAK);
}

Test(gdb_packet, an_overlong_packet_is_bad_not_an_overflow)
{
	static char big[GDB_PACKET_MAX + 64];

	memset(big, 'm', sizeof(big) - 1);
	gdb_rx_feed(&rx, '$');
	for (size_t i = 0; i < sizeof(big) - 1; i++)
		cr_assert_eq(gdb_rx_feed(&rx, (uint8_t)big[i]), GDB_RX_NONE);
	cr_assert_eq(feed("#00"), GDB_RX_BAD);
	cr_assert_leq(rx.len, GDB_PACKET_MAX);
}

Test(gdb_packet, frame_refuses_a_buffer_too_small)
{
	char out[6];

	cr_assert_eq(gdb_frame("abcdef", 6, out, sizeof(out)), 0);
}

Test(gdb_packet, hex_round_trips_and_rejects_non_hex)
{
	const uint8_t in[3] = {0x00, 0xab, 0xff};
	uint8_t back[3];
	char hex[7];
	const char *p = "1f2G";
	uint64_t v;

	gdb_hex_encode(in, 3, hex);
	cr_assert_str_eq(hex, "00abff");
	cr_assert(gdb_hex_decode(hex, back, 3));
	cr_assert_eq(memcmp(in, back, 3), 0);
	cr_assert_not(gdb_hex_decode("0g", back, 1));
	cr_assert(gdb_hex_u64(&p, &v));
	cr_assert_eq(v, 0x1f2);
	cr_assert_str_eq(p, "G");
	p = "12345678901234567";
	cr_assert_not(gdb_hex_u64(&p, &v), "17 digits overflow 64 bits");
}
