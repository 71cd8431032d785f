/*
 * bench_entry.S - what guests/bench.c times that must be exactly these instructions: the
 * raw trap handlers (the gates point straight here, bypassing the runtime's frame) and
 * the CPL3 code.
 */
#include "bench.h"

/* Time one instruction (or none) in %rdx: RDX:RAX of rdtsc, fenced, start in %r8. */
.macro	tsc_to_rdx
	lfence
	rdtsc
	shl	$32, %rdx
	or	%rax, %rdx
.endm

	.text
/* ud2 -> handler -> iretq: skip the 2-byte ud2. */
	.globl	bench_ud_entry
bench_ud_entry:
	addq	$2, (%rsp)
	iretq

/* #PF -> map -> iretq: write the PTE back (bench.c cleared it), drop the error code. */
	.globl	bench_pf_entry
bench_pf_entry:
	push	%rax
	push	%rbx
	mov	bench_pf_pte(%rip), %rbx
	mov	bench_pf_val(%rip), %rax
	mov	%rax, (%rbx)
	pop	%rbx
	pop	%rax
	add	$8, %rsp
	iretq

/* LSTAR: the syscall is back where it came from at once (RCX, R11 as syscall left). */
	.globl	bench_syscall_entry, bench_sysret
bench_syscall_entry:
bench_sysret:
	sysretq

/*
 * CPL3: bench_user_rounds timed samples of `syscall` (bench_user_syscalls) or of nothing
 * (bench_user_nosyscalls: the timing's own cost) into bench_user_samples, then back to the
 * kernel through rt_user_exit with RAX = 0. R12 counts: syscall takes RCX and R11.
 */
.macro	user_samples name, insn:vararg
	.globl	bench_user_\name
bench_user_\name:
	mov	bench_user_rounds(%rip), %r12
	lea	bench_user_samples(%rip), %rdi
1:	tsc_to_rdx
	mov	%rdx, %r8
	\insn
	tsc_to_rdx
	sub	%r8, %rdx
	mov	%rdx, (%rdi)
	add	$8, %rdi
	dec	%r12
	jnz	1b
	xor	%eax, %eax
	jmp	rt_user_exit
.endm

	.section .user.text, "ax"
	user_samples syscalls, syscall
	user_samples nosyscalls

/* One slice of a process's work: compute, then write BENCH_SLICE_FRESH fresh pages from
 * RDI on (the kernel mapped them just before). */
	.globl	bench_user_slice
bench_user_slice:
	mov	$BENCH_SLICE_LOOP, %ecx
	mov	$1, %eax
1:	imul	$3, %rax, %rax
	add	$7, %rax
	dec	%ecx
	jnz	1b
	mov	$BENCH_SLICE_FRESH, %ecx
2:	mov	%rax, (%rdi)
	add	$4096, %rdi
	dec	%ecx
	jnz	2b
	xor	%eax, %eax
	jmp	rt_user_exit

	.section .user.data, "aw"
	.balign	8
	.globl	bench_user_rounds, bench_user_samples
bench_user_rounds:
	.quad	0
bench_user_samples:
	.skip	8 * BENCH_MAX_ROUNDS

	.section .note.GNU-stack, "", @progbits
