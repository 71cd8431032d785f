/*
 * pvh.S - a PVH entry, so that QEMU boots the guest with `-kernel guest.elf` (bench runs
 * the same image under QEMU and lodger). Linked only into guests that want it; lodger
 * ignores the note and enters at e_entry (_start) as always.
 *
 * QEMU's PVH boot (the x86/HVM direct boot ABI, Xen's docs/misc/pvh.pandoc) enters
 * rt_pvh_start, the address the XEN_ELFNOTE_PHYS32_ENTRY note gives, in 32-bit protected
 * mode: paging off, CS and DS flat 32-bit, EBX = the hvm_start_info's physical address,
 * no stack, interrupts off. This builds an identity map of [0, 4 GiB) with 2 MiB pages
 * (what lodger's boot map is), sets CR0/CR4/EFER as lodger's entry state has them, enters
 * long mode and goes to _start with RDI = the start info and RSI = its magic; rt_main
 * tells the two ways in apart by that magic.
 */
#include <xen/elfnote.h>

#define PVH_KERNEL_CS 0x10 /* the Linux layout, as lodger gives it in direct mode */
#define PVH_KERNEL_DS 0x18
#define MSR_EFER      0xc0000080
#define EFER_SCE_LME_NXE 0x901
#define CR0_PE_MP_ET_NE_WP_PG 0x80010033
#define CR4_PAE_OSFXSR_OSXMMEXCPT 0x620
#define PDE_P_W_PS    0x83

/* QEMU reads the descriptor as a pointer-sized value and aligns the name to the note
 * segment's alignment: keep both at 4 bytes of name, 8 of address, 4-byte aligned. */
	.pushsection .note.Xen, "a", @note
	.balign	4
	.long	4			/* namesz: "Xen\0" */
	.long	8			/* descsz */
	.long	XEN_ELFNOTE_PHYS32_ENTRY
	.asciz	"Xen"
	.balign	4
	.quad	rt_pvh_start
	.balign	4
	.popsection

	.code32
	.section .text.pvh, "ax"
	.globl	rt_pvh_start
rt_pvh_start:
	cli
	cld
	/* Zero the tables (PML4, PDPT, four PDs): they are in .data, loaded from the file,
	 * but a warm reset may have left anything there. */
	mov	$pvh_pml4, %edi
	mov	$(6 * 4096 / 4), %ecx
	xor	%eax, %eax
	rep stosl
	movl	$(pvh_pdpt + 3), pvh_pml4
	mov	$pvh_pdpt, %edi
	mov	$(pvh_pd + 3), %eax
	mov	$4, %ecx
1:	mov	%eax, (%edi)
	add	$4096, %eax
	add	$8, %edi
	loop	1b
	/* 2048 2 MiB pages: [0, 4 GiB). The high half of each entry stays 0. */
	mov	$pvh_pd, %edi
	mov	$PDE_P_W_PS, %eax
	mov	$2048, %ecx
2:	mov	%eax, (%edi)
	add	$0x200000, %eax
	add	$8, %edi
	loop	2b

	mov	$CR4_PAE_OSFXSR_OSXMMEXCPT, %eax
	mov	%eax, %cr4
	mov	$pvh_pml4, %eax
	mov	%eax, %cr3
	mov	$MSR_EFER, %ecx
	rdmsr
	or	$EFER_SCE_LME_NXE, %eax
	wrmsr
	mov	$CR0_PE_MP_ET_NE_WP_PG, %eax
	mov	%eax, %cr0
	lgdt	pvh_gdtr
	ljmp	$PVH_KERNEL_CS, $pvh_long

	.code64
pvh_long:
	mov	$PVH_KERNEL_DS, %eax
	mov	%eax, %ds
	mov	%eax, %es
	mov	%eax, %ss
	xor	%eax, %eax
	mov	%eax, %fs
	mov	%eax, %gs
	mov	%ebx, %edi		/* zero-extended: RDI = hvm_start_info */
	mov	(%rbx), %esi		/* RSI = its magic */
	jmp	_start

	.section .rodata
	.balign	8
pvh_gdt:
	.quad	0
	.quad	0
	.quad	0x00af9a000000ffff	/* PVH_KERNEL_CS: 64-bit code */
	.quad	0x00cf92000000ffff	/* PVH_KERNEL_DS */
pvh_gdt_end:
pvh_gdtr:
	.word	pvh_gdt_end - pvh_gdt - 1
	.long	pvh_gdt

	.data
	.balign	4096
pvh_pml4:
	.skip	4096
pvh_pdpt:
	.skip	4096
pvh_pd:
	.skip	4 * 4096

	.section .note.GNU-stack, "", @progbits
