/*
 * native.c - the native personality's table of operations (shadow/personality.h).
 */
#include "native/native.h"

#include "arch/x86.h"
#include "boot/bootmap.h"
#include "native/privop.h"
#include "native/reflect.h"
#include "lodger/boot.h"
#include "lodger/stub_abi.h"
#include "shadow/guestcpu.h"

/* The boot protocol's state, as the guest sees it (docs/guest-contract.md): the same as
 * direct mode's, with the shadow-mode selectors. */
int native_boot(struct trap *t, const struct personality_boot *b)
{
	struct guestcpu *g = t->g;

	g->cr0 = CR0_PG | CR0_WP | CR0_NE | CR0_ET | CR0_MP | CR0_PE;
	g->cr4 = CR4_OSXMMEXCPT | CR4_OSFXSR | CR4_PAE;
	g->efer = EFER_NXE | EFER_LMA | EFER_LME | EFER_SCE;
	g->cr3 = b->pml4;
	g->gdtr_base = b->gdt;
	g->gdtr_limit = BOOT_GDT_ENTRIES * 8 - 1;
	g->tr = shadow_selectors.boot_tss;
	g->tr_base = b->tss;
	g->tr_limit = BOOT_TSS_LIMIT;
	g->pat = PAT_RESET;
	t->regs = (struct kvm_regs){.rip = b->entry,
				    .rdi = b->fdt_gpa,
				    .rsi = LODGER_BOOT_MAGIC,
				    .rflags = RFLAGS_FIXED};
	return 0;
}

/* syscall from either mode enters LSTAR (CSTAR from compatibility mode) in kernel mode. */
int native_syscall(struct trap *t)
{
	struct guestcpu *g = t->g;
	bool compat = t->sregs.cs.selector == STUB_GUEST_USER32_CS;

	if (!(g->efer & EFER_SCE)) { /* syscall is #UD at the instruction */
		t->regs.rip = t->regs.rcx - 2;
		return reflect_event(t, VEC_UD, false, 0, EV_EXCEPTION);
	}
	/* RCX and R11 were set by the CPU: the return RIP and RFLAGS. */
	t->regs.rip = compat ? g->cstar : g->lstar;
	t->regs.rflags = (t->regs.r11 & ~g->fmask & ~RFLAGS_RF) | RFLAGS_FIXED;
	g->vif = t->regs.rflags & RFLAGS_IF;
	trap_set_mode(t, false);
	return 0;
}

/* Privileged instructions raise #UD, #NP, #SS or #GP at CPL3: emulate them. Anything else
 * is the guest's own exception. */
int native_exception(struct trap *t)
{
	switch (t->vector) {
	case VEC_UD:
	case VEC_NP:
	case VEC_SS:
	case VEC_GP:
		return privop_emulate(t);
	case VEC_DB:
		/* lodger arms no breakpoints for the guest: a #DB with TF is its single step */
		if (t->regs.rflags & RFLAGS_TF)
			t->g->dr[6] |= DR6_BS;
		return reflect_event(t, t->vector, t->has_error, t->error, EV_EXCEPTION);
	default:
		return reflect_event(t, t->vector, t->has_error, t->error, EV_EXCEPTION);
	}
}

int native_deliver(struct trap *t, const struct event *e)
{
	if (e->vector == VEC_PF && e->kind == EV_EXCEPTION)
		t->g->cr2 = e->cr2;
	return reflect_event(t, e->vector, e->has_error, e->error, e->kind);
}

const struct personality native_personality = {
	.name = "native",
	.kernel_if_is_real = true,
	.boot = native_boot,
	.syscall = native_syscall,
	.exception = native_exception,
	.deliver = native_deliver,
};
