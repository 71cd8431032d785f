/*
 * monitor.h - monitor memory: where it sits in guest-physical space and what it holds.
 *
 * Monitor memory is lodger's own memory inside the VM (shadow mode only): a second KVM
 * memslot above every guest-visible range, never described to the guest. It holds, from
 * offset 0: the stub's pages (include/lodger/stub_abi.h), the stub's own page table, and
 * the pool of shadow page tables (shadow.h). Guest frames that fall in it are shadowed to
 * the open-bus window instead, where KVM sees no memslot at all.
 */
#ifndef LODGER_MONITOR_H
#define LODGER_MONITOR_H

#include "lodger/boot.h"
#include "lodger/stub_abi.h"

#define MONITOR_GPA  (4ULL << 30) /* just above the device window */
#define MONITOR_SIZE (16ULL << 20)

/* Offsets in monitor memory. */
#define MON_STUB    0ULL			   /* the stub's pages, STUB_MONITOR_SIZE bytes */
#define MON_STUB_PT (MON_STUB + STUB_MONITOR_SIZE) /* the page table mapping them */
#define MON_POOL    (MON_STUB_PT + 0x1000)	   /* shadow page tables, to the end */

/* Guest frames in monitor memory are shadowed here instead: no memslot, so KVM makes MMIO
 * of every access and lodger's bus answers as for any address without memory. It must lie
 * within the CPU's physical address width, or a shadow entry naming it has reserved bits
 * set (a #PF with RSVD, seen on a 40-bit nested kvm_amd): 1 TiB, or half the physical
 * address space where that is less. */
#define OPEN_BUS_WINDOW (1ULL << 40)

static inline uint64_t open_bus_window(unsigned phys_bits)
{
	if (!phys_bits || phys_bits > 41) /* unknown, or wide enough */
		return OPEN_BUS_WINDOW;
	return 1ULL << ((phys_bits < 36 ? 36 : phys_bits) - 1); /* 36: x86-64's least */
}

/* The stub linear base lodger starts with: high in the canonical upper half, where the
 * test guests map nothing; relocation moves it when a guest wants the region. */
#define DEFAULT_STUB_BASE 0xfffffe0000000000ULL

_Static_assert(MONITOR_GPA >= LODGER_IDENTITY_MAP_END && MONITOR_GPA >= LODGER_RAM_MAX,
	       "monitor memory overlaps what the guest is told about");
_Static_assert(MONITOR_GPA % 0x200000 == 0 && MONITOR_SIZE % 0x1000 == 0,
	       "monitor memory must be page-aligned");
_Static_assert(MON_STUB % 0x1000 == 0 && MON_STUB_PT % 0x1000 == 0 && MON_POOL % 0x1000 == 0,
	       "monitor memory regions must be page-aligned");
_Static_assert(MON_POOL + 16 * 0x1000 <= MONITOR_SIZE, "no room for the shadow pool");
_Static_assert(MONITOR_GPA + MONITOR_SIZE <= (1ULL << 35),
	       "the open-bus window overlaps monitor memory");
_Static_assert(DEFAULT_STUB_BASE % STUB_REGION_SIZE == 0, "the stub base must be 2 MiB-aligned");

#endif
