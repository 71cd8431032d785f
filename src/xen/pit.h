/*
 * pit.h - the PIT channel 2 and port 0x61 that Xen emulates for PV guests (its
 * pv_pit_handler, with libxl's XEN_X86_EMU_PIT): Linux's TSC calibration programs channel
 * 2 in mode 0 and reads it back. Without a counting PIT every read returns all ones, and
 * Linux's quick_pit_calibrate then spins 50,000 times (100,000 port reads, each a trap
 * here) before it gives up; with one, it gives up, or succeeds, within a few reads.
 *
 * Ports: 0x42 (channel 2's counter), 0x43 (the control word; channels 0 and 1 are not
 * there and their commands are ignored), 0x61 (bit 0: gate 2, bit 1: speaker data,
 * bit 5: OUT2 on reads). Byte accesses only; time in ns from the caller's clock.
 */
#ifndef LODGER_XEN_PIT_H
#define LODGER_XEN_PIT_H

#include <stdbool.h>
#include <stdint.h>

#define PIT_HZ 1193182ULL

struct xen_pit {
	uint32_t reload;     /* the count written, 1..65536 (0 written means 65536) */
	uint64_t start_ns;   /* when counting started (the reload's last byte) */
	uint64_t frozen;     /* ticks counted before the gate went low */
	bool counting;	     /* a reload was written in full */
	bool gate, speaker;  /* port 0x61 bits 0 and 1 */
	uint8_t mode;	     /* 0..5 (mode 0: OUT high once the count passes 0) */
	uint8_t access;	     /* 1: LSB, 2: MSB, 3: LSB then MSB */
	bool write_msb_next; /* access 3: the next byte written is the MSB */
	bool read_msb_next;  /* access 3: the next byte read is the MSB */
	bool latched;	     /* a latch command froze this count for reading */
	uint16_t latch;
	bool latch_msb_next;
	uint8_t write_lsb;
};

/* Whether port is one of the PIT's (0x42, 0x43, 0x61). */
bool xen_pit_port(uint16_t port);

/* A byte read from port at time now_ns. */
uint8_t xen_pit_read(struct xen_pit *pit, uint16_t port, uint64_t now_ns);

/* A byte written to port at time now_ns. */
void xen_pit_write(struct xen_pit *pit, uint16_t port, uint8_t value, uint64_t now_ns);

#endif
