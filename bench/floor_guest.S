/*
 * floor_guest.S - the guest side of bench/floor: timed loops and minimal trap handlers.
 *
 * Runs in floor's own VM (bench/floor.c builds its page tables, GDT, TSS and IDT), copied
 * to guest-physical and linear FLOOR_CODE. Nothing here is linked at that address: every
 * jump is relative and every absolute value an immediate, so the bytes between
 * floor_guest_start and floor_guest_end run wherever they are copied; floor.c computes
 * the handlers' guest addresses from their offsets.
 *
 * A test starts with R12 = iterations. Its loop is timed with rdtsc inside the guest; the
 * TSC delta is left in RBX and the test ends with `out FLOOR_PORT_DONE` (at CPL0) or with
 * `ud2`, whose #UD handler does that `out` (at CPL3). Loop counters avoid RCX and R11,
 * which `syscall` overwrites. CPL3 tests are entered from floor_enter_user with iretq.
 */
#include "floor_layout.h"

/* RDX:RAX from rdtsc as one 64-bit value in %rdx (fenced: nothing before it is pending) */
.macro	tsc_read
	lfence
	rdtsc
	shl	$32, %rdx
	or	%rax, %rdx
.endm

.macro	tsc_start
	tsc_read
	mov	%rdx, %r13
.endm

.macro	tsc_stop
	tsc_read
	sub	%r13, %rdx
	mov	%rdx, %rbx
.endm

	.section .rodata.floor_guest, "a"
	.globl	floor_guest_start, floor_guest_end
floor_guest_start:

/* ---- CPL0 tests: the host enters them directly (RIP, CS = kernel) ---------------------- */

/* The loop alone: on kvm_pvm each CPL0 instruction is interpreted, so this is subtracted. */
	.globl	floor_loop0
floor_loop0:
	tsc_start
1:	dec	%r12
	jnz	1b
	tsc_stop
	out	%al, $FLOOR_PORT_DONE

/* (c) a bare exit: `out` -> KVM_EXIT_IO -> floor re-enters at once. */
	.globl	floor_exit0
floor_exit0:
	tsc_start
1:	out	%al, $FLOOR_PORT_BENCH
	dec	%r12
	jnz	1b
	tsc_stop
	out	%al, $FLOOR_PORT_DONE

/*
 * Entry to CPL3: RDI = the CPL3 test. An iretq frame with the user selectors and IF=0
 * (there is no interrupt source; a CPL3 `cli` faults whatever IF is, IOPL being 0).
 */
	.globl	floor_enter_user
floor_enter_user:
	push	$FLOOR_USER_DS
	push	$FLOOR_USTACK_TOP
	push	$0x2
	push	$FLOOR_USER_CS
	push	%rdi
	iretq

/* ---- CPL3 tests -------------------------------------------------------------------------- */

	.globl	floor_loop3
floor_loop3:
	tsc_start
1:	dec	%r12
	jnz	1b
	tsc_stop
	ud2

/* (a) and (b): `cli` at CPL3 is a #GP; gate 13 decides whether its handler exits. */
	.globl	floor_trap3
floor_trap3:
	tsc_start
1:	cli
	dec	%r12
	jnz	1b
	tsc_stop
	ud2

/* (d) `syscall` from CPL3 to LSTAR (floor_syscall_entry) and back. */
	.globl	floor_syscall3
floor_syscall3:
	tsc_start
1:	syscall
	dec	%r12
	jnz	1b
	tsc_stop
	ud2

/* ---- handlers ---------------------------------------------------------------------------- */

/* (b) #GP handled in the VM: skip the 1-byte `cli`, drop the error code, return. */
	.globl	floor_gp_skip
floor_gp_skip:
	addq	$1, 8(%rsp)
	add	$8, %rsp
	iretq

/* (a) the same after an exit to userspace, as a trap stub that exits and resumes does. */
	.globl	floor_gp_exit
floor_gp_exit:
	out	%al, $FLOOR_PORT_BENCH
	addq	$1, 8(%rsp)
	add	$8, %rsp
	iretq

/* #UD: the CPL3 test's end (RBX holds its result). floor never resumes after this. */
	.globl	floor_ud_done
floor_ud_done:
	out	%al, $FLOOR_PORT_DONE
1:	hlt
	jmp	1b

/*
 * LSTAR. kvm_pvm delivers `syscall` at CPL3 still (CS 0x33), where `sysretq` faults; on
 * VMX/SVM it arrives at CPL0 on the user stack. An iretq frame built on the stack we are
 * on returns to the user code in both cases (RCX = RIP, R11 = RFLAGS, as syscall left).
 */
	.globl	floor_syscall_entry
floor_syscall_entry:
	mov	%rsp, %r10
	push	$FLOOR_USER_DS
	push	%r10
	push	%r11
	push	$FLOOR_USER_CS
	push	%rcx
	iretq

/* Every other vector: AL = vector, then `out FLOOR_PORT_ERR`; floor reports and stops. */
	.balign	8
	.globl	floor_unexpected
floor_unexpected:
	vec = 0
	.rept	FLOOR_VECTORS
1:	mov	$vec, %al
	jmp	floor_unexpected_common
	.org	1b + FLOOR_UNEXPECTED_STRIDE, 0xcc
	vec = vec + 1
	.endr
floor_unexpected_common:
	out	%al, $FLOOR_PORT_ERR
1:	hlt
	jmp	1b

floor_guest_end:

	.section .note.GNU-stack, "", @progbits
