/* bounce.c - Xen's bounce frames and the iret hypercall, on the guest kernel's stack. */
#include "xen/bounce.h"

#include <string.h>

#include <xen/sched.h>

#include "xen/hypercall.h"

#define RFLAGS_TF   (1ULL << 8)
#define RFLAGS_IF   (1ULL << 9)
#define RFLAGS_DF   (1ULL << 10)
#define RFLAGS_IOPL (3ULL << 12)
#define RFLAGS_NT   (1ULL << 14)
#define RFLAGS_RF   (1ULL << 16)
#define RFLAGS_VM   (1ULL << 17)
#define RFLAGS_AC   (1ULL << 18)
#define RFLAGS_ALL  0x3f7fd5ULL /* every defined flag (Xen's X86_EFLAGS_ALL) */
#define RFLAGS_MBS  (1ULL << 1)

#define VEC_UD 6
#define VEC_PF 14

static int crash(struct xen_vcpu *v)
{
	v->d->shut_down = true;
	v->d->shutdown_reason = SHUTDOWN_crash;
	return -1;
}

/* create_bounce_frame: handler at `rip`, events masked when `mask`. */
static int bounce(struct xen_vcpu *v, uint64_t rip, bool mask, bool has_error, uint32_t error)
{
	struct vcpu_info *vi = xen_vcpu_info(v);
	struct xen_regs *r = &v->regs;
	uint64_t frame[8], sp, cs = r->cs, rflags;
	uint8_t saved_mask;
	unsigned n = 0;

	if (!rip || !vi)
		return crash(v);
	if (v->kernel_mode) {
		sp = r->rsp;
		cs &= ~3ULL; /* tells the guest it interrupted its kernel */
	} else {
		v->kernel_mode = true; /* the core switches root and GS base */
		sp = v->kernel_sp;
	}
	sp &= ~0xfULL;
	/* Xen: a stack in (or just above) its private area crashes the domain */
	if (sp > __HYPERVISOR_VIRT_START && sp < __HYPERVISOR_VIRT_END + 64)
		return crash(v);
	saved_mask = vi->evtchn_upcall_mask;
	if (mask)
		vi->evtchn_upcall_mask = 1;
	rflags = r->rflags & ~(RFLAGS_IF | RFLAGS_IOPL);
	if (!saved_mask)
		rflags |= RFLAGS_IF;
	if (v->d->vm_assist & 1UL << VMASST_TYPE_architectural_iopl)
		rflags |= (uint64_t)v->iopl << 12;
	frame[n++] = r->rcx;
	frame[n++] = r->r11;
	if (has_error)
		frame[n++] = error;
	frame[n++] = r->rip;
	frame[n++] = cs | (uint64_t)saved_mask << 32;
	frame[n++] = rflags;
	frame[n++] = r->rsp;
	frame[n++] = r->ss;
	sp -= n * 8;
	if (xen_copy_to_guest(v, sp, frame, n * 8))
		return crash(v);
	r->rflags &= ~(RFLAGS_AC | RFLAGS_VM | RFLAGS_RF | RFLAGS_NT | RFLAGS_TF);
	r->ss = FLAT_KERNEL_SS;
	r->rsp = sp;
	r->cs = FLAT_KERNEL_CS;
	r->rip = rip;
	return 0;
}

int xen_bounce_exception(struct xen_vcpu *v, unsigned vector, bool has_error, uint32_t error,
			 uint64_t cr2)
{
	const struct trap_info *t;

	if (vector > 255)
		return crash(v);
	t = &v->traps[vector];
	if (vector == VEC_PF) {
		struct vcpu_info *vi = xen_vcpu_info(v);

		if (vi)
			vi->arch.cr2 = cr2; /* PV kernels read CR2 from here */
	}
	/* TI_GET_IF: bit 2 of the flags masks events in the handler */
	return bounce(v, t->address, t->flags & 4, has_error, error);
}

bool xen_event_pending(struct xen_vcpu *v)
{
	struct vcpu_info *vi = xen_vcpu_info(v);

	return vi && vi->evtchn_upcall_pending && !vi->evtchn_upcall_mask;
}

int xen_deliver_event(struct xen_vcpu *v)
{
	return bounce(v, v->event_cb, true, false, 0);
}

int xen_bounce_syscall(struct xen_vcpu *v)
{
	int r;

	if (!v->syscall_cb) {
		/* no callback: #UD at the syscall instruction, DF kept */
		v->regs.rip -= 2;
		return xen_bounce_exception(v, VEC_UD, false, 0, 0);
	}
	r = bounce(v, v->syscall_cb, v->syscall_mask, false, 0);
	v->regs.rflags &= ~RFLAGS_DF; /* the PV ABI's fixed syscall mask */
	return r;
}

int xen_iret(struct xen_vcpu *v)
{
	struct iret_context c;
	struct vcpu_info *vi = xen_vcpu_info(v);
	struct xen_regs *r = &v->regs;

	if (xen_copy_from_guest(v, &c, r->rsp, sizeof(c)))
		return crash(v);
	if ((c.cs & 3) == 3) {
		if (!v->user_cr3)
			return crash(v); /* "switching to user mode with no user page tables" */
		v->kernel_mode = false;
	}
	if (v->d->vm_assist & 1UL << VMASST_TYPE_architectural_iopl)
		v->iopl = (c.rflags & RFLAGS_IOPL) >> 12;
	r->rip = c.rip;
	r->cs = (uint16_t)(c.cs | 3);
	r->rflags = (c.rflags & RFLAGS_ALL & ~(RFLAGS_IOPL | RFLAGS_VM)) | RFLAGS_IF | RFLAGS_MBS;
	r->rsp = c.rsp;
	r->ss = (uint16_t)(c.ss | 3);
	if (!(c.flags & VGCF_in_syscall)) {
		r->r11 = c.r11;
		r->rcx = c.rcx;
	}
	if (vi)
		vi->evtchn_upcall_mask = !(c.rflags & RFLAGS_IF);
	r->rax = c.rax;
	return 0;
}
