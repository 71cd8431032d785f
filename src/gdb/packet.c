/* packet.c - framing, escapes and hex of the GDB remote serial protocol. */
#include "gdb/packet.h"

#include <stdio.h>
#include <string.h>

void gdb_rx_init(struct gdb_rx *rx)
{
	memset(rx, 0, sizeof(*rx));
}

static void rx_put(struct gdb_rx *rx, char c)
{
	if (rx->len < GDB_PACKET_MAX)
		rx->buf[rx->len++] = c;
	else
		rx->overflow = true;
}

enum gdb_rx_event gdb_rx_feed(struct gdb_rx *rx, uint8_t c)
{
	int d;

	switch (rx->state) {
	case RX_IDLE:
		if (c == '$') {
			rx->state = RX_DATA;
			rx->len = 0;
			rx->sum = 0;
			rx->overflow = false;
			return GDB_RX_NONE;
		}
		return c == 0x03  ? GDB_RX_INTERRUPT
		       : c == '+' ? GDB_RX_ACK
		       : c == '-' ? GDB_RX_NAK
				  : GDB_RX_NONE; /* noise between packets is dropped */
	case RX_DATA:
		if (c == '#') {
			rx->state = RX_SUM1;
			return GDB_RX_NONE;
		}
		rx->sum += c;
		if (c == '}')
			rx->state = RX_ESCAPE;
		else
			rx_put(rx, (char)c);
		return GDB_RX_NONE;
	case RX_ESCAPE:
		rx->sum += c;
		rx_put(rx, (char)(c ^ 0x20));
		rx->state = RX_DATA;
		return GDB_RX_NONE;
	case RX_SUM1:
		d = gdb_hex_digit((char)c);
		rx->given = d < 0 ? 0 : (uint8_t)d;
		rx->overflow |= d < 0;
		rx->state = RX_SUM2;
		return GDB_RX_NONE;
	case RX_SUM2:
	default:
		d = gdb_hex_digit((char)c);
		rx->state = RX_IDLE;
		rx->buf[rx->len] = '\0';
		if (d < 0 || rx->overflow || (uint8_t)(rx->given << 4 | d) != rx->sum)
			return GDB_RX_BAD;
		return GDB_RX_PACKET;
	}
}

size_t gdb_frame(const char *payload, size_t len, char *out, size_t outsize)
{
	size_t n = 0;
	uint8_t sum = 0;

	if (outsize < 5)
		return 0;
	out[n++] = '$';
	for (size_t i = 0; i < len; i++) {
		char c = payload[i];
		bool esc = c == '$' || c == '#' || c == '}' || c == '*';

		if (n + (esc ? 2 : 1) + 3 > outsize)
			return 0;
		if (esc) {
			out[n++] = '}';
			sum += '}';
			c ^= 0x20;
		}
		out[n++] = c;
		sum += (uint8_t)c;
	}
	n += (size_t)snprintf(out + n, outsize - n, "#%02x", sum);
	return n;
}

int gdb_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

void gdb_hex_encode(const void *src, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	const uint8_t *s = src;

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[s[i] >> 4];
		out[2 * i + 1] = digits[s[i] & 15];
	}
	out[2 * len] = '\0';
}

bool gdb_hex_decode(const char *hex, void *dst, size_t len)
{
	uint8_t *d = dst;

	for (size_t i = 0; i < len; i++) {
		int hi = gdb_hex_digit(hex[2 * i]),
		    lo = hi < 0 ? -1 : gdb_hex_digit(hex[2 * i + 1]);

		if (lo < 0)
			return false;
		d[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

bool gdb_hex_u64(const char **p, uint64_t *v)
{
	const char *s = *p;
	uint64_t x = 0;
	int d, n = 0;

	while ((d = gdb_hex_digit(*s)) >= 0) {
		if (++n > 16)
			return false;
		x = x << 4 | (uint64_t)d;
		s++;
	}
	if (!n)
		return false;
	*p = s;
	*v = x;
	return true;
}
