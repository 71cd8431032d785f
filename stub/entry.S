/*
 * entry.S - the monitor stub's code: the first portion of the VMM.
 *
 * Where it runs: at CPL0, in the guest's linear space, at a base unknown at build time
 * and changed by relocation; so it holds no absolute address, and the memory it uses is
 * its own pages, RIP-relative (its stack, the area, the zap log and its windows).
 * What it does: nothing but leave. Each entry is a single `out %al, $STUB_EXIT_PORT`,
 * a KVM_EXIT_IO that hands the trap to lodger; lodger tells which entry ran from RIP,
 * reads the hardware frame from the stub's stack through its own mapping, does the work,
 * and resumes the guest by setting its registers. On kvm_pvm every CPL0 instruction is
 * interpreted (~1 us) and a trap already costs ~13 us, so the shortest stub is the
 * fastest one there (docs/shadow-mode.md has the figures).
 * How it leaves: through the exit port, but for the few paths that return to the guest
 * with iretq themselves (the #GP fast path, the TLB flush and zap log on the way back).
 */
#include "lodger/stub_abi.h"

	.code64
	.section .rodata.lodger_stub, "a"  /* data to the host: copied, never run here */
	.globl stub_code_start
stub_code_start:
.Lstart:

	/* Vector v enters at v * STUB_ENTRY_SIZE. %al is the guest's: lodger ignores it. */
	.rept 256
	out %al, $STUB_EXIT_PORT
	.endr

	/* LSTAR. On hardware KVM, syscall arrives here at CPL0 with the guest's RSP, RCX
	 * and R11; on kvm_pvm it arrives at CPL3 and faults on this supervisor page, which
	 * lodger recognises by the address. */
	.org stub_code_start + STUB_SYSCALL_ENTRY
	out %al, $STUB_EXIT_PORT

	/* A guest hlt: lodger parks the vCPU here with IF=1; the interrupt that wakes it
	 * enters through its vector like any other. */
	.org stub_code_start + STUB_IDLE
1:	hlt
	jmp 1b

	/* Port I/O a guest kernel asked for (it runs at CPL3 and cannot): lodger sets %dx
	 * (and %eax for out), points RIP here, and reads %eax back at the exit. KVM routes
	 * the access to its in-kernel devices or to lodger's. */
	.org stub_code_start + STUB_PIO + STUB_PIO_IN8 * STUB_PIO_SIZE
	inb %dx, %al
	out %al, $STUB_EXIT_PORT
	.org stub_code_start + STUB_PIO + STUB_PIO_IN16 * STUB_PIO_SIZE
	inw %dx, %ax
	out %al, $STUB_EXIT_PORT
	.org stub_code_start + STUB_PIO + STUB_PIO_IN32 * STUB_PIO_SIZE
	inl %dx, %eax
	out %al, $STUB_EXIT_PORT
	.org stub_code_start + STUB_PIO + STUB_PIO_OUT8 * STUB_PIO_SIZE
	outb %al, %dx
	out %al, $STUB_EXIT_PORT
	.org stub_code_start + STUB_PIO + STUB_PIO_OUT16 * STUB_PIO_SIZE
	outw %ax, %dx
	out %al, $STUB_EXIT_PORT
	.org stub_code_start + STUB_PIO + STUB_PIO_OUT32 * STUB_PIO_SIZE
	outl %eax, %dx
	out %al, $STUB_EXIT_PORT

	/*
	 * #GP fast path (claims 7, 19: a trap the stub handles itself, without leaving the
	 * VM). Gate 13 points here only where lodger enables it (src/shadow/stub.c). On entry: RSP
	 * at the hardware frame - error code, RIP, CS, RFLAGS, RSP, SS. A guest-kernel cli
	 * or sti (opcode 0xfa/0xfb at RIP, and lodger's area says kernel mode) does what the
	 * area says (STUB_AREA_KERNEL_CLI_STI): a change of IF in the frame where the guest's
	 * IF is the real one in kernel mode, nothing where the personality says so (Xen under
	 * its virtual IOPL); then an iretq past it, through the present aliases of the kernel's
	 * selectors.
 * With the guest's TF set it goes to lodger, which raises the single-step #DB after it.
	 * sti followed by hlt goes to lodger, which keeps the pair atomic. Anything else
	 * leaves through the exit at STUB_GP_FAST_EXIT. Clobbers nothing of the guest's.
	 */
	.org stub_code_start + STUB_GP_FAST
	push %rax
	cmpb $0, .Lstart + STUB_AREA + STUB_AREA_GUEST_USER(%rip)
	jne 3f
	cmpb $STUB_CLI_STI_LODGER, .Lstart + STUB_AREA + STUB_AREA_KERNEL_CLI_STI(%rip)
	je 3f
	testb $1, 33(%rsp)	/* the guest's TF: its #DB after the cli/sti is lodger's */
	jnz 3f
	mov 16(%rsp), %rax
	inc %rax		/* RIP past the 1-byte cli/sti. At a page's last byte it may be */
	test $0xfff, %eax	/* non-canonical (0x7fffffffffff + 1) or its page not mapped */
	jz 3f			/* yet: lodger decides, and never resumes there */
	cmpb $0xfa, -1(%rax)
	je 6f
	cmpb $0xfb, -1(%rax)
	jne 3f
	cmpb $0xf4, (%rax)	/* sti: is hlt next? */
	je 3f
6:	mov 44(%rsp), %eax	/* the guest's RSP, bits 32-63: a CPU may refuse to iretq to */
	sar $15, %eax		/* a non-canonical one (bits 47-63 not all equal), inside the */
	inc %eax		/* stub: lodger resumes it instead. Checked only for a cli/sti, */
	shr $1, %eax		/* so every other #GP leaves the sooner */
	jnz 3f
	mov 16(%rsp), %rax
	cmpb $0xfa, (%rax)
	je 1f
	cmpb $STUB_CLI_STI_NOP, .Lstart + STUB_AREA + STUB_AREA_KERNEL_CLI_STI(%rip)
	je 4f
	orq $0x200, 32(%rsp)
4:	incq .Lstart + STUB_AREA + STUB_AREA_FAST_STI(%rip)
	jmp 2f
1:	cmpb $STUB_CLI_STI_NOP, .Lstart + STUB_AREA + STUB_AREA_KERNEL_CLI_STI(%rip)
	je 5f
	andq $~0x200, 32(%rsp)
5:	incq .Lstart + STUB_AREA + STUB_AREA_FAST_CLI(%rip)
2:	incq 16(%rsp)
	movq $STUB_ALIAS_KERNEL_CS, 24(%rsp)
	movq $STUB_ALIAS_KERNEL_DS, 48(%rsp)
	pop %rax
	add $8, %rsp
	iretq
	.org stub_code_start + STUB_GP_FAST_EXIT - 1 /* the 1-byte pop, then the exit */
3:	pop %rax
	out %al, $STUB_EXIT_PORT

	/* A write to the xAPIC page the guest may do (lodger filtered it: never SMI, INIT
	 * or Start-up): %eax to the register at %rdx, in the stub's window on the page. */
	.org stub_code_start + STUB_APIC_W32
	movl %eax, (%rdx)
	out %al, $STUB_EXIT_PORT

	/* A full TLB flush: lodger has changed or removed shadow entries, and KVM walks the
	 * tables in hardware (EPT/NPT), so the CPU's own flush is all it takes. CR4.PGE and
	 * PCIDE are off, so reloading CR3 drops every translation and paging-structure
	 * cache entry. %rax is lodger's (it keeps the guest's registers meanwhile). */
	.org stub_code_start + STUB_TLB_FLUSH
	mov %cr3, %rax
	mov %rax, %cr3
	out %al, $STUB_EXIT_PORT
	.org stub_code_start + STUB_TLB_FLUSH_DONE

	/* The zap log (stub_abi.h): KVM keeps its own shadow of lodger's tables and sees only
	 * guest-side writes to them, so each entry lodger removed is written again here, at
	 * CPL0 through the pool window: KVM then drops what it derived from it, or, where it
	 * let the page be written (an unsync page), re-reads it at the CR3 reload that follows.
	 * Then the window's slots are cleared the same way, so that lodger may point them
	 * elsewhere next time. Uses %rax, %rcx, %rdx, %rsi, %rdi. */
.macro ZAP_LOG
	lea .Lstart + STUB_ZAP_LOG(%rip), %rsi
	lea .Lstart + STUB_POOL_WINDOW(%rip), %rdi
	mov STUB_ZAP_NR_WRITES(%rsi), %ecx
	test %ecx, %ecx
	jz 2f
1:	mov STUB_ZAP_WRITES - 4(%rsi,%rcx,4), %eax
	mov (%rdi,%rax), %rdx
	mov %rdx, (%rdi,%rax)
	dec %ecx
	jnz 1b
2:	mov STUB_ZAP_NR_SLOTS(%rsi), %ecx
	test %ecx, %ecx
	jz 4f
	lea .Lstart + STUB_PT_WINDOW + STUB_POOL_WINDOW / 0x1000 * 8(%rip), %rdi
3:	movq $0, -8(%rdi,%rcx,8)
	dec %ecx
	jnz 3b
4:
.endm

	/* The zap log, then the TLB flush and its exit (KVM without TDP). The registers are
	 * lodger's. */
	.org stub_code_start + STUB_ZAP
	ZAP_LOG
	jmp .Lstart + STUB_TLB_FLUSH

	/* The same two returning to the guest without an exit: lodger left on the stack the
	 * guest's registers the code uses and the frame iretq pops (struct stub_ret_frame),
	 * and gave KVM the guest's others. Only where iretq loads what lodger would: the
	 * kernel's present aliases, no sti shadow (transport.c). */
	.org stub_code_start + STUB_TLB_FLUSH_RET
	mov %cr3, %rax
	mov %rax, %cr3
	pop %rax
	iretq
	.org stub_code_start + STUB_ZAP_RET
	ZAP_LOG
	pop %rcx
	pop %rdx
	pop %rsi
	pop %rdi
	jmp .Lstart + STUB_TLB_FLUSH_RET

	.org stub_code_start + STUB_CODE_END
	.globl stub_code_end
stub_code_end:
	.section .note.GNU-stack, "", @progbits
