/*
 * privop.c - emulating what a shadow-mode guest kernel may do but cannot at CPL3.
 *
 * The guest kernel runs at real CPL3 with IOPL 0 and its segment descriptors kept not
 * present (stub_abi.h), so its privileged instructions, port I/O and segment loads trap
 * (#GP, #NP, #UD on kvm_pvm for int n). lodger decodes the instruction at the guest's
 * RIP (Zydis) and gives it the architectural result on the guest's virtual CPU: control
 * and debug registers, descriptor-table registers, MSRs, the interrupt flag, hlt,
 * syscall/sysret/iretq/lret transitions between the guest's kernel and user modes, and
 * software interrupts through the guest's IDT. In guest user mode the same instructions
 * fault as they would on hardware (a handler returning NOT_MINE delivers the original
 * exception), except the ones user mode may use (int n, iretq, segment loads, and
 * sgdt/sidt/sldt/str/smsw unless the guest set CR4.UMIP).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "front/exitcode.h"
#include "native/privop.h"
#include "native/reflect.h"
#include "shadow/apicmmio.h"
#include "shadow/guestcpu.h"
#include "shadow/park.h"
#include "kvm/io.h"
#include "kvm/kvm.h"
#include "front/log.h"
#include "front/phase.h"
#include "lodger/boot.h"
#include "lodger/stub_abi.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"
#include "arch/x86.h"
#include "arch/x86dec.h"

/* CR4 bits a guest may set: DE PSE PAE MCE PGE PCE OSFXSR OSXMMEXCPT UMIP, and SMEP where
 * its CPUID offers it (the shadow fill honours it). Every other bit is #GP, and the CPUID
 * a shadow-mode guest sees hides the features behind them (src/boot/cpu.c). */
#define CR4_ALLOWED                                                                                \
	(CR4_DE | CR4_PSE | CR4_PAE | CR4_MCE | CR4_PGE | CR4_PCE | CR4_OSFXSR | CR4_OSXMMEXCPT |  \
	 CR4_UMIP)
#define CR4_TRANSLATION (CR4_PSE | CR4_PAE | CR4_PGE | CR4_SMEP)

/* What a handler did. */
enum {
	DONE = 1,    /* emulated: resume at the updated state */
	NOT_MINE = 0 /* the original exception is the guest's */
};

struct op {
	struct trap *t;
	ZydisDecodedInstruction in;
	ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
	bool kernel; /* the guest is in kernel mode */
	int status;  /* an exit status met on the way */
};

/* CPUID.(7,0):EBX.SMEP of the vCPU, as lodger set it. */
static bool cpuid_offers_smep(struct vcpu *vcpu)
{
	enum { N = 1024 }; /* KVM_GET_CPUID2 fails (E2BIG) on a short buffer */
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + N * sizeof(c->entries[0]));
	bool smep = false;

	if (!c)
		return false;
	c->nent = N;
	if (ioctl(vcpu->fd, KVM_GET_CPUID2, c) == 0)
		for (unsigned i = 0; i < c->nent && i < N; i++)
			if (c->entries[i].function == 7 && c->entries[i].index == 0)
				smep = c->entries[i].ebx & (1u << 7);
	free(c);
	return smep;
}

/* Raises `vector` in the guest instead of completing the instruction. */
static int fault(struct op *o, unsigned vector, uint32_t error)
{
	o->status = reflect_event(o->t, vector, x86_has_error_code(vector), error, EV_EXCEPTION);
	return DONE;
}

static int mem_fault(struct op *o, const struct gfault *f)
{
	o->status = reflect_fault(o->t, f);
	return DONE;
}

static int next(struct op *o)
{
	o->t->regs.rip += o->in.length;
	return DONE;
}

static struct gview view(struct op *o)
{
	return trap_view(o->t, !o->kernel);
}

/* Reads or writes operand `i` (register or memory) of `size` bytes. */
static bool operand_read(struct op *o, unsigned i, uint64_t *v, unsigned size, struct gfault *f)
{
	const ZydisDecodedOperand *op = &o->ops[i];
	uint64_t la;

	*v = 0;
	if (op->type == ZYDIS_OPERAND_TYPE_REGISTER) {
		*f = (struct gfault){.vector = VEC_UD};
		return x86_reg_get(&o->t->regs, op->reg.value, v);
	}
	if (op->type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
		*v = op->imm.value.u;
		return true;
	}
	if (!x86_operand_address(&o->t->regs, &o->t->sregs, &o->in, op, &la)) {
		*f = (struct gfault){.vector = VEC_UD};
		return false;
	}
	struct gview v_ = view(o);

	return gmem_read(&v_, la, v, size, false, f);
}

static bool operand_write(struct op *o, unsigned i, uint64_t v, unsigned size, struct gfault *f)
{
	const ZydisDecodedOperand *op = &o->ops[i];
	uint64_t la;

	if (op->type == ZYDIS_OPERAND_TYPE_REGISTER) {
		*f = (struct gfault){.vector = VEC_UD};
		return x86_reg_set(&o->t->regs, op->reg.value, v);
	}
	if (!x86_operand_address(&o->t->regs, &o->t->sregs, &o->in, op, &la)) {
		*f = (struct gfault){.vector = VEC_UD};
		return false;
	}
	struct gview v_ = view(o);

	return gmem_write(&v_, la, &v, size, f);
}

/* ---- control and debug registers ---- */

static int write_cr(struct op *o, unsigned cr, uint64_t v)
{
	struct guestcpu *g = o->t->g;

	switch (cr) {
	case 0:
		if ((v >> 32) || !(v & CR0_PG) || !(v & CR0_PE) || ((v & CR0_NW) && !(v & CR0_CD)))
			return fault(o, VEC_GP, 0);
		if ((v ^ g->cr0) & CR0_WP)
			shadow_flush_all(&g->shadow);
		g->cr0 = v;
		return next(o);
	case 2:
		g->cr2 = v;
		return next(o);
	case 3: {
		/* Without PCIDs (CR4.PCIDE is never set) bits 63..MAXPHYADDR are reserved. */
		unsigned phys_bits =
			o->t->vcpu->vm->mem.phys_bits ? o->t->vcpu->vm->mem.phys_bits : 52;

		if (v >> phys_bits)
			return fault(o, VEC_GP, 0);
		/* A CR3 write flushes the TLB: both roots of the new CR3 are brought up to date
		 * (kept per CR3 and coherent with the guest's tables: shadow.h). */
		g->cr3 = v;
		shadow_root(&g->shadow, v, true, true);
		shadow_root(&g->shadow, v, false, true);
		return next(o);
	}
	case 4:
		if ((v & ~(CR4_ALLOWED | CR4_SMEP)) || !(v & CR4_PAE) ||
		    ((v & ~g->cr4 & CR4_SMEP) && !cpuid_offers_smep(o->t->vcpu)))
			return fault(o, VEC_GP, 0);
		if ((v ^ g->cr4) & CR4_TRANSLATION)
			shadow_flush_all(&g->shadow);
		g->cr4 = v;
		g->shadow.smep = v & CR4_SMEP;
		return next(o);
	case 8:
		if (v & ~0xfULL)
			return fault(o, VEC_GP, 0);
		o->t->sregs.cr8 = v; /* KVM keeps CR8 and the local APIC's TPR in step */
		return next(o);
	default:
		return fault(o, VEC_UD, 0);
	}
}

static int mov_cr(struct op *o)
{
	struct guestcpu *g = o->t->g;
	const ZydisDecodedOperand *dst = &o->ops[0], *src = &o->ops[1];
	bool to_cr = ZydisRegisterGetClass(dst->reg.value) == ZYDIS_REGCLASS_CONTROL;
	ZydisRegister crreg = to_cr ? dst->reg.value : src->reg.value;
	unsigned cr = crreg - ZYDIS_REGISTER_CR0;
	uint64_t v;

	if (!o->kernel)
		return NOT_MINE;
	if (to_cr) {
		x86_reg_get(&o->t->regs, src->reg.value, &v);
		return write_cr(o, cr, v);
	}
	switch (cr) {
	case 0:
		v = g->cr0;
		break;
	case 2:
		v = g->cr2;
		break;
	case 3:
		v = g->cr3;
		break;
	case 4:
		v = g->cr4;
		break;
	case 8:
		v = o->t->sregs.cr8;
		break;
	default:
		return fault(o, VEC_UD, 0);
	}
	x86_reg_set(&o->t->regs, dst->reg.value, v);
	return next(o);
}

static int mov_dr(struct op *o)
{
	const ZydisDecodedOperand *dst = &o->ops[0], *src = &o->ops[1];
	bool to_dr = ZydisRegisterGetClass(dst->reg.value) == ZYDIS_REGCLASS_DEBUG;
	unsigned dr = (to_dr ? dst->reg.value : src->reg.value) - ZYDIS_REGISTER_DR0;
	uint64_t v;

	if (!o->kernel)
		return NOT_MINE;
	if (dr >= 8)
		return fault(o, VEC_UD, 0);
	if (to_dr) {
		x86_reg_get(&o->t->regs, src->reg.value, &v);
		o->t->g->dr[dr] = v; /* kept, not armed: lodger offers no hardware breakpoints */
	} else {
		x86_reg_set(&o->t->regs, dst->reg.value, o->t->g->dr[dr]);
	}
	return next(o);
}

/* ---- descriptor tables ---- */

static int load_table_register(struct op *o, bool idt)
{
	struct guestcpu *g = o->t->g;
	struct gfault f;
	uint64_t la;
	uint8_t raw[10];
	uint64_t base;
	uint16_t limit;

	if (!o->kernel)
		return NOT_MINE;
	if (!x86_operand_address(&o->t->regs, &o->t->sregs, &o->in, &o->ops[0], &la))
		return fault(o, VEC_UD, 0);
	struct gview v = view(o);

	if (!gmem_read(&v, la, raw, 10, false, &f))
		return mem_fault(o, &f);
	memcpy(&limit, raw, 2);
	memcpy(&base, raw + 2, 8);
	if (!canonical(base))
		return fault(o, VEC_GP, 0);
	if (idt) {
		g->idtr_base = base;
		g->idtr_limit = limit;
	} else {
		g->gdtr_base = base;
		g->gdtr_limit = limit;
	}
	return next(o);
}

static int store_table_register(struct op *o, bool idt)
{
	struct guestcpu *g = o->t->g;
	struct gfault f;
	uint64_t la;
	uint8_t raw[10];
	uint16_t limit = idt ? g->idtr_limit : g->gdtr_limit;
	uint64_t base = idt ? g->idtr_base : g->gdtr_base;

	if (!o->kernel && (g->cr4 & CR4_UMIP))
		return NOT_MINE;
	if (!x86_operand_address(&o->t->regs, &o->t->sregs, &o->in, &o->ops[0], &la))
		return fault(o, VEC_UD, 0);
	memcpy(raw, &limit, 2);
	memcpy(raw + 2, &base, 8);
	struct gview v = view(o);

	if (!gmem_write(&v, la, raw, 10, &f))
		return mem_fault(o, &f);
	return next(o);
}

/* sldt, str, smsw: a 16-bit value to a register (zero-extended) or memory word. */
static int store_word(struct op *o, uint64_t value)
{
	struct gfault f;
	unsigned size = o->ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER ? o->ops[0].size / 8 : 2;

	if (!o->kernel && (o->t->g->cr4 & CR4_UMIP))
		return NOT_MINE;
	if (!operand_write(o, 0, value, size, &f))
		return mem_fault(o, &f);
	return next(o);
}

static int load_task_register(struct op *o)
{
	struct guestcpu *g = o->t->g;
	struct gfault f;
	uint64_t sel, desc[2];

	if (!o->kernel)
		return NOT_MINE;
	if (!operand_read(o, 0, &sel, 2, &f))
		return mem_fault(o, &f);
	sel &= 0xffff;
	if (!(sel & ~3ULL) || (sel & 4) || (sel | 7) + 8 > g->gdtr_limit)
		return fault(o, VEC_GP, sel & ~3ULL);
	struct gview kv = trap_view(o->t, false);

	if (!gmem_read(&kv, g->gdtr_base + (sel & ~7ULL), desc, 16, false, &f))
		return mem_fault(o, &f);
	if (((desc[0] >> 40) & 0x1f) != DESC_TSS_AVAILABLE) /* an available 64-bit TSS, S = 0 */
		return fault(o, VEC_GP, sel & ~3ULL);
	if (!(desc[0] & DESC_PRESENT))
		return fault(o, VEC_NP, sel & ~3ULL);
	desc[0] |= 2ULL << 40; /* mark it busy in the guest's GDT, as ltr does */
	if (!gmem_write(&kv, g->gdtr_base + (sel & ~7ULL), desc, 8, &f))
		return mem_fault(o, &f);
	g->tr = sel;
	g->tr_base = x86_system_desc_base(desc);
	g->tr_limit = x86_system_desc_limit(desc);
	return next(o);
}

/* ---- MSRs ---- */

enum msr_route privop_msr_route(uint32_t index)
{
	switch (index) {
	case MSR_EFER:
	case MSR_STAR:
	case MSR_LSTAR:
	case MSR_CSTAR:
	case MSR_FMASK:
	case MSR_FS_BASE:
	case MSR_GS_BASE:
	case MSR_KERNEL_GS_BASE:
	case MSR_PAT:
	case MSR_SYSENTER_CS:
	case MSR_SYSENTER_ESP:
	case MSR_SYSENTER_EIP:
		return MSR_ROUTE_VIRTUAL;
	}
	/* Safe to let KVM handle: the TSC, the local APIC, MTRRs and the read-mostly feature
	 * MSRs. Anything else (a backend's private MSRs among them) never reaches KVM from a
	 * shadow-mode guest. Not SYSENTER_CS/ESP/EIP either: on hardware a CPL3 sysenter
	 * would enter the guest's chosen EIP at real CPL0; they are virtual, and the real
	 * SYSENTER_CS stays 0, so sysenter faults. */
	if (index == 0x10 || index == 0x1b || index == 0x3b || index == 0xfe || index == 0x6e0 ||
	    index == 0x1a0 || (index >= 0x200 && index <= 0x2ff) ||
	    (index >= 0x800 && index <= 0x8ff))
		return MSR_ROUTE_KVM;
	return MSR_ROUTE_FAULT;
}

/* 1: done; 0: KVM refused the MSR (the guest's #GP); -1: the ioctl failed (reported). */
static int kvm_msr(struct vcpu *vcpu, uint32_t index, uint64_t *value, bool write)
{
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e;
	} m = {.h.nmsrs = 1, .e = {.index = index, .data = *value}};
	int r = write ? kvm_ioctl(vcpu->fd, KVM_SET_MSRS, &m)
		      : kvm_ioctl(vcpu->fd, KVM_GET_MSRS, &m);

	if (r != 1)
		return r < 0 ? -1 : 0;
	*value = m.e.data;
	return 1;
}

static bool virtual_msr(struct op *o, uint32_t index, uint64_t **slot)
{
	struct guestcpu *g = o->t->g;

	switch (index) {
	case MSR_STAR:
		*slot = &g->star;
		return true;
	case MSR_LSTAR:
		*slot = &g->lstar;
		return true;
	case MSR_CSTAR:
		*slot = &g->cstar;
		return true;
	case MSR_FMASK:
		*slot = &g->fmask;
		return true;
	case MSR_KERNEL_GS_BASE:
		*slot = &g->kernel_gs_base;
		return true;
	case MSR_PAT:
		*slot = &g->pat;
		return true;
	case MSR_EFER:
		*slot = &g->efer;
		return true;
	case MSR_FS_BASE:
		*slot = (uint64_t *)&o->t->sregs.fs.base;
		return true;
	case MSR_GS_BASE:
		*slot = (uint64_t *)&o->t->sregs.gs.base;
		return true;
	case MSR_SYSENTER_CS:
	case MSR_SYSENTER_ESP:
	case MSR_SYSENTER_EIP:
		*slot = &g->sysenter[index - MSR_SYSENTER_CS];
		return true;
	default:
		return false;
	}
}

static int msr(struct op *o, bool write)
{
	struct guestcpu *g = o->t->g;
	uint32_t index = o->t->regs.rcx;
	uint64_t value = (o->t->regs.rdx << 32) | (uint32_t)o->t->regs.rax, *slot;

	if (!o->kernel)
		return NOT_MINE;
	if (virtual_msr(o, index, &slot)) {
		if (!write) {
			value = *slot;
		} else if (index == MSR_EFER) {
			if ((value & ~(EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE)) ||
			    !(value & EFER_LME))
				return fault(o, VEC_GP, 0);
			if ((value ^ g->efer) & EFER_NXE)
				shadow_flush_all(&g->shadow);
			g->efer = value | EFER_LMA;
		} else if ((index == MSR_FS_BASE || index == MSR_GS_BASE || index == MSR_LSTAR ||
			    index == MSR_CSTAR || index == MSR_KERNEL_GS_BASE ||
			    index == MSR_SYSENTER_ESP || index == MSR_SYSENTER_EIP) &&
			   !canonical(value)) {
			return fault(o, VEC_GP, 0);
		} else {
			*slot = value;
		}
	} else if (privop_msr_route(index) != MSR_ROUTE_KVM) {
		return fault(o, VEC_GP, 0);
	} else if (write && index == MSR_APIC_BASE &&
		   (value & 0x000ffffffffff000ULL) != APIC_MMIO_GPA) {
		/* The xAPIC page stays where the shadow tables filter it (apicmmio.h). */
		return fault(o, VEC_GP, 0);
	} else if (write && apicmmio_dropped(index, value)) {
		pr_debug(LOG_TRAP, "dropped x2APIC write %#x = %#llx (SMI/INIT/SIPI)", index,
			 (unsigned long long)value);
	} else {
		int r = kvm_msr(o->t->vcpu, index, &value, write);

		if (r < 0) {
			o->status = EXIT_HOST_ERROR;
			return DONE;
		}
		if (r == 0)
			return fault(o, VEC_GP, 0);
	}
	if (!write) {
		o->t->regs.rax = (uint32_t)value;
		o->t->regs.rdx = value >> 32;
	}
	return next(o);
}

/* ---- mode transitions ---- */

/* Loads a data segment register with one of the guest's selectors. */
static bool load_data_segment(struct op *o, ZydisRegister sreg, uint16_t sel)
{
	struct kvm_sregs *s = &o->t->sregs;
	struct kvm_segment seg;

	if ((sel == STUB_GUEST_KERNEL_DS && o->kernel) || sel == STUB_GUEST_USER_DS)
		seg = cpu_flat_segment(sel, false, false);
	else if ((sel & ~3) == 0 && sreg != ZYDIS_REGISTER_SS)
		seg = (struct kvm_segment){.selector = sel, .unusable = 1};
	else if ((sel & ~3) == 0 && o->kernel)
		seg = cpu_flat_segment(STUB_GUEST_KERNEL_DS, false, false); /* null SS, kernel */
	else
		return false;
	if (sreg == ZYDIS_REGISTER_SS && !o->kernel && sel != STUB_GUEST_USER_DS)
		return false;
	switch (sreg) {
	case ZYDIS_REGISTER_DS:
		s->ds = seg;
		break;
	case ZYDIS_REGISTER_ES:
		s->es = seg;
		break;
	case ZYDIS_REGISTER_SS:
		s->ss = seg;
		break;
	case ZYDIS_REGISTER_FS:
		seg.base = 0;
		s->fs = seg;
		break;
	case ZYDIS_REGISTER_GS:
		seg.base = 0;
		s->gs = seg;
		break;
	default:
		return false;
	}
	return true;
}

static int mov_segment(struct op *o)
{
	struct gfault f;
	uint64_t sel;
	ZydisRegister sreg = o->ops[0].reg.value;

	if (o->in.mnemonic == ZYDIS_MNEMONIC_POP) {
		struct gview v = view(o);
		unsigned size = o->in.operand_width / 8;

		if (!gmem_read(&v, o->t->regs.rsp, &sel, size, false, &f))
			return mem_fault(o, &f);
		sel &= 0xffff;
		if (!load_data_segment(o, sreg, sel))
			return fault(o, VEC_GP, sel & ~3ULL);
		o->t->regs.rsp += size;
		return next(o);
	}
	if (!operand_read(o, 1, &sel, 2, &f))
		return mem_fault(o, &f);
	sel &= 0xffff;
	if (!load_data_segment(o, sreg, sel))
		return fault(o, VEC_GP, sel & ~3ULL);
	return next(o);
}

/* Switches to the code selector `cs` popped by iretq/lret; false if the guest may not. */
static bool enter_code_segment(struct op *o, uint16_t cs)
{
	if (cs == STUB_GUEST_KERNEL_CS && o->kernel) {
		trap_set_mode(o->t, false);
		return true;
	}
	if (cs == STUB_GUEST_USER_CS || cs == STUB_GUEST_USER32_CS) {
		trap_set_mode(o->t, true);
		if (cs == STUB_GUEST_USER32_CS)
			o->t->sregs.cs = cpu_flat_segment(cs, true, false);
		return true;
	}
	return false;
}

/* iretq (#NP on the not-present code descriptor): pop RIP, CS, RFLAGS, RSP, SS. */
static int iret(struct op *o)
{
	struct guestcpu *g = o->t->g;
	struct gfault f;
	uint64_t frame[5];
	struct gview v = view(o);
	bool was_kernel = o->kernel;

	if (o->in.operand_width != 64)
		return NOT_MINE; /* 32-bit iret in 64-bit mode: outside the guest contract */
	if (!gmem_read(&v, o->t->regs.rsp, frame, sizeof(frame), false, &f))
		return mem_fault(o, &f);
	if (!canonical(frame[0]))
		return fault(o, VEC_GP, 0);
	if (!enter_code_segment(o, frame[1]))
		return fault(o, VEC_GP, frame[1] & 0xfffc);
	o->t->regs.rip = frame[0];
	o->t->regs.rsp = frame[3];
	o->t->regs.rflags = (frame[2] & ~(RFLAGS_VM | RFLAGS_RF)) | 2;
	if (was_kernel)
		g->vif = frame[2] & RFLAGS_IF; /* at CPL3 IOPL 0, IF keeps its value */
	if (!g->user)
		load_data_segment(o, ZYDIS_REGISTER_SS, frame[4]);
	return DONE;
}

/* lret: same privilege (kernel), or to user mode with RSP and SS popped too. */
static int far_return(struct op *o)
{
	struct gfault f;
	uint64_t frame[4] = {0};
	unsigned size = o->in.operand_width / 8;
	struct gview v = view(o);

	if (size != 8 || o->ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
		return NOT_MINE; /* lret $n and 32-bit far returns: outside the guest contract */
	if (!gmem_read(&v, o->t->regs.rsp, frame, 16, false, &f))
		return mem_fault(o, &f);
	bool to_user =
		o->kernel && (frame[1] == STUB_GUEST_USER_CS || frame[1] == STUB_GUEST_USER32_CS);

	if (to_user && !gmem_read(&v, o->t->regs.rsp + 16, frame + 2, 16, false, &f))
		return mem_fault(o, &f);
	if (!canonical(frame[0]))
		return fault(o, VEC_GP, 0);
	if (!enter_code_segment(o, frame[1]))
		return fault(o, VEC_GP, frame[1] & 0xfffc);
	o->t->regs.rip = frame[0];
	o->t->regs.rsp = to_user ? frame[2] : o->t->regs.rsp + 16;
	return DONE;
}

/*
 * ljmp/lcall through memory from user mode. The guest's descriptors are not present, so the
 * CPU raised #NP; the architecture checks privilege first: user mode reaching for a kernel
 * selector gets #GP(selector). An ljmp to the guest's user code selectors is done here; any
 * other selector whose real descriptor is not present (the stub's kernel aliases, kept not
 * present in user mode) is none the guest may load: #GP(selector), as for iretq. Far calls
 * elsewhere are outside the guest contract and keep their fault.
 */
static int far_branch(struct op *o)
{
	struct gfault f;
	uint64_t la, sel = 0, target = 0;
	unsigned off = o->in.operand_width / 8;

	if (o->kernel || !x86_operand_address(&o->t->regs, &o->t->sregs, &o->in, &o->ops[0], &la))
		return NOT_MINE;
	struct gview v = view(o);

	if (!gmem_read(&v, la + off, &sel, 2, false, &f))
		return mem_fault(o, &f);
	if ((sel & ~3ULL) == (STUB_GUEST_KERNEL_CS & ~3) ||
	    (sel & ~3ULL) == (STUB_GUEST_KERNEL_DS & ~3))
		return fault(o, VEC_GP, sel & ~3ULL);
	if (o->t->vector != VEC_NP || o->in.mnemonic != ZYDIS_MNEMONIC_JMP)
		return NOT_MINE;
	if (sel != STUB_GUEST_USER_CS && sel != STUB_GUEST_USER32_CS)
		return fault(o, VEC_GP, sel & ~3ULL);
	if (!gmem_read(&v, la, &target, off, false, &f))
		return mem_fault(o, &f);
	if (!canonical(target))
		return fault(o, VEC_GP, 0);
	enter_code_segment(o, sel);
	o->t->regs.rip = target;
	return DONE;
}

static int sysret(struct op *o)
{
	struct guestcpu *g = o->t->g;
	bool to64 = o->in.operand_width == 64;
	uint16_t base = (g->star >> 48) & 0xffff;
	uint16_t cs = to64 ? base + 16 : base;

	if (!o->kernel || !(g->efer & EFER_SCE))
		return NOT_MINE;
	if (to64 && !canonical(o->t->regs.rcx))
		return fault(o, VEC_GP, 0);
	if ((cs | 3) != (to64 ? STUB_GUEST_USER_CS : STUB_GUEST_USER32_CS))
		return fault(o, VEC_GP, 0); /* STAR must name the selectors lodger gave */
	o->t->regs.rip = to64 ? o->t->regs.rcx : (uint32_t)o->t->regs.rcx;
	o->t->regs.rflags = (o->t->regs.r11 & ~(RFLAGS_RF | RFLAGS_VM)) | 2;
	enter_code_segment(o, cs | 3);
	return DONE;
}

static int swapgs(struct op *o)
{
	struct guestcpu *g = o->t->g;
	uint64_t gs = o->t->sregs.gs.base;

	if (!o->kernel)
		return NOT_MINE;
	o->t->sregs.gs.base = g->kernel_gs_base;
	g->kernel_gs_base = gs;
	return next(o);
}

/* int n, int3, int1: through the guest's gate; the gate's DPL decides for user mode. */
static int software_interrupt(struct op *o)
{
	unsigned vector = o->in.mnemonic == ZYDIS_MNEMONIC_INT3	  ? VEC_BP
			  : o->in.mnemonic == ZYDIS_MNEMONIC_INT1 ? VEC_DB
								  : o->ops[0].imm.value.u & 0xff;

	if (o->in.mnemonic == ZYDIS_MNEMONIC_INT1) { /* icebp: a #DB trap, no DPL check */
		o->t->regs.rip += o->in.length;
		o->status = reflect_event(o->t, vector, false, 0, EV_EXCEPTION);
		return DONE;
	}
	o->t->soft_len = o->in.length;
	o->status = reflect_event(o->t, vector, false, 0, EV_SOFTWARE);
	return DONE;
}

/* in/out: lodger's own devices directly, the rest (KVM's in-kernel PIC, PIT) through the
 * stub's trampoline. String I/O is outside the guest contract. */
static int port_io(struct op *o)
{
	bool in = o->in.mnemonic == ZYDIS_MNEMONIC_IN;
	const ZydisDecodedOperand *port_op = &o->ops[in ? 1 : 0], *data_op = &o->ops[in ? 0 : 1];
	unsigned size = data_op->size / 8;
	uint64_t port, value = 0;
	struct io_bus *bus = &o->t->vcpu->vm->pio;
	uint8_t data[4];

	if (!o->kernel)
		return NOT_MINE;
	if (port_op->type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
		port = port_op->imm.value.u & 0xff;
	else
		port = o->t->regs.rdx & 0xffff;
	o->t->regs.rip += o->in.length;
	if (!io_claimed(bus, port, size)) {
		o->status = park_port_io(o->t, port, size, in);
		return DONE;
	}
	x86_reg_get(&o->t->regs, data_op->reg.value, &value);
	memcpy(data, &value, size);
	io_dispatch(bus, port, data, size, !in);
	if (in) {
		memcpy(&value, data, size);
		x86_reg_set(&o->t->regs, data_op->reg.value, value);
	}
	return DONE;
}

static int halt(struct op *o)
{
	if (!o->kernel)
		return NOT_MINE;
	o->t->regs.rip += o->in.length;
	o->status = park_halt(o->t);
	return DONE;
}

/* The guest's sti is followed by hlt, and nothing steps through them one by one. */
static bool sti_then_hlt(struct op *o)
{
	struct gview v = view(o);
	struct gfault f;
	uint8_t byte;

	if ((o->t->regs.rflags & RFLAGS_TF) || o->t->g->dbg.armed)
		return false;
	return gmem_read(&v, o->t->regs.rip + o->in.length, &byte, 1, true, &f) && byte == 0xf4;
}

/*
 * sti; hlt with IF clear: sti's interrupt shadow holds interrupts off until the hlt has
 * run, so the pair halts with IF set and an interrupt wakes it past the hlt. Done as one
 * step, not by resuming at the hlt under KVM's interrupt shadow: a backend that does not
 * honour that shadow (nested SVM under QEMU's TCG) delivers the interrupt at the hlt.
 */
static int sti_hlt(struct op *o)
{
	o->t->g->vif = true;
	o->t->regs.rip += o->in.length + 1;
	o->status = park_halt(o->t);
	return DONE;
}

static int dispatch(struct op *o)
{
	struct guestcpu *g = o->t->g;
	const ZydisDecodedOperand *op0 = &o->ops[0];

	switch (o->in.mnemonic) {
	case ZYDIS_MNEMONIC_CLI:
	case ZYDIS_MNEMONIC_STI:
		if (!o->kernel)
			return NOT_MINE;
		if (o->in.mnemonic == ZYDIS_MNEMONIC_STI && !g->vif && sti_then_hlt(o))
			return sti_hlt(o);
		g->vif = o->in.mnemonic == ZYDIS_MNEMONIC_STI;
		o->t->sti_shadow = g->vif;
		return next(o);
	case ZYDIS_MNEMONIC_HLT:
		return halt(o);
	case ZYDIS_MNEMONIC_MOV:
		if (op0->type == ZYDIS_OPERAND_TYPE_REGISTER &&
		    ZydisRegisterGetClass(op0->reg.value) == ZYDIS_REGCLASS_SEGMENT)
			return mov_segment(o);
		if (o->ops[1].type == ZYDIS_OPERAND_TYPE_REGISTER &&
		    (ZydisRegisterGetClass(op0->reg.value) == ZYDIS_REGCLASS_CONTROL ||
		     ZydisRegisterGetClass(o->ops[1].reg.value) == ZYDIS_REGCLASS_CONTROL))
			return mov_cr(o);
		if (o->ops[1].type == ZYDIS_OPERAND_TYPE_REGISTER &&
		    (ZydisRegisterGetClass(op0->reg.value) == ZYDIS_REGCLASS_DEBUG ||
		     ZydisRegisterGetClass(o->ops[1].reg.value) == ZYDIS_REGCLASS_DEBUG))
			return mov_dr(o);
		return NOT_MINE;
	case ZYDIS_MNEMONIC_POP:
		if (op0->type == ZYDIS_OPERAND_TYPE_REGISTER &&
		    ZydisRegisterGetClass(op0->reg.value) == ZYDIS_REGCLASS_SEGMENT)
			return mov_segment(o);
		return NOT_MINE;
	case ZYDIS_MNEMONIC_LIDT:
		return load_table_register(o, true);
	case ZYDIS_MNEMONIC_LGDT:
		return load_table_register(o, false);
	case ZYDIS_MNEMONIC_SIDT:
		return store_table_register(o, true);
	case ZYDIS_MNEMONIC_SGDT:
		return store_table_register(o, false);
	case ZYDIS_MNEMONIC_SLDT:
		return store_word(o, g->ldtr);
	case ZYDIS_MNEMONIC_STR:
		return store_word(o, g->tr);
	case ZYDIS_MNEMONIC_SMSW:
		return store_word(o, g->cr0);
	case ZYDIS_MNEMONIC_LLDT: {
		struct gfault f;
		uint64_t sel;

		if (!o->kernel)
			return NOT_MINE;
		if (!operand_read(o, 0, &sel, 2, &f))
			return mem_fault(o, &f);
		g->ldtr = sel; /* kept; 64-bit guests use no LDT segments */
		return next(o);
	}
	case ZYDIS_MNEMONIC_LTR:
		return load_task_register(o);
	case ZYDIS_MNEMONIC_INVLPG: {
		uint64_t la;

		if (!o->kernel)
			return NOT_MINE;
		if (x86_operand_address(&o->t->regs, &o->t->sregs, &o->in, op0, &la))
			shadow_invlpg(&g->shadow, g->cr3, la);
		return next(o);
	}
	case ZYDIS_MNEMONIC_RDMSR:
		return msr(o, false);
	case ZYDIS_MNEMONIC_WRMSR:
		return msr(o, true);
	case ZYDIS_MNEMONIC_SWAPGS:
		return swapgs(o);
	case ZYDIS_MNEMONIC_SYSRET:
		return sysret(o);
	case ZYDIS_MNEMONIC_IRETQ:
	case ZYDIS_MNEMONIC_IRETD:
		return iret(o);
	case ZYDIS_MNEMONIC_RET:
		return o->in.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR ? far_return(o) : NOT_MINE;
	case ZYDIS_MNEMONIC_JMP:
	case ZYDIS_MNEMONIC_CALL:
		return o->in.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR ? far_branch(o) : NOT_MINE;
	case ZYDIS_MNEMONIC_INT:
	case ZYDIS_MNEMONIC_INT3:
	case ZYDIS_MNEMONIC_INT1:
		return software_interrupt(o);
	case ZYDIS_MNEMONIC_IN:
	case ZYDIS_MNEMONIC_OUT:
		return port_io(o);
	case ZYDIS_MNEMONIC_WBINVD:
	case ZYDIS_MNEMONIC_INVD:
		return o->kernel ? next(o) : NOT_MINE; /* caches are the host's business */
	case ZYDIS_MNEMONIC_XSETBV:
		/* #UD before the privilege check while CR4.OSXSAVE is clear, which it always is
		 * here: OSXSAVE is not among the CR4 bits a shadow-mode guest may set. */
		if (!(g->cr4 & CR4_OSXSAVE))
			return fault(o, 6, 0);
		return o->kernel ? fault(o, 13, 0) : NOT_MINE;
	case ZYDIS_MNEMONIC_CLTS:
		if (!o->kernel)
			return NOT_MINE;
		g->cr0 &= ~CR0_TS;
		return next(o);
	case ZYDIS_MNEMONIC_LMSW: {
		struct gfault f;
		uint64_t v;

		if (!o->kernel)
			return NOT_MINE;
		if (!operand_read(o, 0, &v, 2, &f))
			return mem_fault(o, &f);
		g->cr0 = (g->cr0 & ~0xeULL) | (v & 0xf) | CR0_PE; /* lmsw cannot clear PE */
		return next(o);
	}
	default:
		return NOT_MINE;
	}
}

static bool fetch(struct op *o, struct gfault *f)
{
	struct gview v = view(o);
	uint8_t bytes[ZYDIS_MAX_INSTRUCTION_LENGTH];
	unsigned n;

	/* Fetch the longest instruction, shortening it at an unmapped page boundary. */
	for (n = sizeof(bytes); n; n--) {
		uint64_t end = o->t->regs.rip + n - 1;

		if ((end & ~0xfffULL) == (o->t->regs.rip & ~0xfffULL) || n == 1)
			break;
		struct gfault probe;

		if (gmem_read(&v, end & ~0xfffULL, bytes, 1, true, &probe))
			break;
	}
	uint64_t start = phase_now();
	bool ok = gmem_read(&v, o->t->regs.rip, bytes, n, true, f) &&
		  x86_decode(bytes, n, o->t->sregs.cs.selector == STUB_GUEST_USER32_CS, &o->in,
			     o->ops);

	phase_end(o->t->vcpu->phases, PHASE_DECODE, start);
	return ok;
}

/* The exception the instruction raised is the guest's. */
static int original(struct trap *t)
{
	return reflect_event(t, t->vector, t->has_error, t->error, EV_EXCEPTION);
}

/* The single-step trap an instruction run with TF set ends in (TF as it was before it):
 * not where the instruction raised an event of its own or left the vCPU parked, nor after
 * a load of SS, whose #DB the CPU raises after the next instruction. */
static bool steps(const struct op *o, bool tf, uint64_t reflected)
{
	const struct guestcpu *g = o->t->g;
	const ZydisDecodedOperand *op0 = &o->ops[0];

	if (!tf || o->status || o->t->parked || g->step.active ||
	    g->stats.by_kind[TK_REFLECTED] != reflected)
		return false;
	return !((o->in.mnemonic == ZYDIS_MNEMONIC_MOV || o->in.mnemonic == ZYDIS_MNEMONIC_POP) &&
		 op0->type == ZYDIS_OPERAND_TYPE_REGISTER && op0->reg.value == ZYDIS_REGISTER_SS);
}

int privop_emulate(struct trap *t)
{
	struct op o = {.t = t, .kernel = !t->g->user};
	struct gfault f = {.vector = VEC_UD};
	bool tf = t->regs.rflags & RFLAGS_TF;
	uint64_t reflected = t->g->stats.by_kind[TK_REFLECTED];

	if (!fetch(&o, &f)) {
		if (f.vector == VEC_UD)
			return original(t); /* undecodable: the original exception stands */
		return reflect_fault(t, &f);
	}
	if (dispatch(&o) == NOT_MINE)
		return original(t);
	t->g->stats.by_kind[TK_EMULATED]++;
	pr_debug(LOG_TRAP, "emulated %s", ZydisMnemonicGetString(o.in.mnemonic));
	if (steps(&o, tf, reflected)) {
		t->g->dr[6] |= DR6_BS;
		return reflect_event(t, VEC_DB, false, 0, EV_EXCEPTION);
	}
	return o.status;
}
