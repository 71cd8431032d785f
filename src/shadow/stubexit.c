/*
 * stubexit.c - from the stub's exit to the guest's resumption.
 *
 * Every trap the guest takes lands on a one-instruction stub entry that exits to lodger
 * (claims 8/20: the second portion handles what the first cannot). In order:
 *   1. find RIP past the stub's `out`: KVM leaves it there (kvm_pvm) or at the `out`
 *      (kvm_intel, kvm_amd), which lodger learns at the first exit by letting KVM
 *      complete that one (a KVM_RUN with immediate_exit);
 *   2. recognise the exit: which stub entry ran (a vector, the syscall entry, the end of
 *      a port-I/O trampoline), from that RIP;
 *   3. rebuild the guest's context from the hardware frame on the stub's stack, read
 *      through lodger's own mapping of monitor memory;
 *   4. dispatch (dispatch.c);
 *   5. the personality's pending events, then resume (transport.c).
 */
#include "shadow/stubexit.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "arch/x86.h"
#include "front/exitcode.h"
#include "front/log.h"
#include "front/phase.h"
#include "kvm/kvm.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"
#include "lodger/stub_abi.h"
#include "shadow/conflict.h"
#include "shadow/debug.h"
#include "shadow/dispatch.h"
#include "shadow/guestcpu.h"
#include "shadow/held.h"
#include "shadow/park.h"
#include "shadow/syscall.h"
#include "shadow/transport.h"

/* Step 3: the hardware frame on the stub's stack. */
static int read_frame(struct trap *t, uint64_t frame[5])
{
	struct guestcpu *g = t->g;
	uint64_t off = t->regs.rsp - g->stub.base;
	unsigned words = 5 + t->has_error;

	if (off < STUB_STACK_BOTTOM || off + words * 8 > STUB_IST_TOP) {
		pr_err("vcpu%u: stub exit with RSP %#llx outside the stub's stacks", t->vcpu->id,
		       (unsigned long long)t->regs.rsp);
		return EXIT_INTERNAL;
	}
	const uint64_t *p = MON_PTR(&t->vcpu->vm->mem, g->stub.mon_off + off, words * 8);

	t->error = t->has_error ? (uint32_t)p[0] : 0;
	memcpy(frame, p + t->has_error, 5 * 8);
	return 0;
}

static int vector_exit(struct trap *t, int vector)
{
	struct guestcpu *g = t->g;
	uint64_t frame[5]; /* rip, cs, rflags, rsp, ss */
	uint64_t idle = stub_linear(&g->stub, STUB_CODE + STUB_IDLE);
	bool done;
	int r;

	t->vector = vector;
	t->has_error = x86_has_error_code(vector);
	r = read_frame(t, frame);
	if (r)
		return r;
	g->stats.by_vector[vector]++;
	g->stats.by_place[TRAP_IN_VMM]++;
	if (frame[1] == STUB_CS) {
		/* The idle loop is interrupted to wake a guest hlt; any other stub path has an
		 * NMI (or interrupt) held for the guest, and goes on where it was. */
		if (!g->halted || frame[0] < idle || frame[0] > idle + 3)
			return held_take(t, vector, frame);
		park_wake(t);
		return personality_deliver(t, vector, EV_EXTERNAL, false, 0);
	}
	t->regs.rip = frame[0];
	t->regs.rflags = frame[2];
	t->regs.rsp = frame[3];
	shadow_debug_entry(t); /* the debugger's TF never reaches the guest's frames */
	/* In kernel mode the real IF is the guest's: the stub's fast paths may have moved it. */
	if (!g->user && g->pers->kernel_if_is_real)
		g->vif = frame[2] & RFLAGS_IF;
	/* The mode is lodger's record, never the frame's selectors: the guest may have loaded
	 * one lodger did not give it (the stub's aliases after a fast path, or, on kvm_pvm, a
	 * host selector). Only 32-bit user code is told apart, for decoding. */
	trap_set_mode(t, g->user);
	if (g->user && frame[1] == STUB_GUEST_USER32_CS)
		t->sregs.cs = trap_segment(STUB_GUEST_USER32_CS);
	pr_debug(LOG_TRAP, "vector %d error %#x at %#llx (%s)", vector, t->error,
		 (unsigned long long)t->regs.rip, g->user ? "user" : "kernel");
	/* The stub's iretq, stepped while an event was held, is back in the guest: that
	 * #DB is lodger's; the held event is delivered on the way back. */
	if (vector == VEC_DB && held_step_done(t) && !g->step.active)
		return 0;
	if (g->step.active) {
		r = conflict_step_trap(t, &done);
		if (r || done)
			return r;
	}
	r = shadow_debug_trap(t, &done);
	if (r || done)
		return r;
	return dispatch_trap(t);
}

/* Step 2: which entry ran, from RIP (past its `out`, once completed). */
enum entry {
	ENTRY_NONE,
	ENTRY_VECTOR,
	ENTRY_SYSCALL,
	ENTRY_PIO_DONE,
	ENTRY_APIC_DONE,
	ENTRY_TLB_FLUSH_DONE
};

/* Where the parked trampoline's exit leaves RIP: past its in/out (1 byte, 2 with the
 * 16-bit operand prefix) and past the exit's `out`. Its in/out itself exits at any other
 * RIP when the guest's port is STUB_EXIT_PORT: that is the guest's access, not the end. */
static uint64_t pio_done_rip(const struct guestcpu *g, uint64_t code)
{
	unsigned op = g->pio_size == 1	 ? STUB_PIO_IN8
		      : g->pio_size == 2 ? STUB_PIO_IN16
					 : STUB_PIO_IN32;

	if (!g->pio_in)
		op += STUB_PIO_OUT8;
	return code + STUB_PIO + op * STUB_PIO_SIZE + (g->pio_size == 2 ? 2 : 1) + STUB_ENTRY_SIZE;
}

static enum entry which_entry(const struct guestcpu *g, uint64_t rip, int *vector)
{
	uint64_t code = stub_linear(&g->stub, STUB_CODE);

	*vector = stub_vector_at(&g->stub, rip);
	if (*vector >= 0)
		return ENTRY_VECTOR;
	if (rip == code + STUB_SYSCALL_ENTRY + STUB_ENTRY_SIZE)
		return ENTRY_SYSCALL;
	if (g->pio_pending && rip == pio_done_rip(g, code))
		return ENTRY_PIO_DONE;
	/* past the 2-byte `movl %eax, (%rdx)` and the exit's `out` */
	if (g->apic_pending && rip == code + STUB_APIC_W32 + 2 + STUB_ENTRY_SIZE)
		return ENTRY_APIC_DONE;
	if (g->flush_pending && rip == code + STUB_TLB_FLUSH_DONE)
		return ENTRY_TLB_FLUSH_DONE;
	return ENTRY_NONE;
}

/* The register dump the guest contract promises, in the guest's view: its CR3, the
 * selectors of its mode and its virtual IF, never the stub's. */
static void dump_guest(const struct trap *t)
{
	const struct kvm_regs *r = &t->regs;
	const struct guestcpu *g = t->g;
	uint64_t rflags = g->user ? r->rflags : (r->rflags & ~RFLAGS_IF) | (g->vif ? RFLAGS_IF : 0);

	fprintf(stderr,
		"RAX=%016llx RBX=%016llx RCX=%016llx RDX=%016llx\n"
		"RSI=%016llx RDI=%016llx RBP=%016llx RSP=%016llx\n"
		"R8 =%016llx R9 =%016llx R10=%016llx R11=%016llx\n"
		"R12=%016llx R13=%016llx R14=%016llx R15=%016llx\n"
		"RIP=%016llx RFL=%08llx CS=%04x SS=%04x (%s mode)\n"
		"CR0=%016llx CR2=%016llx CR3=%016llx CR4=%016llx EFER=%016llx\n",
		(unsigned long long)r->rax, (unsigned long long)r->rbx, (unsigned long long)r->rcx,
		(unsigned long long)r->rdx, (unsigned long long)r->rsi, (unsigned long long)r->rdi,
		(unsigned long long)r->rbp, (unsigned long long)r->rsp, (unsigned long long)r->r8,
		(unsigned long long)r->r9, (unsigned long long)r->r10, (unsigned long long)r->r11,
		(unsigned long long)r->r12, (unsigned long long)r->r13, (unsigned long long)r->r14,
		(unsigned long long)r->r15, (unsigned long long)r->rip, (unsigned long long)rflags,
		t->sregs.cs.selector, t->sregs.ss.selector, g->user ? "user" : "kernel",
		(unsigned long long)g->cr0, (unsigned long long)g->cr2, (unsigned long long)g->cr3,
		(unsigned long long)g->cr4, (unsigned long long)g->efer);
}

int stubexit_handle(struct vcpu *vcpu)
{
	struct guestcpu *g = vcpu->guest;
	struct trap t = {.vcpu = vcpu, .g = g};
	uint64_t fills = g->stats.by_kind[TK_SHADOW_FILL], start = phase_now();
	enum entry entry;
	int vector, status;
	bool completed;

	status = transport_load(&t);
	if (status)
		return status;
	/* Every exit of the stub's own is an `out` at CPL0; an `in` there is a guest's access
	 * to the port through the trampoline, which the run loop answers before KVM completes
	 * it. */
	if (t.sregs.cs.selector != STUB_CS || vcpu->run->io.direction != KVM_EXIT_IO_OUT)
		return STUBEXIT_NOT_STUB;
	/* Which `out` ran is told from RIP past it: at the exit RIP is past it on kvm_pvm (its
	 * emulator) but still at it on kvm_intel/kvm_amd (KVM's fast port-I/O path), and the
	 * entries are back to back, so "at entry v" and "past entry v-1" look alike. lodger
	 * learns which at the vCPU's first exit: it lets KVM complete that `out` (a KVM_RUN with
	 * immediate_exit) and sees whether RIP moved by the `out`'s length or not at all. After
	 * that no completion run is needed: where RIP was left at the `out`, KVM moves it past
	 * at the next KVM_RUN only if RIP is still there, and lodger resumes elsewhere
	 * (transport_commit). An `out` of the guest's through the trampoline is a write the run
	 * loop drops: it matches no entry, and nothing here has changed the vCPU. */
	g->out_pending = false;
	completed = g->out_exit_rip == OUT_EXIT_RIP_UNKNOWN;
	if (completed) {
		uint64_t at_exit = t.regs.rip;

		status = transport_complete_out(vcpu);
		if (!status)
			status = transport_load_regs(&t);
		if (status)
			return status;
		if (t.regs.rip == at_exit)
			g->out_exit_rip = OUT_EXIT_RIP_PAST_OUT;
		else if (t.regs.rip == at_exit + STUB_ENTRY_SIZE)
			g->out_exit_rip = OUT_EXIT_RIP_AT_OUT;
	} else if (g->out_exit_rip == OUT_EXIT_RIP_AT_OUT) {
		g->out_rip = t.regs.rip;
		t.regs.rip += STUB_ENTRY_SIZE;
	}
	entry = which_entry(g, t.regs.rip, &vector);
	if (entry == ENTRY_NONE)
		return STUBEXIT_NOT_STUB;
	g->out_pending = !completed && g->out_exit_rip == OUT_EXIT_RIP_AT_OUT;
	switch (entry) {
	case ENTRY_VECTOR:
		status = vector_exit(&t, vector);
		break;
	case ENTRY_SYSCALL:
		/* syscall saved the debugger's TF in R11 (FMASK cleared the real one) */
		if (g->dbg.armed && !g->dbg.guest_tf)
			t.regs.r11 &= ~RFLAGS_TF;
		status = syscall_from_stub(&t);
		break;
	case ENTRY_APIC_DONE:
		status = park_finish_apic_write(&t);
		break;
	case ENTRY_TLB_FLUSH_DONE:
		status = transport_finish_tlb_flush(&t);
		break;
	default:
		status = park_finish_port_io(&t);
		break;
	}
	if (!status && !t.parked)
		status = held_deliver(&t);
	if (!status && !t.parked && g->pers->pending)
		status = g->pers->pending(&t);
	/* A hidden shadow fill ran no guest instruction: a debugger's step goes on. After the
	 * stub's TLB flush the step was already armed, on the registers it saved. */
	if (!status && !t.parked && entry != ENTRY_TLB_FLUSH_DONE)
		status = shadow_debug_resume(&t, g->stats.by_kind[TK_SHADOW_FILL] == fills);
	if (!status && !t.parked)
		status = transport_resume(&t);
	if (entry == ENTRY_VECTOR)
		g->stats.ns_by_vector[vector] += phase_now() - start;
	else if (entry == ENTRY_SYSCALL)
		g->stats.syscalls++, g->stats.syscall_ns += phase_now() - start;
	if (status == EXIT_TRIPLE_FAULT) {
		char chain[200];

		guestcpu_triple_text(g, chain, sizeof(chain));
		pr_err("vcpu%u: guest triple fault: %s (each met delivering the one before), guest "
		       "RIP %#llx",
		       vcpu->id, chain, (unsigned long long)t.regs.rip);
		dump_guest(&t);
	}
	return status;
}
