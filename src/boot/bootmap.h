/*
 * bootmap.h - what lodger puts in reserved guest RAM for the boot protocol.
 *
 * Reserved RAM is the last LODGER_RESERVED_SIZE bytes of RAM (include/lodger/boot.h):
 *
 *   +0x00000  PML4          identity map of [0, 4 GiB), 2 MiB pages, supervisor, RW
 *   +0x01000  PDPT
 *   +0x02000  4 PDs         one per GiB; the device window [3 GiB, 4 GiB) is uncached
 *   +0x06000  GDT           the mode's selectors (direct: Linux's), and the boot TSS
 *   +0x07000  TSS           64-bit, no stacks, no I/O bitmap
 *   +0x10000  device tree   at most LODGER_FDT_MAX_SIZE
 *
 * An initrd, when given, sits just below reserved RAM, page-aligned.
 */
#ifndef LODGER_BOOTMAP_H
#define LODGER_BOOTMAP_H

#include <stdbool.h>
#include <stdint.h>

#include "kvm/mem.h"

#define BOOT_GDT_ENTRIES 21 /* null .. the highest selector of either mode */
#define BOOT_TSS_LIMIT	 0x67

/* The segment selectors a guest is given (the /lodger node), per mode. */
struct selectors {
	uint16_t kernel_cs, kernel_ds, user32_cs, user_ds, user_cs;
	uint16_t boot_tss; /* TR at entry, in the boot GDT */
};
extern const struct selectors direct_selectors; /* Linux layout, CPL0 kernel */
extern const struct selectors shadow_selectors; /* the stub's GDT, CPL3 kernel */

struct boot_layout {
	uint64_t reserved; /* guest-physical base of reserved RAM */
	uint64_t pml4;
	uint64_t gdt;
	uint64_t tss;
	uint64_t fdt;
};

void boot_layout_init(struct boot_layout *layout, uint64_t ram_size);

/* Writes the identity map, GDT (descriptors at `sel`) and TSS into guest RAM. */
void bootmap_build(struct guest_mem *mem, const struct boot_layout *layout,
		   const struct selectors *sel);

#endif
