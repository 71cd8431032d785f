/*
 * packet.h - the GDB remote serial protocol's framing: $payload#checksum, acks, the
 * interrupt byte, escapes, and hex.
 *
 * Pure functions on buffers, no I/O: the server (server.c) feeds received bytes in and
 * writes framed packets out; the unit tests drive them directly.
 */
#ifndef LODGER_GDB_PACKET_H
#define LODGER_GDB_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest payload either side sends (qSupported's PacketSize). */
#define GDB_PACKET_MAX 4096

enum gdb_rx_event {
	GDB_RX_NONE,	  /* more bytes needed */
	GDB_RX_PACKET,	  /* a packet with a good checksum: rx->buf, rx->len (unescaped) */
	GDB_RX_BAD,	  /* a packet with a bad checksum or too long: answer '-' */
	GDB_RX_INTERRUPT, /* 0x03 outside a packet: Ctrl-C */
	GDB_RX_ACK,	  /* '+' */
	GDB_RX_NAK,	  /* '-': send the last packet again */
};

struct gdb_rx {
	enum { RX_IDLE, RX_DATA, RX_ESCAPE, RX_SUM1, RX_SUM2 } state;
	char buf[GDB_PACKET_MAX + 1]; /* NUL-terminated after GDB_RX_PACKET */
	size_t len;
	uint8_t sum;   /* of the bytes as sent, escapes included */
	uint8_t given; /* the checksum's first hex digit */
	bool overflow; /* more than GDB_PACKET_MAX bytes: the packet is bad */
};

void gdb_rx_init(struct gdb_rx *rx);
/* Feeds one received byte. */
enum gdb_rx_event gdb_rx_feed(struct gdb_rx *rx, uint8_t c);

/* Frames payload as "$escaped#xx" into out (outsize bytes). Returns the framed length,
 * or 0 when it does not fit. '$', '#', '}' and '*' are escaped. */
size_t gdb_frame(const char *payload, size_t len, char *out, size_t outsize);

/* Hex digit value, or -1. */
int gdb_hex_digit(char c);
/* Writes 2*len hex digits (and a NUL) for len bytes; out needs 2*len+1 bytes. */
void gdb_hex_encode(const void *src, size_t len, char *out);
/* Decodes exactly 2*len hex digits into dst. False on a non-hex digit. */
bool gdb_hex_decode(const char *hex, void *dst, size_t len);
/* Parses a hex number of at most 16 digits at *p, advancing *p. False if there is none. */
bool gdb_hex_u64(const char **p, uint64_t *v);

#endif
