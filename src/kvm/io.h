/*
 * io.h - the port-I/O and MMIO buses: which device owns which range.
 *
 * A device registers [base, base + len) with a callback that receives the offset from
 * its base (Firecracker's bus), so device models never see absolute addresses or
 * kvm_run. An access nobody claims is logged under -d io and reads as open bus (all
 * ones), as on a PC: a guest probing for hardware must never stop lodger.
 */
#ifndef LODGER_IO_H
#define LODGER_IO_H

#include <stdbool.h>
#include <stdint.h>

typedef void (*io_handler_fn)(void *opaque, uint64_t offset, uint8_t *data, unsigned len,
			      bool is_write);

struct io_range {
	uint64_t base;
	uint64_t len;
	io_handler_fn handler;
	void *opaque;
	const char *name;
};

#define IO_BUS_MAX_RANGES 32

struct io_bus {
	const char *name; /* "port" or "mmio", for messages */
	struct io_range ranges[IO_BUS_MAX_RANGES];
	unsigned count;
};

/* Refuses (-EINVAL) empty or wrapping ranges and overlaps, (-ENOSPC) a full bus. */
int io_register(struct io_bus *bus, uint64_t base, uint64_t len, io_handler_fn handler,
		void *opaque, const char *name);

/* True when a device owns all of [addr, addr + len). */
bool io_claimed(const struct io_bus *bus, uint64_t addr, unsigned len);

/*
 * Routes one access of `len` bytes at `addr`; returns true when a device claimed it.
 * An access only part of which lies in a range is not claimed.
 */
bool io_dispatch(struct io_bus *bus, uint64_t addr, uint8_t *data, unsigned len, bool is_write);

#endif
