/*
 * gmem.h - reading and writing guest memory at linear addresses, as the guest would.
 *
 * Used where lodger acts for a shadow-mode guest: fetching the instruction it trapped on,
 * pushing an exception frame on its stack, popping an iretq frame, reading a lidt operand.
 * Each access walks the guest's own tables with the guest's permissions (user or
 * supervisor, CR0.WP, NX), sets Accessed/Dirty as the CPU would, and on failure reports
 * the #PF (or #GP for a non-canonical address) the guest must see.
 */
#ifndef LODGER_GMEM_H
#define LODGER_GMEM_H

#include <stdbool.h>
#include <stdint.h>

#include "kvm/mem.h"

struct gview {
	struct guest_mem *mem;
	uint64_t cr3;			 /* the guest's CR3 */
	bool user;			 /* a CPL3 access (guest user mode) */
	bool wp;			 /* guest CR0.WP */
	bool nxe;			 /* guest EFER.NXE */
	uint64_t monitor_lo, monitor_hi; /* never touched: reads there give all ones */
	/* Told of every guest-physical range written (the shadow drops what it derived from
	 * a guest page table written there); NULL: nobody is. */
	void (*written)(void *ctx, uint64_t gpa, uint64_t len);
	void *written_ctx;
};

struct gfault {
	unsigned vector; /* 14 (#PF) or 13 (#GP) */
	uint32_t error;
	uint64_t cr2; /* for #PF */
};

/* `fetch` reads as an instruction fetch. False with *f filled when the guest would fault.
 * len is at most 8 KiB (more is a lodger bug, and aborts). */
bool gmem_read(const struct gview *v, uint64_t la, void *dst, unsigned len, bool fetch,
	       struct gfault *f);
bool gmem_write(const struct gview *v, uint64_t la, const void *src, unsigned len,
		struct gfault *f);

#endif
