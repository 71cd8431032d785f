/* held.c - see held.h. */
#include "shadow/held.h"

#include "arch/x86.h"
#include "front/exitcode.h"
#include "front/log.h"
#include "kvm/vcpu.h"
#include "lodger/stub_abi.h"
#include "shadow/guestcpu.h"
#include "shadow/transport.h"

/* Stub code that may return to the guest without leaving the VM: the #GP fast path up to
 * (not including) its exit's `out`, and the flushes that end in iretq. */
static bool returns_in_vm(const struct guestcpu *g, uint64_t rip)
{
	uint64_t code = stub_linear(&g->stub, STUB_CODE);

	if (rip >= code + STUB_TLB_FLUSH_RET && rip < code + STUB_CODE_END)
		return true;
	return g->stub.fast_paths && rip >= code + STUB_GP_FAST && rip < code + STUB_GP_FAST_EXIT;
}

static bool anything_held(const struct held *h)
{
	return h->nmi || (h->irq[0] | h->irq[1] | h->irq[2] | h->irq[3]);
}

int held_take(struct trap *t, int vector, const uint64_t frame[5])
{
	struct guestcpu *g = t->g;
	struct held *h = &g->held;
	uint64_t code = stub_linear(&g->stub, STUB_CODE);

	if (frame[0] < code || frame[0] >= code + STUB_CODE_END)
		goto bug;
	if (vector == VEC_NMI)
		h->nmi = true;
	else if (vector >= VEC_FIRST_EXTERNAL)
		h->irq[vector / 64] |= 1ULL << (vector % 64);
	else if (!(vector == VEC_DB && h->stepping))
		goto bug;
	pr_debug(LOG_TRAP, "vector %d inside the stub at %#llx: %s", vector,
		 (unsigned long long)frame[0], vector == VEC_DB ? "stepping on" : "held");
	/* The stub goes on where it was; its own TF only while it may return in the VM. */
	h->stepping = anything_held(h) && returns_in_vm(g, frame[0]);
	t->regs.rip = frame[0];
	t->regs.rflags = (frame[2] & ~RFLAGS_TF) | (h->stepping ? RFLAGS_TF : 0);
	t->regs.rsp = frame[3];
	t->parked = true;
	return transport_commit(t);
bug:
	pr_err("vcpu%u: vector %d inside the stub at %#llx", t->vcpu->id, vector,
	       (unsigned long long)frame[0]);
	return EXIT_INTERNAL;
}

bool held_step_done(struct trap *t)
{
	struct held *h = &t->g->held;

	if (!h->stepping)
		return false;
	h->stepping = false;
	return true;
}

int held_deliver(struct trap *t)
{
	struct guestcpu *g = t->g;
	struct held *h = &g->held;
	int r;

	/* Not in the middle of a displaced access's step: it ends first (conflict.c). */
	if (g->step.active)
		return 0;
	if (h->nmi) {
		h->nmi = false;
		r = personality_deliver(t, VEC_NMI, EV_EXTERNAL, false, 0);
		if (r)
			return r;
	}
	if (!(g->user || g->vif || !g->pers->kernel_if_is_real))
		return 0;
	for (int v = 255; v >= VEC_FIRST_EXTERNAL; v--) {
		if (h->irq[v / 64] & 1ULL << (v % 64)) {
			h->irq[v / 64] &= ~(1ULL << (v % 64));
			return personality_deliver(t, (unsigned)v, EV_EXTERNAL, false, 0);
		}
	}
	return 0;
}
