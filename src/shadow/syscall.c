/*
 * syscall.c - recognising a guest syscall and handing it to the personality.
 */
#include "shadow/syscall.h"

#include "arch/x86.h"
#include "lodger/stub_abi.h"
#include "shadow/conflict.h"
#include "shadow/guestcpu.h"
#include "shadow/pagewalk.h"

static int route(struct trap *t)
{
	t->g->stats.by_kind[TK_SYSCALL]++;
	return t->g->pers->syscall(t);
}

int syscall_from_stub(struct trap *t)
{
	bool user = t->g->user;

	/* Guest RSP untouched; the stub ran on its own CS/SS. */
	t->sregs.cs = trap_segment(user ? STUB_GUEST_USER_CS : STUB_GUEST_KERNEL_CS);
	t->sregs.ss = trap_segment(user ? STUB_GUEST_USER_DS : STUB_GUEST_KERNEL_DS);
	return route(t);
}

bool syscall_is_fetch_fault(struct trap *t, uint64_t la)
{
	struct gview v = trap_view(t, t->g->user);
	struct gfault f;
	uint8_t insn[2];

	return la == stub_linear(&t->g->stub, STUB_CODE + STUB_SYSCALL_ENTRY) &&
	       (t->error & PFEC_I) && gmem_read(&v, t->regs.rcx - 2, insn, 2, true, &f) &&
	       insn[0] == 0x0f && insn[1] == 0x05;
}

int syscall_from_fetch_fault(struct trap *t)
{
	struct guestcpu *g = t->g;
	int r;

	/* A syscall stepped in a displaced region: the step ends, and its TF must not reach
	 * the guest through the RFLAGS the CPU saved in R11. */
	if (g->step.active) {
		if (!g->step.guest_tf)
			t->regs.r11 &= ~RFLAGS_TF;
		r = conflict_step_end(t);
		if (r)
			return r;
	}
	return route(t);
}
