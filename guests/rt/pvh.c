/*
 * pvh.c - the runtime's second way in: QEMU's PVH boot (`-kernel guest.elf`), for guests
 * that also run under QEMU to be compared with lodger (bench). pvh.S took the 32-bit
 * entry, built an identity map of [0, 4 GiB), entered long mode and came through _start
 * with RDI = the hvm_start_info and RSI = its magic. This fills rt_boot the way
 * lodger_boot() does from lodger's device tree: the selectors are the Linux layout that
 * lodger gives in direct mode, RAM is the memory map's range that holds the image, and
 * the command line is copied out of firmware memory before anything is allocated.
 */
#include "rt.h"

#include <xen/arch-x86/hvm/start_info.h>

#define PVH_CMDLINE_MAX 512
#define PIC1_DATA	0x21
#define PIC2_DATA	0xa1

extern char __image_start[];
static char cmdline[PVH_CMDLINE_MAX];

bool rt_pvh_boot(uint64_t info, uint64_t magic)
{
	const struct hvm_start_info *si = (const struct hvm_start_info *)info;
	const struct hvm_memmap_table_entry *map;
	const char *src;

	if (magic != XEN_HVM_START_MAGIC_VALUE || info == 0 || info >= LODGER_DEVICE_WINDOW ||
	    si->magic != XEN_HVM_START_MAGIC_VALUE)
		return false;
	rt_boot.pvh = true;
	rt_boot.kernel_cs = LODGER_SEL_KERNEL_CS;
	rt_boot.kernel_ds = LODGER_SEL_KERNEL_DS;
	rt_boot.user_cs = LODGER_SEL_USER_CS;
	rt_boot.user_ds = LODGER_SEL_USER_DS;
	rt_boot.user32_cs = LODGER_SEL_USER32_CS;

	src = si->cmdline_paddr && si->cmdline_paddr < LODGER_DEVICE_WINDOW
		      ? (const char *)si->cmdline_paddr
		      : "";
	for (size_t i = 0; i + 1 < sizeof(cmdline) && src[i]; i++)
		cmdline[i] = src[i];
	rt_boot.cmdline = cmdline;

	/* Version 0 has no memory map; QEMU's option ROM gives version 1. */
	if (si->version < 1 || !si->memmap_paddr || si->memmap_paddr >= LODGER_DEVICE_WINDOW)
		rt_fail("PVH start info (version %u) has no memory map", si->version);
	map = (const struct hvm_memmap_table_entry *)si->memmap_paddr;
	for (uint32_t i = 0; i < si->memmap_entries && i < 128; i++)
		if (map[i].type == XEN_HVM_MEMMAP_TYPE_RAM &&
		    map[i].addr <= (uint64_t)__image_start &&
		    map[i].addr + map[i].size > (uint64_t)__image_start)
			rt_boot.ram_size = map[i].addr + map[i].size;
	if (!rt_boot.ram_size)
		rt_fail("PVH memory map has no RAM range holding the image");

	/* The firmware left the 8259s live, with the PIT's IRQ 0 on vector 8 (#DF): mask them,
	 * as lodger's guests find them (they use the local APIC when they want interrupts). */
	outb(PIC1_DATA, 0xff);
	outb(PIC2_DATA, 0xff);
	return true;
}
