/*
 * floor_layout.h - bench/floor's guest memory map, selectors and ports, shared by floor.c
 * and floor_guest.S (plain #defines only: the assembler reads it too).
 *
 * One memslot of FLOOR_MEM_SIZE at guest-physical 0, identity-mapped with 4 KiB pages,
 * every page user-accessible (the CPL3 tests and the CPL0 handlers share the code page;
 * nothing here needs protecting). Page 0 is left unmapped.
 */
#ifndef LODGER_BENCH_FLOOR_LAYOUT_H
#define LODGER_BENCH_FLOOR_LAYOUT_H

#define FLOOR_MEM_SIZE	 0x200000 /* 2 MiB: one page table maps it all */
#define FLOOR_PML4	 0x1000
#define FLOOR_PDPT	 0x2000
#define FLOOR_PD	 0x3000
#define FLOOR_PT	 0x4000
#define FLOOR_GDT	 0x5000
#define FLOOR_TSS	 0x6000
#define FLOOR_IDT	 0x7000
#define FLOOR_CODE	 0x10000 /* floor_guest.S is copied here */
#define FLOOR_CODE_MAX	 0x10000 /* ... and must fit below FLOOR_KSTACK_TOP - 0x10000 */
#define FLOOR_KSTACK_TOP 0x80000 /* TSS.RSP0, and the stack of CPL0 tests */
#define FLOOR_USTACK_TOP 0x90000

/* The Linux x86-64 GDT layout, so that STAR is the usual one. */
#define FLOOR_KERNEL_CS 0x10
#define FLOOR_KERNEL_DS 0x18
#define FLOOR_USER32_CS 0x23
#define FLOOR_USER_DS	0x2b
#define FLOOR_USER_CS	0x33
#define FLOOR_TSS_SEL	0x40

/* Ports: each `out` to one is a KVM_EXIT_IO that floor recognises. */
#define FLOOR_PORT_BENCH 0xe0 /* a timed exit: floor re-enters at once */
#define FLOOR_PORT_DONE	 0xe1 /* the test is over; RBX = TSC cycles of its loop */
#define FLOOR_PORT_ERR	 0xe2 /* an unexpected exception; AL = its vector */

#define FLOOR_VECTORS		32 /* the IDT covers the exceptions: nothing else arrives */
#define FLOOR_UNEXPECTED_STRIDE 8  /* bytes per stub in floor_unexpected */

#endif
