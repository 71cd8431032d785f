/*
 * entry.S - where a test guest starts, and how traps and CPL3 excursions enter C.
 *
 * _start runs at CPL0 in long mode on lodger's boot identity map (docs/guest-contract.md)
 * with RDI = device tree, RSI = magic and no usable stack (RSP = 0). It sets a stack in
 * .bss, zeroes .bss (before anything lives there: the stack is still empty), and calls
 * rt_main(fdt, magic) with both registers as they arrived. Everything here is plain
 * instructions that KVM's emulator handles (kvm_pvm interprets CPL0 code).
 */
#define TRAP_STUB_SIZE 16

	.code64
	.section .text.entry, "ax"
	.globl	_start
_start:
	mov	$rt_boot_stack_top, %rsp
	mov	%rdi, %r12		/* callee-saved: survive the .bss clear */
	mov	%rsi, %r13
	cld
	mov	$__bss_start, %edi
	mov	$__bss_end, %ecx
	sub	%edi, %ecx
	shr	$3, %ecx		/* the linker script aligns .bss to 8 */
	xor	%eax, %eax
	rep stosq
	mov	%r12, %rdi
	mov	%r13, %rsi
	xor	%ebp, %ebp
	call	rt_main
	/* rt_main never returns; if it did, stop here rather than run off. */
1:	cli
	hlt
	jmp	1b

/*
 * Entry: stack = vector, error code, CPU frame (RIP, CS, RFLAGS, RSP, SS). The CPU aligned
 * RSP to 16 before its frame; 7 + 15 quadwords keep it aligned for the call. DF is not
 * cleared by the CPU and C code assumes it clear.
 * Exit: the (possibly edited) frame is restored and iretq resumes it.
 */
	.text
rt_trap_common:
	push	%rax
	push	%rbx
	push	%rcx
	push	%rdx
	push	%rsi
	push	%rdi
	push	%rbp
	push	%r8
	push	%r9
	push	%r10
	push	%r11
	push	%r12
	push	%r13
	push	%r14
	push	%r15
	cld
	mov	%rsp, %rdi
	call	rt_trap
	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%r11
	pop	%r10
	pop	%r9
	pop	%r8
	pop	%rbp
	pop	%rdi
	pop	%rsi
	pop	%rdx
	pop	%rcx
	pop	%rbx
	pop	%rax
	add	$16, %rsp		/* vector and error code */
	iretq

/*
 * Trap stubs: one 16-byte stub per vector, at rt_trap_stubs + 16 * vector, so the IDT
 * needs no table. Each pushes a zero error code where the CPU pushes none, then the
 * vector, so that every handler sees the same struct rt_frame.
 */
	.balign	TRAP_STUB_SIZE
	.globl	rt_trap_stubs
rt_trap_stubs:
	vec = 0
	.rept	256
1:
	.if vec == 8 || (vec >= 10 && vec <= 14) || vec == 17 || vec == 21 || vec == 29 || vec == 30
	pushq	$vec			/* the CPU pushed an error code */
	.else
	pushq	$0
	pushq	$vec
	.endif
	jmp	rt_trap_common
	.org	1b + TRAP_STUB_SIZE, 0xcc	/* fails to assemble if a stub outgrew it */
	vec = vec + 1
	.endr

/*
 * uint64_t rt_user_enter(void (*fn)(void), uint64_t arg, uint64_t cs, uint64_t ss)
 * (rt_user_call() supplies the selectors.) Saves the callee-saved registers and RSP in
 * rt_user_ctx, then iretq's to CPL3 at fn with RDI = arg, RSP = rt_user_stack_top,
 * RFLAGS = IF. Returns (through rt_user_return, from some CPL0 handler) the value the
 * user code handed back.
 */
	.globl	rt_user_enter
rt_user_enter:
	mov	%rbx, rt_user_ctx + 0(%rip)
	mov	%rbp, rt_user_ctx + 8(%rip)
	mov	%r12, rt_user_ctx + 16(%rip)
	mov	%r13, rt_user_ctx + 24(%rip)
	mov	%r14, rt_user_ctx + 32(%rip)
	mov	%r15, rt_user_ctx + 40(%rip)
	mov	%rsp, rt_user_ctx + 48(%rip)
	push	%rcx			/* SS */
	push	$rt_user_stack_top	/* RSP */
	push	$0x202			/* RFLAGS: IF */
	push	%rdx			/* CS */
	push	%rdi			/* RIP */
	mov	%rsi, %rdi
	xor	%eax, %eax		/* hand user code no kernel values */
	xor	%ebx, %ebx
	xor	%ecx, %ecx
	xor	%edx, %edx
	xor	%esi, %esi
	xor	%ebp, %ebp
	xor	%r8d, %r8d
	xor	%r9d, %r9d
	xor	%r10d, %r10d
	xor	%r11d, %r11d
	iretq

/*
 * void rt_user_return(uint64_t value): from a CPL0 handler, abandon the trap frame (the
 * trap stack is reset by the next entry from CPL3) and return value from rt_user_call.
 */
	.globl	rt_user_return
rt_user_return:
	mov	%rdi, %rax
	mov	rt_user_ctx + 0(%rip), %rbx
	mov	rt_user_ctx + 8(%rip), %rbp
	mov	rt_user_ctx + 16(%rip), %r12
	mov	rt_user_ctx + 24(%rip), %r13
	mov	rt_user_ctx + 32(%rip), %r14
	mov	rt_user_ctx + 40(%rip), %r15
	mov	rt_user_ctx + 48(%rip), %rsp
	ret

/* CPL3 side: the way back (a #UD the runtime recognises) and the user stack. */
	.section .user.text, "ax"
	.globl	rt_user_exit
rt_user_exit:
	ud2

	.section .user.data, "aw"
	.balign	4096
rt_user_stack:
	.skip	4096
	.globl	rt_user_stack_top
rt_user_stack_top:

	.bss
	.balign	16
rt_user_ctx:
	.skip	7 * 8
	.balign	16
rt_boot_stack:
	.skip	16384
	.globl	rt_boot_stack_top
rt_boot_stack_top:

	.section .note.GNU-stack, "", @progbits
