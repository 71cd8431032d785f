/*
 * loader.h - kernel and initrd files, and the ELF64 loader of the boot protocol.
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

/*
 * Reads a whole regular file of at most `max` bytes into a malloc'd buffer; on failure
 * fills err and returns -1. A FIFO, device or other non-regular file is refused without
 * waiting on it, and a file larger than max by its size, before a byte is read.
 */
int load_file_max(const char *path, uint64_t max, uint8_t **buf, size_t *len, char *err,
		  size_t errlen);

/* load_file_max with the largest guest RAM lodger offers as the bound. */
int load_file(const char *path, uint8_t **buf, size_t *len, char *err, size_t errlen);

/*
 * Checks and loads an ELF64 x86-64 executable. Segments must lie inside RAM and outside
 * each of `reserved`. On failure fills err with the reason (without the file name) and
 * returns -1; every check precedes the first copy, so guest RAM is then untouched.
 */
int elf_load(const uint8_t *buf, size_t len, struct guest_mem *mem,
	     const struct mem_range *reserved, unsigned nreserved, struct boot_image *out,
	     char *err, size_t errlen);

/*
 * The ELF inside a kernel file's bytes: buf itself, or a bzImage's payload decompressed
 * (bounded by limit) into *owned, which the caller frees. Anything else is refused in err
 * with one line naming it. Returns 0 or -1.
 */
int kernel_elf_bytes(const uint8_t *buf, size_t len, uint64_t limit, uint8_t **owned,
		     const uint8_t **elf, size_t *elf_len, char *err, size_t errlen);

/*
 * Boots what it can of a kernel file's bytes (docs/linux.md): a Linux bzImage is
 * decompressed (bounded by guest RAM) to its vmlinux first; an ELF64 without Linux or Xen
 * notes goes to elf_load. A Linux kernel without Xen PV notes, a Xen PV kernel (until the
 * Xen PV personality takes that branch) and every other format are refused with one line
 * in err that names what the file is. Returns 0 or -1 like elf_load.
 */
int kernel_load(const uint8_t *buf, size_t len, struct guest_mem *mem,
		const struct mem_range *reserved, unsigned nreserved, struct boot_image *out,
		char *err, size_t errlen);

#endif
