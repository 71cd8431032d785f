/*
 * dispatch.c - one trap from the guest: the core's own cases, then the personality.
 */
#include "shadow/dispatch.h"

#include "arch/x86.h"
#include "front/exitcode.h"
#include "front/log.h"
#include "kvm/vcpu.h"
#include "shadow/apicmmio.h"
#include "shadow/conflict.h"
#include "shadow/guestcpu.h"
#include "shadow/pagewalk.h"
#include "shadow/syscall.h"

/* A fault the guest must see, found while a displaced access was being stepped: the step
 * ends first. */
static int guest_fault(struct trap *t, unsigned vector, uint32_t error, uint64_t cr2)
{
	struct gfault f = {.vector = vector, .error = error, .cr2 = cr2};
	int r = t->g->step.active ? conflict_step_end(t) : 0;

	return r ? r : personality_fault(t, &f);
}

/* The same shadow entry filled again and again: the backend does not honour it. End the
 * run with one clear line rather than spin. */
static int check_refill(struct trap *t, uint64_t la)
{
	struct guestcpu *g = t->g;

	g->same_fills = g->shadow.refilled_same && la == g->last_fill_la ? g->same_fills + 1 : 0;
	g->last_fill_la = la;
	if (g->same_fills > 64) {
		pr_err("vcpu%u: KVM keeps faulting on guest address %#llx although it is "
		       "mapped (a backend limit: docs/platform.md)",
		       t->vcpu->id, (unsigned long long)la);
		return EXIT_INTERNAL;
	}
	return 0;
}

static int page_fault(struct trap *t)
{
	struct guestcpu *g = t->g;
	uint64_t la = t->sregs.cr2;
	struct shadow_guest_mode mode = {.wp = g->cr0 & CR0_WP, .nxe = g->efer & EFER_NXE};
	uint32_t access = (t->error & (PFEC_W | PFEC_I)) | (g->user ? PFEC_U : 0), pfec = 0;

	if (syscall_is_fetch_fault(t, la))
		return syscall_from_fetch_fault(t);
	/* A reserved bit in a shadow entry would fault forever: the guest's walk decides. */
	if (t->error & PFEC_RSVD) {
		struct gfault f = {
			.vector = VEC_PF, .error = access | PFEC_P | PFEC_RSVD, .cr2 = la};

		return personality_fault(t, &f);
	}
	switch (shadow_fill(&g->shadow, g->cr3, g->user, la, access, &mode, &pfec)) {
	case SHADOW_FILLED:
		g->stats.by_kind[TK_SHADOW_FILL]++;
		pr_debug(LOG_SHADOW, "fill %#llx (%s%s%s)", (unsigned long long)la,
			 access & PFEC_W ? "w" : "r", access & PFEC_U ? "u" : "k",
			 access & PFEC_I ? "x" : "");
		return check_refill(t, la);
	case SHADOW_GUEST_FAULT:
		shadow_note_fault(&g->shadow, g->cr3, g->user, la, access);
		return guest_fault(t, VEC_PF, pfec, la);
	case SHADOW_NONCANONICAL:
		return guest_fault(t, VEC_GP, 0, 0);
	case SHADOW_STUB_CONFLICT:
		return conflict_handle(t, la, access);
	case SHADOW_APIC_WRITE: {
		int r = g->step.active ? conflict_step_end(t) : 0;

		return r ? r : apicmmio_write(t, la);
	}
	case SHADOW_NO_MEMORY:
	default:
		pr_err("vcpu%u: out of shadow page-table memory", t->vcpu->id);
		return EXIT_HOST_ERROR;
	}
}

/* The length of the instruction that raised a #BP, ending at RIP: `int $3` (cd 03) is
 * two bytes, int3 (cc) one. */
static unsigned breakpoint_length(struct trap *t)
{
	struct gview v = trap_view(t, t->g->user);
	struct gfault f;
	uint8_t b[2];

	if (gmem_read(&v, t->regs.rip - 2, b, 2, true, &f) && b[0] == 0xcd && b[1] == 0x03)
		return 2;
	return 1;
}

int dispatch_trap(struct trap *t)
{
	switch (t->vector) {
	case VEC_PF:
		return page_fault(t);
	case VEC_AC:
		/* #AC in guest kernel mode: the guest's CPL0 is never alignment-checked, but the
		 * CPU checks CPL3 code with AC set (on kvm_pvm the host's CR0.AM shows through).
		 * Drop AC and run the access again (guest contract: AC does not survive in
		 * kernel mode). */
		if (!t->g->user) {
			t->regs.rflags &= ~RFLAGS_AC;
			return 0;
		}
		return t->g->pers->exception(t);
	case VEC_BP:
		/* int3, or int $3: the stub's #BP gate is DPL 3 (stub_place), so both arrive
		 * here with RIP past them, and the guest's own gate's DPL decides. */
		t->soft_len = breakpoint_length(t);
		t->regs.rip -= t->soft_len;
		return personality_deliver(t, VEC_BP, EV_SOFTWARE, false, 0);
	case VEC_DF:
	case VEC_MC:
		pr_err("vcpu%u: %s while running the guest", t->vcpu->id,
		       t->vector == VEC_DF ? "double fault" : "machine check");
		return EXIT_INTERNAL;
	default:
		if (t->vector >= VEC_FIRST_EXTERNAL || t->vector == VEC_NMI)
			return personality_deliver(t, t->vector, EV_EXTERNAL, false, 0);
		return t->g->pers->exception(t);
	}
}
