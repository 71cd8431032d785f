/*
 * bootmap.h - what lodger puts in reserved guest RAM for the boot protocol.
 *
 * Reserved RAM is the last LODGER_RESERVED_SIZE bytes of RAM (include/lodger/boot.h):
 *
 *   +0x00000  PML4          identity map of [0, 4 GiB), 2 MiB pages, supervisor, RW
 *   +0x01000  PDPT
 *   +0x02000  4 PDs         one per GiB; the device window [3 GiB, 4 GiB) is uncached
 *   +0x06000  GDT           Linux x86-64 layout, plus the boot TSS descriptor
 *   +0x07000  TSS           64-bit, no stacks, no I/O bitmap
 *   +0x10000  device tree   at most LODGER_FDT_MAX_SIZE
 *
 * An initrd, when given, sits just below reserved RAM, page-aligned.
 */
#ifndef LODGER_BOOTMAP_H
#define LODGER_BOOTMAP_H

#include <stdint.h>

#include "mem.h"

#define BOOT_GDT_ENTRIES 10 /* null .. TSS (two slots at 0x40) */
#define BOOT_TSS_LIMIT 0x67

struct boot_layout {
	uint64_t reserved;     /* guest-physical base of reserved RAM */
	uint64_t pml4;
	uint64_t gdt;
	uint64_t tss;
	uint64_t fdt;
};

void boot_layout_init(struct boot_layout *layout, uint64_t ram_size);

/* Writes the identity map, GDT and TSS into guest RAM. */
void bootmap_build(struct guest_mem *mem, const struct boot_layout *layout);

/* A flat code or data descriptor for `selector`'s DPL (the layout's GDT entries). */
uint64_t gdt_code_data_desc(bool code, bool long_mode, unsigned dpl);

#endif
