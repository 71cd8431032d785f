/*
 * boot.h - lodger's boot contract, shared by the VMM (src/) and the guests (guests/).
 *
 * Freestanding: only plain #defines, so guests, the stub and assembly can include it.
 * docs/guest-contract.md is the reference.
 */
#ifndef LODGER_BOOT_H
#define LODGER_BOOT_H

/* RSI at entry; RDI holds the guest-physical address of the device tree. */
#define LODGER_BOOT_MAGIC 0x4c4f4447 /* "LODG" */

/* Guest-physical map. RAM is one range at 0; devices live in the window below 4 GiB. */
#define LODGER_RAM_BASE		0x0ULL
#define LODGER_RAM_MIN		(4ULL << 20)  /* 4 MiB */
#define LODGER_RAM_MAX		(3ULL << 30)  /* 3 GiB: the rest of 4 GiB is the device window */
#define LODGER_RAM_ALIGN	(1ULL << 20)  /* -m is rounded to whole MiB */
#define LODGER_DEVICE_WINDOW	0xc0000000ULL /* [3 GiB, 4 GiB): MMIO, never RAM */
#define LODGER_IOAPIC_BASE	0xfec00000ULL /* KVM in-kernel IOAPIC */
#define LODGER_LAPIC_BASE	0xfee00000ULL /* KVM in-kernel local APIC (xAPIC mode) */
#define LODGER_IDENTITY_MAP_END (4ULL << 30)  /* boot identity map covers [0, 4 GiB) */

/*
 * Reserved RAM: the last LODGER_RESERVED_SIZE bytes of RAM hold the boot page tables,
 * the boot GDT and TSS, and the device tree. They are listed in the device tree's
 * memory reservation block; a guest may reclaim them once it no longer needs them.
 */
#define LODGER_RESERVED_SIZE (256ULL << 10)
#define LODGER_FDT_MAX_SIZE  (64ULL << 10)

/*
 * virtio-mmio devices (virtio 1.x, version 2 registers): slot N at BASE + N * STRIDE,
 * interrupt at IOAPIC pin IRQ_BASE + N (level, active high). The device tree lists the
 * slots in use as /virtio_mmio@ADDR.
 */
#define LODGER_VIRTIO_MMIO_BASE	    0xd0000000ULL
#define LODGER_VIRTIO_MMIO_STRIDE   0x200ULL
#define LODGER_VIRTIO_MMIO_IRQ_BASE 16

/* Ports (docs/guest-contract.md). */
#define LODGER_UART_PORT       0x3f8
#define LODGER_UART_IRQ	       4
#define LODGER_POWEROFF_PORT   0x604
#define LODGER_POWEROFF_VALUE  0x2000 /* 16-bit write: power off, lodger exits 0 */
#define LODGER_DEBUG_EXIT_PORT 0xf4   /* write v: lodger exits (v << 1) | 1 */

/*
 * Segment selectors a guest must use (the /lodger node gives them; these are the values
 * lodger gives in direct mode: the Linux x86-64 layout, so STAR works unchanged).
 * STAR imposes: kernel-ds = kernel-cs + 8; user-ds = user32-cs + 8; user-cs = user32-cs + 16.
 */
#define LODGER_SEL_KERNEL_CS 0x10
#define LODGER_SEL_KERNEL_DS 0x18
#define LODGER_SEL_USER32_CS 0x23
#define LODGER_SEL_USER_DS   0x2b
#define LODGER_SEL_USER_CS   0x33
#define LODGER_SEL_BOOT_TSS  0x40 /* TR at entry; a guest loads its own TSS */

/* Device tree names a guest looks for. */
#define LODGER_FDT_NODE		  "/lodger"
#define LODGER_FDT_COMPATIBLE	  "lodger,vmm"
#define LODGER_FDT_PROP_MODE	  "mode" /* "direct" | "shadow" */
#define LODGER_FDT_PROP_KERNEL_CS "kernel-cs"
#define LODGER_FDT_PROP_KERNEL_DS "kernel-ds"
#define LODGER_FDT_PROP_USER_CS	  "user-cs"
#define LODGER_FDT_PROP_USER_DS	  "user-ds"
#define LODGER_FDT_PROP_USER32_CS "user32-cs"

#endif
