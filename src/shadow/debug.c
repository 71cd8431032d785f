/* debug.c - shadow mode's side of the GDB stub (gdb/target.h). */
#include "shadow/debug.h"

#include "arch/x86.h"
#include "front/exitcode.h"
#include "front/log.h"
#include "gdb/server.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"
#include "lodger/stub_abi.h"
#include "shadow/guestcpu.h"
#include "shadow/transport.h"

/* CF, PF, AF, ZF, SF, OF */
#define STATUS_FLAGS 0x8d5ULL

/* The guest's RFLAGS: IF is its virtual IF in kernel mode; the debugger's TF is not its. */
static uint64_t guest_rflags(const struct trap *t)
{
	const struct guestcpu *g = t->g;
	uint64_t f = t->regs.rflags;

	if (!g->user)
		f = (f & ~RFLAGS_IF) | (g->vif ? RFLAGS_IF : 0);
	return f;
}

static int get_regs(void *ctx, struct gdb_regs *r)
{
	const struct trap *t = ctx;
	const struct kvm_regs *k = &t->regs;
	const struct kvm_sregs *sr = &t->sregs;
	const struct guestcpu *g = t->g;

	*r = (struct gdb_regs){
		.gpr = {k->rax, k->rbx, k->rcx, k->rdx, k->rsi, k->rdi, k->rbp, k->rsp, k->r8,
			k->r9, k->r10, k->r11, k->r12, k->r13, k->r14, k->r15},
		.rip = k->rip,
		.eflags = (uint32_t)guest_rflags(t),
		/* CS and SS are those of the guest's mode (trap_set_mode), never the stub's */
		.seg = {sr->cs.selector, sr->ss.selector, sr->ds.selector, sr->es.selector,
			sr->fs.selector, sr->gs.selector},
		.fs_base = sr->fs.base,
		.gs_base = sr->gs.base,
		.cr0 = g->cr0,
		.cr2 = g->cr2,
		.cr3 = g->cr3,
		.cr4 = g->cr4,
		.cr8 = g->cr8,
		.efer = g->efer,
	};
	return 0;
}

static int set_regs(void *ctx, const struct gdb_regs *r)
{
	struct trap *t = ctx;
	struct kvm_regs *k = &t->regs;
	struct guestcpu *g = t->g;

	k->rax = r->gpr[0], k->rbx = r->gpr[1], k->rcx = r->gpr[2], k->rdx = r->gpr[3];
	k->rsi = r->gpr[4], k->rdi = r->gpr[5], k->rbp = r->gpr[6], k->rsp = r->gpr[7];
	k->r8 = r->gpr[8], k->r9 = r->gpr[9], k->r10 = r->gpr[10], k->r11 = r->gpr[11];
	k->r12 = r->gpr[12], k->r13 = r->gpr[13], k->r14 = r->gpr[14], k->r15 = r->gpr[15];
	k->rip = r->rip;
	/* The flags the guest may hold; IF in kernel mode is its virtual IF (the transport
	 * makes the real one), IOPL and the rest stay lodger's. */
	const uint64_t mine = STATUS_FLAGS | RFLAGS_DF | RFLAGS_AC;

	k->rflags = (k->rflags & ~mine) | (r->eflags & mine);
	k->rflags = (k->rflags & ~RFLAGS_TF) | (r->eflags & RFLAGS_TF);
	if (!g->user)
		g->vif = r->eflags & RFLAGS_IF;
	return 0;
}

static int read_mem(void *ctx, uint64_t la, void *buf, size_t len)
{
	const struct trap *t = ctx;

	/* The guest's own tables: the stub's region reads as what the guest put there. */
	return gdb_linear_access(&t->vcpu->vm->mem, t->g->cr3, la, buf, len, false);
}

static int write_mem(void *ctx, uint64_t la, const void *buf, size_t len)
{
	const struct trap *t = ctx;

	return gdb_linear_access(&t->vcpu->vm->mem, t->g->cr3, la, (void *)buf, len, true);
}

static const struct gdb_target_ops shadow_target = {
	.get_regs = get_regs,
	.set_regs = set_regs,
	.read_mem = read_mem,
	.write_mem = write_mem,
};

/* Serves the debugger with t as the guest's context; arms a step. */
static int stop(struct trap *t, int signal, bool swbreak)
{
	struct gdb_target target = {.ops = &shadow_target, .ctx = t};
	struct guestcpu *g = t->g;
	enum gdb_action act;

	/* Whatever stopped, the debugger's TF is off while it looks. */
	shadow_debug_entry(t);
	g->dbg.armed = false;
	act = gdb_stop(t->vcpu->vm->gdb, &target, signal, swbreak);
	if (act == GDB_ACT_KILL) {
		pr_err("vcpu%u: killed by the debugger", t->vcpu->id);
		return EXIT_USER_QUIT;
	}
	return 0;
}

/* Arms (or keeps armed) the debugger's step on the context about to resume. */
static void arm_step(struct trap *t)
{
	struct guestcpu *g = t->g;

	if (!gdb_stepping(t->vcpu->vm->gdb)) {
		g->dbg.armed = false;
		return;
	}
	if (!g->dbg.armed)
		g->dbg.guest_tf = t->regs.rflags & RFLAGS_TF;
	g->dbg.armed = true;
	t->regs.rflags |= RFLAGS_TF;
}

void shadow_debug_entry(struct trap *t)
{
	const struct guestcpu *g = t->g;

	if (g->dbg.armed)
		t->regs.rflags = (t->regs.rflags & ~RFLAGS_TF) | (g->dbg.guest_tf ? RFLAGS_TF : 0);
}

int shadow_debug_trap(struct trap *t, bool *claimed)
{
	struct gdb *gdb = t->vcpu->vm->gdb;
	struct guestcpu *g = t->g;

	*claimed = false;
	if (!gdb || g->step.active)
		return 0;
	/* #BP through the stub's DPL-3 gate: RIP past the int3 */
	if (t->vector == VEC_BP && gdb_breakpoint(gdb, t->regs.rip - 1)) {
		t->regs.rip -= 1;
		*claimed = true;
	} else if (t->vector == VEC_DB && g->dbg.armed) {
		/* Under the guest's own TF the #DB is the guest's too: it gets it, and the
		 * step ends when it is delivered (shadow_debug_resume). */
		if (g->dbg.guest_tf)
			return 0;
		*claimed = true;
		return stop(t, GDB_SIGTRAP, false);
	}
	if (!*claimed)
		return 0;
	pr_debug(LOG_STUB, "gdb: breakpoint at %#llx", (unsigned long long)t->regs.rip);
	return stop(t, GDB_SIGTRAP, true);
}

int shadow_debug_resume(struct trap *t, bool progressed)
{
	struct gdb *gdb = t->vcpu->vm->gdb;
	int r = 0;

	if (!gdb || t->g->step.active)
		return 0;
	if (t->g->dbg.armed && progressed)
		r = stop(t, GDB_SIGTRAP, false); /* an emulated instruction, a delivered event */
	else if (gdb_stop_requested(gdb))
		r = stop(t, GDB_SIGINT, false);
	if (!r)
		arm_step(t);
	return r;
}

int shadow_debug_stop(struct vcpu *vcpu)
{
	struct trap t = {.vcpu = vcpu, .g = vcpu->guest};
	int r;

	if (!t.g)
		return 0;
	r = transport_load(&t);
	if (r)
		return r;
	/* In the stub (parked, or between a trap and its exit) the guest's context is not
	 * whole: the request waits for the next trap (shadow_debug_resume). */
	if (t.sregs.cs.selector == STUB_CS)
		return 0;
	trap_set_mode(&t, t.g->user);
	r = stop(&t, GDB_SIGINT, false);
	if (!r)
		arm_step(&t);
	return r ? r : transport_resume(&t);
}
