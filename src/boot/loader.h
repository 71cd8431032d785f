/*
 * loader.h - the ELF64 loader of the boot protocol (docs/guest-contract.md).
 *
 * PT_LOAD segments go to p_paddr in guest RAM (p_vaddr may differ); e_entry is a
 * physical address inside a loaded segment. Everything in the file is untrusted: every
 * offset and size is checked against the file and against RAM before a byte is copied.
 */
#ifndef LODGER_LOADER_H
#define LODGER_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "kvm/mem.h"

struct boot_image {
	uint64_t entry; /* guest-physical entry point */
	uint64_t low;	/* lowest loaded guest-physical address */
	uint64_t high;	/* one past the highest */
};

/* Reads a whole file into a malloc'd buffer; on failure fills err and returns -1. */
int load_file(const char *path, uint8_t **buf, size_t *len, char *err, size_t errlen);

/*
 * Checks and loads an ELF64 x86-64 executable. Segments must lie inside RAM and outside
 * each of `reserved`. On failure fills err with the reason (without the file name) and
 * returns -1; every check precedes the first copy, so guest RAM is then untouched.
 */
int elf_load(const uint8_t *buf, size_t len, struct guest_mem *mem,
	     const struct mem_range *reserved, unsigned nreserved, struct boot_image *out,
	     char *err, size_t errlen);

#endif
