/*
 * conflict.c - what lodger does when the guest touches the stub's region (claims 1, 9-12).
 *
 * In the order it happens:
 *   detect   shadow_fill() says SHADOW_STUB_CONFLICT for a guest access (dispatch.c);
 *   unused   if the guest leaves some region unmapped, the stub moves there and the guest
 *            simply gets its region (claim 9);
 *   random   if the guest maps everything, the stub moves to a random region the guest
 *            does map (claim 10): that region's content is now displaced. lodger does not
 *            copy it: it stays in guest memory, which lodger reaches through its own
 *            mapping and the guest's page tables;
 *   serve    a later guest access to displaced content is served exactly (claim 11) by
 *            running that one instruction with the stub moved aside to a temporary second
 *            place: the CPU performs the access itself, with the guest's permissions,
 *            A/D bits, faults, locking and rep semantics, and a single-step trap (TF,
 *            taken through the stub's own #DB entry) brings the stub back;
 *   policy   accesses to displaced content are counted per time window, on the guest's
 *            clock (traps handled, relocate.h: RELOC_TICK_NS); a region that is hot makes
 *            the stub move on to another random region, at most once per window,
 *            remembering hot regions so it does not come back (claim 12).
 *   move     conflict_move_stub(): stub_place() rewrites every absolute address in the
 *            stub, shadow_set_stub_base() its mapping in every shadow root, and the
 *            syscall MSRs follow (transport.c);
 * Every move is logged under -d reloc and counted in the statistics.
 */
#include <time.h>

#include "arch/x86.h"
#include "front/exitcode.h"
#include "shadow/conflict.h"
#include "shadow/guestcpu.h"
#include "front/log.h"
#include "shadow/pagewalk.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"
#include "shadow/transport.h"

/* Host time: only measured (time_ns in -stats, -d reloc), never decided on. */
static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

int conflict_move_stub(struct trap *t, uint64_t to)
{
	struct guestcpu *g = t->g;

	stub_place(&g->stub, to);
	shadow_set_stub_base(&g->shadow, to);
	return transport_set_syscall_msrs(t->vcpu, g);
}

/* The policy's clock: the guest's, counted in the traps lodger handled for it. */
static uint64_t guest_clock_ns(const struct guestcpu *g)
{
	return g->stats.by_place[TRAP_IN_VMM] * RELOC_TICK_NS;
}

static const char *access_name(uint32_t access)
{
	return access & PFEC_I ? "fetch" : access & PFEC_W ? "write" : "read";
}

static int move(struct trap *t, uint64_t to, const char *kind, uint64_t la, uint32_t access,
		uint64_t start)
{
	uint64_t from = t->g->stub.base;
	int r = conflict_move_stub(t, to);

	pr_debug(LOG_RELOC, "stub %#llx -> %#llx (%s): guest %s %s at %#llx, rip %#llx, %llu ns",
		 (unsigned long long)from, (unsigned long long)to, kind,
		 t->g->user ? "user" : "kernel", access_name(access), (unsigned long long)la,
		 (unsigned long long)t->regs.rip, (unsigned long long)(now_ns() - start));
	return r;
}

/* Whether the instruction at RIP is popf (any operand size): the one instruction CPL3 code
 * sets or clears TF with (iretq traps: its selectors are not present). */
static bool is_popf(const struct trap *t)
{
	struct gview v = trap_view(t, t->g->user);
	bool compat = t->sregs.cs.selector == STUB_GUEST_USER32_CS;
	uint8_t b[15];
	struct gfault f;
	unsigned n = sizeof(b), i;

	while (n > 1 && !gmem_read(&v, t->regs.rip, b, n, true, &f))
		n--;
	if (!gmem_read(&v, t->regs.rip, b, n, true, &f))
		return false;
	for (i = 0; i < n; i++) { /* legacy prefixes, then REX (not in compatibility mode) */
		uint8_t p = b[i];

		if (p == 0x66 || p == 0x67 || p == 0xf0 || p == 0xf2 || p == 0xf3 || p == 0x26 ||
		    p == 0x2e || p == 0x36 || p == 0x3e || p == 0x64 || p == 0x65)
			continue;
		if (!compat && (p & 0xf0) == 0x40 && i + 1 < n) {
			i++;
			break;
		}
		break;
	}
	return i < n && b[i] == 0x9d;
}

/* Claim 11: run the one instruction with the stub at a temporary second place. */
static int step_begin(struct trap *t, uint64_t la, uint32_t access)
{
	struct guestcpu *g = t->g;
	uint64_t home = g->stub.base, aside = reloc_random_region(&g->reloc, home);

	g->step.active = true;
	g->step.home = home;
	g->step.guest_tf = t->regs.rflags & RFLAGS_TF;
	g->step.popf = is_popf(t);
	g->step.start_ns = now_ns();
	t->regs.rflags |= RFLAGS_TF; /* interrupts stay off for the step: see resume() */
	pr_debug(LOG_RELOC, "displaced %s at %#llx, rip %#llx: one step with the stub at %#llx",
		 access_name(access), (unsigned long long)la, (unsigned long long)t->regs.rip,
		 (unsigned long long)aside);
	return conflict_move_stub(t, aside);
}

int conflict_step_end(struct trap *t)
{
	struct guestcpu *g = t->g;
	struct reloc *r = &g->reloc;
	uint64_t now = now_ns();
	int status;

	g->step.active = false;
	t->regs.rflags = (t->regs.rflags & ~RFLAGS_TF) | (g->step.guest_tf ? RFLAGS_TF : 0);
	status = conflict_move_stub(t, g->step.home);
	r->stats.displaced++;
	r->stats.ns += now - g->step.start_ns;
	if (status || !reloc_hot(r, guest_clock_ns(g)))
		return status;
	/* Claim 12: too many displaced accesses here. An unused region, should the guest
	 * have freed one meanwhile, ends the displacement; else another random region. */
	uint64_t to, from = g->stub.base;

	reloc_note_conflict(r, from);
	r->stats.hot_moves++;
	if (reloc_find_unused(r, &t->vcpu->vm->mem, g->cr3, from, &to)) {
		r->displacing = false;
		r->stats.to_unused++;
		return move(t, to, "hot region left for an unused one", t->regs.rip, PFEC_I, now);
	}
	r->stats.to_random++;
	return move(t, reloc_random_region(r, from), "hot region left for a random one",
		    t->regs.rip, PFEC_I, now);
}

int conflict_step_trap(struct trap *t, bool *done)
{
	int status = 0;

	*done = false;
	if (t->vector == VEC_DB) { /* the step's #DB: the instruction is done */
		struct guestcpu *g = t->g;
		bool was = g->step.guest_tf, now = t->regs.rflags & RFLAGS_TF;

		/* The guest's TF after it: the CPU's, where the guest's TF was set (a popf
		 * that cleared it shows); where lodger set it, the CPU's only after a popf,
		 * which set it itself. */
		g->step.guest_tf = was ? now : now && g->step.popf;
		status = conflict_step_end(t);
		/* unless the guest single-stepped too (TF as it was before the instruction):
		 * its #DB is still due */
		*done = status || !was;
		return status;
	}
	if (t->vector != VEC_PF)
		status = conflict_step_end(t); /* then lodger handles the trap as usual */
	return status;
}

int conflict_handle(struct trap *t, uint64_t la, uint32_t access)
{
	struct guestcpu *g = t->g;
	struct reloc *r = &g->reloc;
	uint64_t from = g->stub.base, to, start = now_ns();
	int status;

	r->stats.conflicts++;
	if (!r->enabled) {
		r->stats.refused++;
		pr_err("vcpu%u: guest access to %#llx falls in the monitor stub's region at %#llx, "
		       "and relocation is off (-machine relocate=off)",
		       t->vcpu->id, (unsigned long long)la, (unsigned long long)from);
		return EXIT_INTERNAL;
	}
	if (g->step.active) /* the step touched the temporary place: another one */
		return conflict_move_stub(t, reloc_random_region(r, g->stub.base));
	if (r->displacing)
		return step_begin(t, la, access);
	reloc_note_conflict(r, from);
	if (reloc_find_unused(r, &t->vcpu->vm->mem, g->cr3, from, &to)) {
		status = move(t, to, "unused region", la, access, start);
		r->stats.to_unused++;
	} else {
		r->displacing = true;
		status = move(t, reloc_random_region(r, from), "random region, content displaced",
			      la, access, start);
		r->stats.to_random++;
	}
	r->stats.ns += now_ns() - start;
	return status;
}
