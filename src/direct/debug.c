/* debug.c - direct mode's side of the GDB stub (gdb/target.h). */
#include "direct/debug.h"

#include <string.h>

#include "arch/x86.h"
#include "front/exitcode.h"
#include "front/log.h"
#include "gdb/server.h"
#include "kvm/kvm.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"

/* The guest as it stands at one stop. */
struct stopped {
	struct vcpu *vcpu;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	bool dirty;
};

static int get_regs(void *ctx, struct gdb_regs *r)
{
	const struct stopped *s = ctx;
	const struct kvm_regs *k = &s->regs;
	const struct kvm_sregs *sr = &s->sregs;

	*r = (struct gdb_regs){
		.gpr = {k->rax, k->rbx, k->rcx, k->rdx, k->rsi, k->rdi, k->rbp, k->rsp, k->r8,
			k->r9, k->r10, k->r11, k->r12, k->r13, k->r14, k->r15},
		.rip = k->rip,
		.eflags = (uint32_t)k->rflags,
		.seg = {sr->cs.selector, sr->ss.selector, sr->ds.selector, sr->es.selector,
			sr->fs.selector, sr->gs.selector},
		.fs_base = sr->fs.base,
		.gs_base = sr->gs.base,
		.cr0 = sr->cr0,
		.cr2 = sr->cr2,
		.cr3 = sr->cr3,
		.cr4 = sr->cr4,
		.cr8 = sr->cr8,
		.efer = sr->efer,
	};
	return 0;
}

static int set_regs(void *ctx, const struct gdb_regs *r)
{
	struct stopped *s = ctx;
	struct kvm_regs *k = &s->regs;

	k->rax = r->gpr[0], k->rbx = r->gpr[1], k->rcx = r->gpr[2], k->rdx = r->gpr[3];
	k->rsi = r->gpr[4], k->rdi = r->gpr[5], k->rbp = r->gpr[6], k->rsp = r->gpr[7];
	k->r8 = r->gpr[8], k->r9 = r->gpr[9], k->r10 = r->gpr[10], k->r11 = r->gpr[11];
	k->r12 = r->gpr[12], k->r13 = r->gpr[13], k->r14 = r->gpr[14], k->r15 = r->gpr[15];
	k->rip = r->rip;
	/* Bit 1 is always set; TF stays the guest's (the debugger steps through KVM). */
	k->rflags = (r->eflags | RFLAGS_FIXED) & ~(uint64_t)RFLAGS_TF;
	k->rflags |= s->regs.rflags & RFLAGS_TF;
	s->dirty = true;
	return 0;
}

static int access_mem(struct stopped *s, uint64_t la, void *buf, size_t len, bool write)
{
	struct guest_mem *mem = &s->vcpu->vm->mem;

	if (!(s->sregs.cr0 & CR0_PG)) { /* no paging: linear is physical */
		void *p = gpa_ptr_guest(mem, la, len);

		if (!p)
			return -1;
		write ? memcpy(p, buf, len) : memcpy(buf, p, len);
		return 0;
	}
	return gdb_linear_access(mem, s->sregs.cr3, la, buf, len, write);
}

static int read_mem(void *ctx, uint64_t la, void *buf, size_t len)
{
	return access_mem(ctx, la, buf, len, false);
}

static int write_mem(void *ctx, uint64_t la, const void *buf, size_t len)
{
	return access_mem(ctx, la, (void *)buf, len, true);
}

static const struct gdb_target_ops direct_target = {
	.get_regs = get_regs,
	.set_regs = set_regs,
	.read_mem = read_mem,
	.write_mem = write_mem,
};

/* KVM traps the int3s lodger plants and steps the guest, without touching its TF. */
static int arm(struct vcpu *vcpu, const struct gdb *gdb, enum gdb_action act)
{
	struct kvm_guest_debug dbg;

	memset(&dbg, 0, sizeof(dbg));
	if (act == GDB_ACT_STEP || (act == GDB_ACT_CONTINUE && gdb_breakpoints(gdb)))
		dbg.control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_SW_BP |
			      (act == GDB_ACT_STEP ? KVM_GUESTDBG_SINGLESTEP : 0);
	return kvm_ioctl(vcpu->fd, KVM_SET_GUEST_DEBUG, &dbg) < 0 ? EXIT_HOST_ERROR : 0;
}

static int stop(struct vcpu *vcpu, int signal, bool swbreak)
{
	struct stopped s = {.vcpu = vcpu};
	struct gdb_target t = {.ops = &direct_target, .ctx = &s};
	enum gdb_action act;

	if (kvm_ioctl(vcpu->fd, KVM_GET_REGS, &s.regs) < 0 ||
	    kvm_ioctl(vcpu->fd, KVM_GET_SREGS, &s.sregs) < 0)
		return EXIT_HOST_ERROR;
	act = gdb_stop(vcpu->vm->gdb, &t, signal, swbreak);
	if (s.dirty && kvm_ioctl(vcpu->fd, KVM_SET_REGS, &s.regs) < 0)
		return EXIT_HOST_ERROR;
	if (act == GDB_ACT_KILL) {
		pr_err("vcpu%u: killed by the debugger", vcpu->id);
		vm_request_exit(vcpu->vm, EXIT_USER_QUIT);
		return 0;
	}
	return arm(vcpu, vcpu->vm->gdb, act);
}

int direct_debug_stop(struct vcpu *vcpu)
{
	return stop(vcpu, GDB_SIGINT, false);
}

/* The guest's own int3 goes to the guest: a #BP injected at the int3, as if KVM had not
 * intercepted it. */
static int reinject_bp(struct vcpu *vcpu)
{
	struct kvm_vcpu_events ev;

	if (kvm_ioctl(vcpu->fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
		return EXIT_HOST_ERROR;
	ev.exception.injected = 1;
	ev.exception.nr = VEC_BP;
	ev.exception.has_error_code = 0;
	ev.flags = 0;
	return kvm_ioctl(vcpu->fd, KVM_SET_VCPU_EVENTS, &ev) < 0 ? EXIT_HOST_ERROR : 0;
}

int direct_debug_exit(struct vcpu *vcpu)
{
	const struct kvm_debug_exit_arch *d = &vcpu->run->debug.arch;
	struct gdb *gdb = vcpu->vm->gdb;

	if (!gdb)
		return EXIT_INTERNAL;
	pr_debug(LOG_STUB, "gdb: debug exit, exception %u at %#llx", d->exception,
		 (unsigned long long)d->pc);
	if (d->exception == VEC_BP)
		return gdb_breakpoint(gdb, d->pc) ? stop(vcpu, GDB_SIGTRAP, true)
						  : reinject_bp(vcpu);
	if (d->exception == VEC_DB && gdb_stepping(gdb))
		return stop(vcpu, GDB_SIGTRAP, false);
	return 0; /* a step the debugger no longer wants */
}
