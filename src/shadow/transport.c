/*
 * transport.c - the guest's registers to and from KVM, and the resumption of the guest.
 */
#include "shadow/transport.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "arch/x86.h"
#include "front/exitcode.h"
#include "front/log.h"
#include "front/phase.h"
#include "kvm/kvm.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"
#include "lodger/stub_abi.h"
#include "shadow/guestcpu.h"
#include "shadow/park.h"
#include "shadow/personality.h"

#define SYNC_REGS (KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS)

static bool sync_regs(const struct vcpu *vcpu)
{
	return (vcpu->run->kvm_valid_regs & SYNC_REGS) == SYNC_REGS;
}

int transport_load(struct trap *t)
{
	struct vcpu *vcpu = t->vcpu;
	uint64_t start = phase_now();
	int r = 0;

	if (sync_regs(vcpu)) {
		t->regs = vcpu->run->s.regs.regs;
		t->sregs = vcpu->run->s.regs.sregs;
	} else if (kvm_ioctl(vcpu->fd, KVM_GET_REGS, &t->regs) < 0 ||
		   kvm_ioctl(vcpu->fd, KVM_GET_SREGS, &t->sregs) < 0) {
		r = EXIT_HOST_ERROR;
	}
	phase_end(vcpu->phases, PHASE_REGS, start);
	return r;
}

int transport_load_regs(struct trap *t)
{
	struct vcpu *vcpu = t->vcpu;

	if (sync_regs(vcpu)) {
		t->regs = vcpu->run->s.regs.regs;
		return 0;
	}
	return kvm_ioctl(vcpu->fd, KVM_GET_REGS, &t->regs) < 0 ? EXIT_HOST_ERROR : 0;
}

int transport_complete_out(struct vcpu *vcpu)
{
	uint64_t start = phase_now();

	vcpu->run->kvm_dirty_regs = 0; /* nothing of lodger's may go in before the completion */
	vcpu->run->immediate_exit = 1;
	if (kvm_raw_ioctl(vcpu->fd, KVM_RUN, 0) < 0 && errno != EINTR) {
		pr_err("vcpu%u: KVM_RUN (completing the stub exit): %s", vcpu->id, strerror(errno));
		return EXIT_HOST_ERROR;
	}
	vcpu->run->immediate_exit = 0;
	phase_end(vcpu->phases, PHASE_COMPLETE, start);
	return 0;
}

int transport_commit(struct trap *t)
{
	struct kvm_run *run = t->vcpu->run;
	struct guestcpu *g = t->g;
	uint64_t start;
	int r = 0;

	/* KVM still holds the stub's `out` (stubexit.c) and moves RIP past it at the next
	 * KVM_RUN only if RIP is still there; were lodger to resume at that very address, the
	 * completion must come first. */
	if (g->out_pending && t->regs.rip == g->out_rip) {
		r = transport_complete_out(t->vcpu);
		if (r)
			return r;
	}
	g->out_pending = false;
	start = phase_now();
	if (sync_regs(t->vcpu)) {
		run->s.regs.regs = t->regs;
		run->s.regs.sregs = t->sregs;
		run->kvm_dirty_regs |= SYNC_REGS;
	} else if (kvm_ioctl(t->vcpu->fd, KVM_SET_SREGS, &t->sregs) < 0 ||
		   kvm_ioctl(t->vcpu->fd, KVM_SET_REGS, &t->regs) < 0) {
		r = EXIT_HOST_ERROR;
	}
	phase_end(t->vcpu->phases, PHASE_REGS, start);
	return r;
}

/* The interrupt shadow of sti: the instruction after it runs before any interrupt. */
static int set_sti_shadow(struct vcpu *vcpu)
{
	struct kvm_vcpu_events ev;

	if (kvm_ioctl(vcpu->fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
		return EXIT_HOST_ERROR;
	ev.flags = KVM_VCPUEVENT_VALID_SHADOW;
	ev.interrupt.shadow = KVM_X86_SHADOW_INT_STI;
	return kvm_ioctl(vcpu->fd, KVM_SET_VCPU_EVENTS, &ev) < 0 ? EXIT_HOST_ERROR : 0;
}

/*
 * Whether the stub can make KVM current on the way back to the guest (transport_resume)
 * instead of a memslot re-registration now: its TLB flush where KVM walks the tables in
 * hardware; where KVM shadows them itself, its writes of the zap log, then the flush.
 */
static bool tlb_flush_will_do(const struct guestcpu *g)
{
	if (g->tlb_flush_in_stub)
		return !g->shadow.kvm_stale_stub;
	if (!shadow_zap_ready(&g->shadow) || !g->pool_window)
		return false;
	/* The stub leaves the window empty; an entry left (a zap run that never finished)
	 * may still be in KVM, and re-pointing it unseen would send the writes astray. */
	for (unsigned i = 0; i < STUB_POOL_SLOTS; i++)
		if (g->pool_window[i])
			return false;
	return true;
}

int transport_sync_kvm(struct trap *t)
{
	struct shadow *s = &t->g->shadow;

	int r;

	if (!s->kvm_stale || tlb_flush_will_do(t->g))
		return 0;
	s->stats.kvm_flushes++;
	r = guestcpu_flush_kvm(t->vcpu);
	if (!r)
		shadow_kvm_flushed(s);
	return r;
}

static bool stub_flush_due(const struct guestcpu *g)
{
	return g->shadow.kvm_stale && tlb_flush_will_do(g);
}

/* iretq to CPL3 empties a data segment register whose DPL is below 3. */
static bool kept_by_iretq(const struct kvm_segment *seg)
{
	return seg->unusable || !(seg->selector & ~3) || seg->dpl == 3;
}

/*
 * Whether the stub may go back to the guest itself after its flush, with iretq: only
 * where that gives the guest exactly what KVM_SET_SREGS would. iretq loads CS and SS from
 * the GDT, where only the kernel's aliases are present (the guest's own selectors are not:
 * stub_abi.h), so a kernel resumed on them (Xen PV); it cannot give an sti's interrupt
 * shadow; and it must keep every data segment.
 */
static bool stub_may_return(const struct trap *t)
{
	const struct kvm_sregs *s = &t->sregs;

	/* A non-canonical RSP may fault in the iretq itself, inside the stub, on some CPUs;
	 * KVM_SET_REGS takes it and the guest meets its own #SS. */
	return !t->g->user && !t->sti_shadow && t->g->stub.aliases && canonical(t->regs.rsp) &&
	       s->cs.selector == STUB_ALIAS_KERNEL_CS && s->ss.selector == STUB_ALIAS_KERNEL_DS &&
	       kept_by_iretq(&s->ds) && kept_by_iretq(&s->es) && kept_by_iretq(&s->fs) &&
	       kept_by_iretq(&s->gs);
}

/* The flush the stub is about to do is as good as done: nothing but the stub runs before
 * it, and lodger touches no shadow table meanwhile (an NMI there is only held). */
static void kvm_made_current(struct guestcpu *g)
{
	g->shadow.stats.kvm_flushes++;
	if (!g->tlb_flush_in_stub) {
		g->shadow.stats.kvm_zaps++;
		shadow_kvm_zapped(&g->shadow);
		return;
	}
	g->shadow.stats.kvm_tlb_flushes++;
	shadow_kvm_flushed(&g->shadow);
}

/*
 * The stub flushes, then returns to the guest with iretq (STUB_TLB_FLUSH_RET,
 * STUB_ZAP_RET): no exit. KVM gets the guest's registers but those the stub's code uses,
 * which go on the stub's stack with the frame iretq pops (struct stub_ret_frame).
 */
static int flush_and_return_in_stub(struct trap *t)
{
	struct guestcpu *g = t->g;
	struct stub_ret_frame *f = stub_ret_frame(&g->stub);
	bool zap = !g->tlb_flush_in_stub;

	*f = (struct stub_ret_frame){.rcx = t->regs.rcx,
				     .rdx = t->regs.rdx,
				     .rsi = t->regs.rsi,
				     .rdi = t->regs.rdi,
				     .rax = t->regs.rax,
				     .rip = t->regs.rip,
				     .cs = t->sregs.cs.selector,
				     .rflags = t->regs.rflags,
				     .rsp = t->regs.rsp,
				     .ss = t->sregs.ss.selector};
	if (zap)
		shadow_zap_export(&g->shadow, stub_zap_log(&g->stub), g->pool_window);
	kvm_made_current(g);
	g->shadow.stats.kvm_flush_returns++;
	t->regs.rip = stub_linear(&g->stub, STUB_CODE + (zap ? STUB_ZAP_RET : STUB_TLB_FLUSH_RET));
	t->regs.rsp =
		stub_linear(&g->stub, STUB_STACK_TOP - sizeof(*f) +
					      (zap ? 0 : offsetof(struct stub_ret_frame, rax)));
	t->regs.rflags = RFLAGS_FIXED;
	t->sregs.cs = cpu_flat_segment(STUB_CS, true, true);
	t->sregs.ss = cpu_flat_segment(STUB_DS, false, false);
	return transport_commit(t);
}

/*
 * KVM walks the shadow tables in hardware (EPT/NPT), so what the CPU may still hold is
 * only its TLB: the stub reloads CR3 at CPL0 (STUB_TLB_FLUSH). Where KVM shadows the
 * tables itself, the stub first writes each removed entry again (STUB_ZAP, the zap log):
 * KVM sees those writes and drops what it derived from them. Either is one trip through
 * the stub where a memslot re-registration makes KVM tear down and rebuild its own
 * tables. The stub then returns to the guest itself where it can (above); elsewhere it
 * exits, and the guest resumes from there (transport_finish_tlb_flush) with the registers
 * t holds now.
 */
static int flush_then_resume(struct trap *t)
{
	struct guestcpu *g = t->g;

	if (stub_may_return(t))
		return flush_and_return_in_stub(t);
	g->saved = t->regs;
	g->saved_sregs = t->sregs;
	g->flush_sti_shadow = t->sti_shadow;
	g->flush_pending = true;
	t->regs.rip = stub_linear(&g->stub, STUB_CODE + STUB_TLB_FLUSH);
	if (!g->tlb_flush_in_stub) {
		shadow_zap_export(&g->shadow, stub_zap_log(&g->stub), g->pool_window);
		t->regs.rip = stub_linear(&g->stub, STUB_CODE + STUB_ZAP);
	}
	t->regs.rsp = stub_linear(&g->stub, STUB_STACK_TOP);
	t->regs.rflags = RFLAGS_FIXED;
	t->sregs.cs = cpu_flat_segment(STUB_CS, true, true);
	t->sregs.ss = cpu_flat_segment(STUB_DS, false, false);
	return transport_commit(t);
}

/* What a guest-kernel cli/sti does in the stub's #GP fast path (personality.h). */
static unsigned kernel_cli_sti(const struct guestcpu *g)
{
	if (g->pers->kernel_cli_sti)
		return g->pers->kernel_cli_sti(g);
	return g->pers->kernel_if_is_real ? STUB_CLI_STI_FLIP_IF : STUB_CLI_STI_LODGER;
}

int transport_resume(struct trap *t)
{
	struct guestcpu *g = t->g;
	struct shadow_guest_mode mode = {.wp = g->cr0 & CR0_WP, .nxe = g->efer & EFER_NXE};
	uint64_t root;

	/* The guest's #PF handler fixed its tables: fill the entry before it retries. */
	shadow_prefill(&g->shadow, g->cr3, g->user, &mode);
	root = shadow_root(&g->shadow, g->cr3, g->user, false);
	bool real_if;
	int r;

	/* An instruction ending at the last byte of the lower half leaves RIP non-canonical:
	 * the next fetch is the guest's #GP(0) (hardware KVM fails to enter there). */
	if (!canonical(t->regs.rip)) {
		r = personality_deliver(t, VEC_GP, EV_EXCEPTION, true, 0);
		if (r)
			return r;
		root = shadow_root(&g->shadow, g->cr3, g->user, false);
	}
	real_if = g->user || g->vif || !g->pers->kernel_if_is_real;
	r = transport_sync_kvm(t);
	if (!root) {
		pr_err("vcpu%u: out of shadow page-table memory", t->vcpu->id);
		return EXIT_HOST_ERROR;
	}
	if (r)
		return r;
	t->sregs.cr3 = root;
	stub_load_tables(&g->stub, &t->sregs);
	stub_set_guest_mode(&g->stub, g->user);
	stub_set_kernel_cli_sti(&g->stub, kernel_cli_sti(g));
	/* IOPL 0 so cli/sti/in/out trap; IF is the guest's in kernel mode, always on in user
	 * mode (where the guest cannot clear it). */
	t->regs.rflags = (t->regs.rflags & ~(RFLAGS_IF | RFLAGS_IOPL | RFLAGS_NT | RFLAGS_VM)) |
			 RFLAGS_FIXED | (real_if ? RFLAGS_IF : 0);
	if (stub_flush_due(g))
		return flush_then_resume(t);
	r = transport_commit(t);
	if (r)
		return r;
	return t->sti_shadow ? set_sti_shadow(t->vcpu) : 0;
}

int transport_finish_tlb_flush(struct trap *t)
{
	struct guestcpu *g = t->g;

	g->flush_pending = false;
	park_give_back(t);
	t->sti_shadow = g->flush_sti_shadow;
	/* Nothing ran between the stub's CR3 reload and here but the stub. */
	kvm_made_current(g);
	return 0;
}

int transport_set_syscall_msrs(struct vcpu *vcpu, struct guestcpu *g)
{
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e[4];
	} msrs = {.h.nmsrs = 4};
	uint64_t entry = stub_linear(&g->stub, STUB_CODE + STUB_SYSCALL_ENTRY);
	int r;

	/* Hardware KVM: syscall enters the stub at CPL0 with IF, TF, DF, IOPL, AC and NT
	 * clear. */
	msrs.e[0] = (struct kvm_msr_entry){.index = MSR_STAR,
					   .data = (uint64_t)STUB_CS << 32 |
						   (uint64_t)STUB_GUEST_USER32_CS << 48};
	msrs.e[1] = (struct kvm_msr_entry){.index = MSR_LSTAR, .data = entry};
	msrs.e[2] = (struct kvm_msr_entry){.index = MSR_CSTAR, .data = entry};
	msrs.e[3] = (struct kvm_msr_entry){.index = MSR_FMASK,
					   .data = RFLAGS_TF | RFLAGS_IF | RFLAGS_DF | RFLAGS_IOPL |
						   RFLAGS_NT | RFLAGS_AC};
	r = kvm_ioctl(vcpu->fd, KVM_SET_MSRS, &msrs);
	if (r == 4)
		return 0;
	if (r >= 0)
		pr_err("vcpu%u: KVM_SET_MSRS: KVM took %d of the 4 syscall MSRs", vcpu->id, r);
	return EXIT_HOST_ERROR;
}
