/*
 * reflect.c - delivering exceptions and interrupts through the guest's own IDT.
 *
 * The guest's IDT is virtual (docs/shadow-mode.md): lodger does what the CPU would do with
 * it - check the gate, switch to the guest's kernel stack (RSP0 of its TSS on a
 * user-to-kernel transition, or the gate's IST), push a native 64-bit frame with the
 * guest's own view of CS, RFLAGS and SS, and enter the handler in guest kernel mode.
 * A fault while doing so is delivered instead, with the architecture's double-fault
 * rules; a fault while delivering a double fault is a triple fault, which ends the run
 * as it does in direct mode.
 */
#include "native/reflect.h"

#include "front/exitcode.h"
#include "front/log.h"
#include "shadow/guestcpu.h"
#include "arch/x86.h"
#include "lodger/stub_abi.h"

static bool read_gate(struct trap *t, unsigned vector, uint32_t ext, struct x86_gate *gate,
		      struct gfault *f)
{
	struct gview kv = trap_view(t, false);
	uint64_t raw[2];

	if (vector * 16 + 15 > t->g->idtr_limit) {
		*f = (struct gfault){.vector = VEC_GP, .error = vector * 8 + 2 + ext};
		return false;
	}
	if (!gmem_read(&kv, t->g->idtr_base + vector * 16, raw, sizeof(raw), false, f))
		return false;
	*gate = x86_gate_decode(raw);
	return true;
}

/* The guest's RFLAGS as it would see them: its own IF, IOPL 0. */
static uint64_t guest_rflags(const struct trap *t)
{
	return (t->regs.rflags & ~(RFLAGS_IF | RFLAGS_IOPL)) | 2 |
	       (t->g->user || t->g->vif ? RFLAGS_IF : 0);
}

/* One attempt; false with *f set to the fault met on the way. */
static bool deliver(struct trap *t, unsigned vector, bool has_error, uint32_t error,
		    enum event_kind kind, struct gfault *f)
{
	struct guestcpu *g = t->g;
	struct gview kv = trap_view(t, false);
	/* EXT: the failure happened while delivering an event the program did not ask for
	 * (an interrupt or an earlier exception), as opposed to an int n. */
	uint32_t ext = kind != EV_SOFTWARE;
	uint64_t frame[6], rsp;
	unsigned n = 0;
	struct x86_gate gate;

	if (!read_gate(t, vector, ext, &gate, f))
		return false;
	if (gate.type != GATE_INTERRUPT && gate.type != GATE_TRAP) {
		*f = (struct gfault){.vector = VEC_GP, .error = vector * 8 + 2 + ext};
		return false;
	}
	if (kind == EV_SOFTWARE && gate.dpl < (g->user ? 3u : 0u)) {
		*f = (struct gfault){.vector = VEC_GP, .error = vector * 8 + 2};
		return false;
	}
	if (!gate.present) {
		*f = (struct gfault){.vector = VEC_NP, .error = vector * 8 + 2 + ext};
		return false;
	}
	if ((gate.selector & ~3) != (STUB_GUEST_KERNEL_CS & ~3)) {
		*f = (struct gfault){.vector = VEC_GP, .error = (gate.selector & ~3) + ext};
		return false;
	}
	rsp = t->regs.rsp;
	if (gate.ist &&
	    !gmem_read(&kv, g->tr_base + TSS_IST1 + (gate.ist - 1) * 8, &rsp, 8, false, f))
		return false;
	if (!gate.ist && g->user && !gmem_read(&kv, g->tr_base + TSS_RSP0, &rsp, 8, false, f))
		return false;
	/* The handler's address is checked before anything is pushed: #GP(EXT), and lodger
	 * (or the stub) never resumes at a non-canonical RIP. */
	if ((uint64_t)((int64_t)(gate.offset << 16) >> 16) != gate.offset) {
		*f = (struct gfault){.vector = 13, .error = ext};
		return false;
	}
	rsp &= ~15ULL;

	if (has_error)
		frame[n++] = error;
	frame[n++] = t->regs.rip + (kind == EV_SOFTWARE ? t->soft_len : 0);
	frame[n++] = t->sregs.cs.selector;
	frame[n++] = guest_rflags(t);
	frame[n++] = t->regs.rsp;
	frame[n++] = t->sregs.ss.selector;
	rsp -= n * 8;
	if (!gmem_write(&kv, rsp, frame, n * 8, f))
		return false;

	t->regs.rsp = rsp;
	t->regs.rip = gate.offset;
	t->regs.rflags &= ~(RFLAGS_TF | RFLAGS_NT | RFLAGS_RF | RFLAGS_VM);
	if (gate.type == GATE_INTERRUPT)
		g->vif = false;
	else
		g->vif = g->user || g->vif;
	trap_set_mode(t, false);
	return true;
}

static bool contributory(unsigned v)
{
	return v == 0 || (v >= 10 && v <= 13);
}

/* The SDM's double-fault table: a fault met delivering `first` becomes #DF only for a
 * contributory exception after a contributory one, or a contributory one or #PF after a
 * #PF. int n, int3, interrupts and NMIs are benign: their delivery faults are delivered
 * as they are. */
static bool promotes(unsigned first, enum event_kind kind, unsigned second)
{
	if (kind != EV_EXCEPTION)
		return false;
	return (contributory(first) && contributory(second)) ||
	       (first == 14 && (second == 14 || contributory(second)));
}

static void chain_add(struct guestcpu *g, unsigned vector, enum event_kind kind, bool has_error,
		      uint32_t error)
{
	if (g->triple.n < sizeof(g->triple.ev) / sizeof(g->triple.ev[0]))
		g->triple.ev[g->triple.n++] = (typeof(g->triple.ev[0])){
			.vector = vector, .kind = kind, .has_error = has_error, .error = error};
}

int reflect_event(struct trap *t, unsigned vector, bool has_error, uint32_t error,
		  enum event_kind kind)
{
	struct gfault f;

	t->g->stats.by_kind[TK_REFLECTED]++;
	t->g->triple.n = 0;
	chain_add(t->g, vector, kind, has_error, error);
	for (;;) {
		if (deliver(t, vector, has_error, error, kind, &f)) {
			pr_debug(LOG_TRAP, "delivered vector %u to the guest's handler at %#llx",
				 vector, (unsigned long long)t->regs.rip);
			return 0;
		}
		/* The double- and triple-fault rules are for exceptions: an int n that fails
		 * (int $8, int $13 through a DPL-0 gate) gets the fault itself. */
		chain_add(t->g, f.vector, EV_EXCEPTION, true, f.error);
		if (vector == VEC_DF && kind == EV_EXCEPTION)
			return EXIT_TRIPLE_FAULT;
		if (f.vector == VEC_PF)
			t->g->cr2 = f.cr2;
		if (promotes(vector, kind, f.vector)) {
			vector = VEC_DF;
			error = 0;
			chain_add(t->g, VEC_DF, EV_EXCEPTION, true, 0);
		} else {
			vector = f.vector;
			error = f.error;
		}
		has_error = true;
		kind = EV_EXCEPTION;
	}
}

int reflect_fault(struct trap *t, const struct gfault *f)
{
	if (f->vector == VEC_PF)
		t->g->cr2 = f->cr2;
	return reflect_event(t, f->vector, true, f->error, EV_EXCEPTION);
}
