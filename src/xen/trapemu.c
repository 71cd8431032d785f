/* trapemu.c - instructions the Xen PV personality completes (xen/trapemu.h). */
#include "xen/trapemu.h"

#include <string.h>

#include <xen/xen.h>

#include "arch/x86.h"
#include "arch/x86dec.h"
#include "front/log.h"
#include "lodger/stub_abi.h"
#include "shadow/guestcpu.h"
#include "shadow/pagewalk.h"
#include "xen/families.h"
#include "xen/pit.h"

#define FEP_LEN 5 /* ud2a; .ascii "xen" */

/* Up to `max` instruction bytes at RIP, fewer at an unmapped page boundary; 0: none. */
static unsigned fetch(struct trap *t, uint8_t *bytes, unsigned max)
{
	struct gview v = trap_view(t, t->g->user);
	struct gfault f;
	uint64_t rip = t->regs.rip;
	unsigned n = max;

	if (((rip + max - 1) & ~0xfffULL) != (rip & ~0xfffULL)) {
		uint8_t probe;

		if (!gmem_read(&v, (rip + max - 1) & ~0xfffULL, &probe, 1, true, &f))
			n = (unsigned)(0x1000 - (rip & 0xfff));
	}
	return gmem_read(&v, rip, bytes, n, true, &f) ? n : 0;
}

void xen_cpuid(const struct xen_pstate *p, uint32_t leaf, uint32_t subleaf, uint32_t out[4])
{
	memset(out, 0, 4 * sizeof(out[0]));
	if (!p->cpuid)
		return;
	for (unsigned i = 0; i < p->cpuid->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &p->cpuid->entries[i];

		if (e->function != leaf ||
		    ((e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) && e->index != subleaf))
			continue;
		out[0] = e->eax, out[1] = e->ebx, out[2] = e->ecx, out[3] = e->edx;
		return;
	}
}

/* After an emulated instruction: a single step ends in #DB, as on Xen. */
static int finish(struct xen_pstate *p, struct trap *t, unsigned len)
{
	p->emulated++;
	t->g->stats.by_kind[TK_EMULATED]++;
	t->regs.rip += len;
	if (t->regs.rflags & RFLAGS_TF)
		return xen_bounce(p, t, VEC_DB, false, 0, 0);
	return 0;
}

static int forced_cpuid(struct xen_pstate *p, struct trap *t)
{
	uint32_t r[4];

	xen_cpuid(p, (uint32_t)t->regs.rax, (uint32_t)t->regs.rcx, r);
	pr_debug(LOG_XEN, "forced-emulation cpuid %#x.%#x", (unsigned)t->regs.rax,
		 (unsigned)t->regs.rcx);
	t->regs.rax = r[0], t->regs.rbx = r[1], t->regs.rcx = r[2], t->regs.rdx = r[3];
	return finish(p, t, FEP_LEN + 2);
}

/* int $n: Xen's permit_softint (DPL >= 1 from the guest kernel, 3 from user mode). */
static int soft_int(struct xen_pstate *p, struct trap *t, unsigned n, unsigned len)
{
	const struct trap_info *ti = &p->v.traps[n];
	unsigned need = t->g->user ? 3 : 1;

	if (!ti->address || (ti->flags & 3) < need)
		return xen_bounce(p, t, VEC_GP, true, n << 3 | 2, 0);
	t->regs.rip += len;
	return xen_bounce(p, t, n, false, 0, 0);
}

/* rdmsr/wrmsr of the segment bases from guest kernel mode; false: #GP stands. */
static bool base_msr(struct xen_pstate *p, struct trap *t, bool write)
{
	uint32_t index = (uint32_t)t->regs.rcx;
	uint64_t value = (t->regs.rdx & 0xffffffffULL) << 32 | (t->regs.rax & 0xffffffffULL);
	uint64_t cur;

	if (t->g->user)
		return false;
	switch (index) {
	case MSR_FS_BASE:
		cur = t->sregs.fs.base;
		break;
	case MSR_GS_BASE: /* the current (kernel) GS base */
		cur = t->sregs.gs.base;
		break;
	case MSR_KERNEL_GS_BASE: /* the other one: the user GS base */
		cur = p->v.gs_base_user;
		break;
	default:
		return false;
	}
	if (!write) {
		t->regs.rax = (uint32_t)cur;
		t->regs.rdx = cur >> 32;
		return true;
	}
	if (!canonical(value))
		return false;
	if (index == MSR_FS_BASE)
		t->sregs.fs.base = value;
	else if (index == MSR_GS_BASE)
		t->sregs.gs.base = value;
	else
		p->v.gs_base_user = value;
	return true;
}

/* The flat 64-bit code and data segments of the guest's current privilege (every PV
 * guest mode is ring 3): Xen's selectors, or lodger's that the guest reads back from %cs
 * and %ss here (its guest selectors, or the stub's present aliases of the kernel's),
 * which stand for them. None of them changes the guest's mode. */
static bool flat_cs64(uint64_t sel)
{
	sel &= 0xffff;
	return (sel & 3) == 3 &&
	       (sel >> 3 == FLAT_RING3_CS64 >> 3 || sel >> 3 == STUB_GUEST_KERNEL_CS >> 3 ||
		sel >> 3 == STUB_GUEST_USER_CS >> 3 || sel >> 3 == STUB_ALIAS_KERNEL_CS >> 3);
}

static bool flat_ss(uint64_t sel)
{
	sel &= 0xffff;
	return (sel & 3) == 3 &&
	       (sel >> 3 == FLAT_RING3_SS64 >> 3 || sel >> 3 == STUB_GUEST_KERNEL_DS >> 3 ||
		sel >> 3 == STUB_GUEST_USER_DS >> 3 || sel >> 3 == STUB_ALIAS_KERNEL_DS >> 3);
}

/*
 * The descriptor of a selector in the guest's own GDT (set_gdt: Xen loads the guest's
 * frames as the real GDT's first entries, so its selectors load natively there; lodger's
 * real GDT is the stub's, so the load faults here). false when it is not in that GDT.
 */
static bool guest_gdt_desc(struct xen_pstate *p, uint16_t sel, uint64_t *desc)
{
	unsigned index = sel >> 3;
	const uint64_t *e;

	if ((sel & 4) || index >= p->v.gdt_ents || index / 512 >= 16)
		return false; /* LDT selectors are not completed */
	e = gpa_ptr_guest(p->guest->d.mem,
			  p->v.gdt_frames[index / 512] * XEN_PAGE_SIZE + (index % 512) * 8, 8);
	if (!e)
		return false;
	*desc = *e;
	return true;
}

/*
 * mov/pop to a data segment register of one of Xen's flat selectors (FLAT_RING3_*: GDT
 * entries Xen reserves, far beyond the real GDT) or of a data/readable-code descriptor
 * of the guest's own GDT, present, DPL 3 (the guest's CPL on Xen; SS also writable
 * data, RPL 3): only FS/GS change, to the descriptor's base (0 for the flat ones), as a
 * 64-bit load gives. false: the fault stands.
 */
static bool flat_segment(struct xen_pstate *p, struct trap *t, const ZydisDecodedInstruction *in,
			 const ZydisDecodedOperand *ops)
{
	uint64_t sel, rsp = t->regs.rsp, desc, base = 0;
	unsigned index;
	bool ss;

	if (ops[0].type != ZYDIS_OPERAND_TYPE_REGISTER ||
	    ZydisRegisterGetClass(ops[0].reg.value) != ZYDIS_REGCLASS_SEGMENT ||
	    ops[0].reg.value == ZYDIS_REGISTER_CS)
		return false;
	ss = ops[0].reg.value == ZYDIS_REGISTER_SS;
	if (in->mnemonic == ZYDIS_MNEMONIC_POP) {
		struct gview v = trap_view(t, t->g->user);
		struct gfault f;

		if (!gmem_read(&v, rsp, &sel, 8, false, &f))
			return false;
		rsp += in->operand_width == 16 ? 2 : 8;
	} else if (ops[1].type == ZYDIS_OPERAND_TYPE_REGISTER) {
		if (!x86_reg_get(&t->regs, ops[1].reg.value, &sel))
			return false;
	} else if (ops[1].type == ZYDIS_OPERAND_TYPE_MEMORY) {
		/* mov m16, %sreg (XTF: `mov user_ss, %ss`): the CPU read the selector before
		 * it faulted on the descriptor; should this read fail, that fault stands */
		struct gview v = trap_view(t, t->g->user);
		struct gfault f;
		uint64_t la;

		sel = 0;
		if (!x86_operand_address(&t->regs, &t->sregs, in, &ops[1], &la) ||
		    !gmem_read(&v, la, &sel, 2, false, &f))
			return false;
	} else {
		return false;
	}
	sel = (uint16_t)sel;
	index = (unsigned)sel >> 3;
	if (ss && (sel & 3) != 3)
		return false; /* SS: RPL must be the CPL, which is 3 */
	/* Xen's flat selectors, or the ones the guest reads back from %ss and %cs here
	 * (lodger's own, stub_abi.h), which stand for the same flat segments */
	if (index == FLAT_RING3_CS32 >> 3 || index == FLAT_RING3_CS64 >> 3 ||
	    index == FLAT_RING3_SS64 >> 3 || index == STUB_GUEST_KERNEL_DS >> 3 ||
	    index == STUB_GUEST_USER_DS >> 3 || index == STUB_GUEST_KERNEL_CS >> 3 ||
	    index == STUB_GUEST_USER_CS >> 3) {
		if (ss && !flat_ss(sel))
			return false; /* SS: a writable data segment */
		base = 0;
	} else if (guest_gdt_desc(p, (uint16_t)sel, &desc)) {
		unsigned type = (desc >> 40) & 0xf, dpl = (desc >> 45) & 3;
		bool present = desc >> 47 & 1, s = desc >> 44 & 1, code = type & 8;

		if (!present || !s || dpl != 3 || (code && !(type & 2)) ||
		    (ss && (code || !(type & 2))))
			return false;
		base = ((desc >> 16) & 0xffffff) | ((desc >> 56) & 0xff) << 24;
	} else {
		return false;
	}
	t->regs.rsp = rsp;
	if (ops[0].reg.value == ZYDIS_REGISTER_FS)
		t->sregs.fs.base = base;
	else if (ops[0].reg.value == ZYDIS_REGISTER_GS)
		t->sregs.gs.base = base;
	return true;
}

/*
 * mov from a control register, in guest kernel mode: Xen's read_cr (pv/emul-priv-op.c)
 * gives CR0 and CR4 as the guest sees them, CR2 the last fault address, CR3 the current
 * base pointer (kernel or user). Writes and user mode: #GP stands.
 */
static bool read_cr(struct xen_pstate *p, struct trap *t, const ZydisDecodedOperand *ops)
{
	uint64_t value;

	if (!p->v.kernel_mode || ops[0].type != ZYDIS_OPERAND_TYPE_REGISTER ||
	    ops[1].type != ZYDIS_OPERAND_TYPE_REGISTER ||
	    ZydisRegisterGetClass(ops[1].reg.value) != ZYDIS_REGCLASS_CONTROL)
		return false;
	switch (ops[1].reg.value) {
	case ZYDIS_REGISTER_CR0:
		value = t->g->cr0;
		break;
	case ZYDIS_REGISTER_CR2:
		value = t->g->cr2;
		break;
	case ZYDIS_REGISTER_CR3:
		value = p->v.kernel_cr3;
		break;
	case ZYDIS_REGISTER_CR4:
		value = t->g->cr4;
		break;
	default:
		return false;
	}
	return x86_reg_set(&t->regs, ops[0].reg.value, value);
}

/* A fault lodger met while completing an instruction for the guest: the guest's own. */
static int mem_fault(struct xen_pstate *p, struct trap *t, const struct gfault *f)
{
	return xen_bounce(p, t, f->vector, true, f->error, f->vector == VEC_PF ? f->cr2 : 0);
}

/*
 * mov to or from %drN in guest kernel mode: Xen's emulator (pv/emul-priv-op.c) with its
 * set_debugreg and x86emul_read_dr rules (xen_dr_write/xen_dr_read): a refused write is
 * #GP(0), a register that does not exist #UD. false: not such a mov, or user mode (#GP
 * stands, as on Xen).
 */
static bool mov_dr(struct xen_pstate *p, struct trap *t, const ZydisDecodedOperand *ops,
		   unsigned len, int *status)
{
	bool to_dr;
	unsigned dr;
	uint64_t value;

	if (!p->v.kernel_mode || ops[0].type != ZYDIS_OPERAND_TYPE_REGISTER ||
	    ops[1].type != ZYDIS_OPERAND_TYPE_REGISTER)
		return false;
	to_dr = ZydisRegisterGetClass(ops[0].reg.value) == ZYDIS_REGCLASS_DEBUG;
	if (!to_dr && ZydisRegisterGetClass(ops[1].reg.value) != ZYDIS_REGCLASS_DEBUG)
		return false;
	dr = (unsigned)((to_dr ? ops[0].reg.value : ops[1].reg.value) - ZYDIS_REGISTER_DR0);
	if (to_dr) {
		long r;

		if (!x86_reg_get(&t->regs, ops[1].reg.value, &value))
			return false;
		r = xen_dr_write(&p->v, dr, value);
		if (r == -XEN_ENODEV)
			*status = xen_bounce(p, t, VEC_UD, false, 0, 0);
		else if (r)
			*status = xen_bounce(p, t, VEC_GP, true, 0, 0);
		else
			*status = finish(p, t, len);
		return true;
	}
	if (!xen_dr_read(&p->v, dr, &value)) {
		*status = xen_bounce(p, t, VEC_UD, false, 0, 0);
		return true;
	}
	if (!x86_reg_set(&t->regs, ops[0].reg.value, value))
		return false;
	*status = finish(p, t, len);
	return true;
}

/*
 * sidt, sgdt, sldt, str, smsw, from either mode: Xen does not set CR4.UMIP for PV guests,
 * so they read Xen's own tables there; lodger's real CR4 has UMIP, so they trap here and
 * get what Xen's would give: the IDT in Xen's image, the per-vCPU GDT in the per-domain
 * area (its limit the end of Xen's reserved entries), Xen's TSS and LDT selectors, and
 * the guest's CR0. All of them are in the hypervisor hole, of no use to the guest.
 */
#define XEN_IDT_BASE	 0xffff82d080000000ULL /* XEN_VIRT_START */
#define XEN_IDT_LIMIT	 0xfff
#define XEN_GDT_BASE	 0xffff820000000000ULL /* GDT_LDT_VIRT_START, vCPU 0 */
#define XEN_GDT_LIMIT	 0xefff		       /* LAST_RESERVED_GDT_BYTE */
#define XEN_TSS_SELECTOR 0xe040
#define XEN_LDT_SELECTOR 0xe050

static int store_system(struct xen_pstate *p, struct trap *t, const ZydisDecodedInstruction *in,
			const ZydisDecodedOperand *ops)
{
	struct gview v = trap_view(t, t->g->user);
	struct gfault f;
	uint64_t la, value;
	uint8_t raw[10];
	unsigned size;

	switch (in->mnemonic) {
	case ZYDIS_MNEMONIC_SIDT:
	case ZYDIS_MNEMONIC_SGDT: {
		bool idt = in->mnemonic == ZYDIS_MNEMONIC_SIDT;
		uint16_t limit = idt ? XEN_IDT_LIMIT : XEN_GDT_LIMIT;
		uint64_t base = idt ? XEN_IDT_BASE : XEN_GDT_BASE;

		if (!x86_operand_address(&t->regs, &t->sregs, in, &ops[0], &la))
			return xen_bounce(p, t, VEC_UD, false, 0, 0);
		memcpy(raw, &limit, 2);
		memcpy(raw + 2, &base, 8);
		if (!gmem_write(&v, la, raw, 10, &f))
			return mem_fault(p, t, &f);
		return finish(p, t, in->length);
	}
	case ZYDIS_MNEMONIC_SLDT:
		value = p->v.ldt_ents ? XEN_LDT_SELECTOR : 0;
		break;
	case ZYDIS_MNEMONIC_STR:
		value = XEN_TSS_SELECTOR;
		break;
	default: /* SMSW: CR0 as the guest sees it, TS its fpu_taskswitch */
		value = (t->g->cr0 & ~CR0_TS) | (p->v.fpu_ts ? CR0_TS : 0);
		break;
	}
	if (ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER) {
		/* a register gets the whole value, zero-extended to its width */
		size = ops[0].size / 8;
		if (size < 8)
			value &= (1ULL << (size * 8)) - 1;
		if (!x86_reg_set(&t->regs, ops[0].reg.value, value))
			return xen_bounce(p, t, VEC_UD, false, 0, 0);
		return finish(p, t, in->length);
	}
	if (!x86_operand_address(&t->regs, &t->sregs, in, &ops[0], &la))
		return xen_bounce(p, t, VEC_UD, false, 0, 0);
	if (!gmem_write(&v, la, &value, 2, &f)) /* a memory operand is always a word */
		return mem_fault(p, t, &f);
	return finish(p, t, in->length);
}

/*
 * iretq or lretq back to the same privilege through a flat 64-bit code segment (Linux's
 * sync_core "iret to self" pushes the %cs and %ss it reads): on Xen the CPU does it
 * natively, the selectors being in Xen's GDT; here their load faults, and lodger does
 * what the CPU would at CPL3: RIP and CS, and for iretq RFLAGS, RSP and SS, from the
 * frame, IF and IOPL unchanged (CPL 3 > IOPL 0), the guest's mode unchanged. Anything
 * else (another selector, a 32-bit or `lret $n` form) keeps its fault.
 */
static bool same_privilege_return(struct xen_pstate *p, struct trap *t,
				  const ZydisDecodedInstruction *in, const ZydisDecodedOperand *ops,
				  int *status)
{
	struct gview v = trap_view(t, t->g->user);
	struct gfault f;
	uint64_t frame[5];
	bool iret = in->mnemonic == ZYDIS_MNEMONIC_IRETQ;
	unsigned n = iret ? 5 : 2;
	/* IF, IOPL at CPL 3; VM, VIF, VIP: unchanged by a 64-bit iretq at CPL 3 */
	uint64_t keep = RFLAGS_IF | RFLAGS_IOPL | RFLAGS_VM | 3ULL << 19;
	bool step = t->regs.rflags & RFLAGS_TF;

	if (in->operand_width != 64 || (!iret && ops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE))
		return false;
	if (!gmem_read(&v, t->regs.rsp, frame, n * 8, false, &f)) {
		*status = mem_fault(p, t, &f);
		return true;
	}
	if (!flat_cs64(frame[1]) || (iret && !flat_ss(frame[4])) || !canonical(frame[0]))
		return false;
	t->regs.rip = frame[0];
	if (iret) {
		t->regs.rflags = (frame[2] & 0x3f7fd5ULL & ~keep) | /* the defined flags */
				 (t->regs.rflags & keep) | RFLAGS_FIXED;
		t->regs.rsp = frame[3];
	} else {
		t->regs.rsp += 16;
	}
	p->emulated++;
	t->g->stats.by_kind[TK_EMULATED]++;
	/* a single step over it ends in #DB after it, as on the CPU */
	*status = step ? xen_bounce(p, t, VEC_DB, false, 0, 0) : 0;
	return true;
}

/*
 * Xen's virtual IOPL (pv/emul-priv-op.c, iopl_ok): the guest kernel counts as CPL 1, or
 * 0 with VMASST_TYPE_architectural_iopl; user mode as 3. The real IOPL stays 0.
 */
static bool iopl_ok_in(const struct xen_pstate *p, bool kernel_mode)
{
	unsigned cpl = !kernel_mode						   ? 3
		       : p->v.d->vm_assist & 1UL << VMASST_TYPE_architectural_iopl ? 0
										   : 1;

	return p->v.iopl >= cpl;
}

static bool iopl_ok(const struct xen_pstate *p)
{
	return iopl_ok_in(p, p->v.kernel_mode);
}

bool xen_kernel_iopl_ok(const struct xen_pstate *p)
{
	return iopl_ok_in(p, true);
}

/*
 * in/out (not the string forms) that the virtual IOPL allows: a PV domain here owns no
 * I/O port (no PHYSDEVOP_set_iobitmap, no ioports_access_permitted), so, as on Xen for
 * such a port, a read gives all ones and a write is dropped. false: #GP stands.
 */
static bool port_io(struct xen_pstate *p, struct trap *t, const ZydisDecodedInstruction *in,
		    const ZydisDecodedOperand *ops)
{
	bool is_in = in->mnemonic == ZYDIS_MNEMONIC_IN;
	const ZydisDecodedOperand *port_op = &ops[is_in ? 1 : 0], *data = &ops[is_in ? 0 : 1];
	uint64_t now;
	uint16_t port;
	unsigned size;

	if (!iopl_ok(p) || data->type != ZYDIS_OPERAND_TYPE_REGISTER)
		return false;
	size = data->size / 8;
	port = port_op->type == ZYDIS_OPERAND_TYPE_IMMEDIATE ? (uint16_t)port_op->imm.value.u
							     : (uint16_t)t->regs.rdx;
	/* Xen's PIT for PV guests (xen/pit.h); every other port reads all ones */
	if (size == 1 && xen_pit_port(port)) {
		now = p->v.hooks && p->v.hooks->now_ns ? p->v.hooks->now_ns(p->v.opaque) : 0;
		if (is_in)
			return x86_reg_set(&t->regs, data->reg.value,
					   xen_pit_read(&p->pit, port, now));
		xen_pit_write(&p->pit, port, (uint8_t)t->regs.rax, now);
		return true;
	}
	if (!is_in)
		return true;
	return x86_reg_set(&t->regs, data->reg.value,
			   size >= 4 ? 0xffffffffULL : (1ULL << (size * 8)) - 1);
}

/*
 * mov to CR4 in kernel mode (Linux's xen_write_cr4 ends in native_write_cr4): Xen's
 * pv_fixup_guest_cr4 never refuses one; it keeps the bits a guest controls (TSD, DE,
 * FSGSBASE, OSXSAVE, each only where the CPUID policy has the feature) and shows its own
 * choice of the rest. lodger's policy has none of the four for a PV guest's kernel (its
 * kernel runs at CPL3, where TSD would fault its own rdtsc), so the write changes nothing
 * and completes. Writes to other control registers: #GP stands.
 */
static bool write_cr4(struct xen_pstate *p, const ZydisDecodedOperand *ops)
{
	return p->v.kernel_mode && ops[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
	       ops[0].reg.value == ZYDIS_REGISTER_CR4 && ops[1].type == ZYDIS_OPERAND_TYPE_REGISTER;
}

bool xen_trapemu(struct xen_pstate *p, struct trap *t, int *status)
{
	ZydisDecodedInstruction in;
	ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
	uint8_t b[ZYDIS_MAX_INSTRUCTION_LENGTH];
	unsigned n = fetch(t, b, sizeof(b));

	*status = 0;
	if (n >= FEP_LEN && memcmp(b, "\x0f\x0bxen", FEP_LEN) == 0) {
		/* Xen emulates only cpuid after the prefix; anything else stays #UD */
		if (t->vector != VEC_UD || n < FEP_LEN + 2 || b[FEP_LEN] != 0x0f ||
		    b[FEP_LEN + 1] != 0xa2)
			return false;
		*status = forced_cpuid(p, t);
		return true;
	}
	if (!n || !x86_decode(b, n, false, &in, ops))
		return false;
	/* a far return to one of the flat code segments (#GP beyond the real GDT, #NP for
	 * lodger's guest selectors, kept not present) */
	if ((t->vector == VEC_GP || t->vector == VEC_NP || t->vector == VEC_SS) &&
	    (in.mnemonic == ZYDIS_MNEMONIC_IRETQ ||
	     (in.mnemonic == ZYDIS_MNEMONIC_RET && in.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR)))
		return same_privilege_return(p, t, &in, ops, status);
	/* #NP and #SS: a load of one of lodger's guest selectors, kept not present */
	if (t->vector == VEC_NP || t->vector == VEC_SS) {
		if ((in.mnemonic != ZYDIS_MNEMONIC_MOV && in.mnemonic != ZYDIS_MNEMONIC_POP) ||
		    !flat_segment(p, t, &in, ops))
			return false;
		*status = finish(p, t, in.length);
		return true;
	}
	switch (in.mnemonic) {
	case ZYDIS_MNEMONIC_INT:
		*status = soft_int(p, t, ops[0].imm.value.u & 0xff, in.length);
		return true;
	case ZYDIS_MNEMONIC_INT3: /* Xen's #BP gate is DPL3: always a #BP trap */
		t->regs.rip += in.length;
		*status = xen_bounce(p, t, VEC_BP, false, 0, 0);
		return true;
	case ZYDIS_MNEMONIC_INT1: /* icebp: a #DB trap */
		t->regs.rip += in.length;
		*status = xen_bounce(p, t, VEC_DB, false, 0, 0);
		return true;
	case ZYDIS_MNEMONIC_MOV:
		if (t->vector == VEC_GP && mov_dr(p, t, ops, in.length, status))
			return true;
		/* fall through */
	case ZYDIS_MNEMONIC_POP:
		/* a segment load of a lodger selector not present is #NP, not #GP */
		if ((t->vector != VEC_GP || (!read_cr(p, t, ops) && !write_cr4(p, ops) &&
					     !flat_segment(p, t, &in, ops))) &&
		    (t->vector != VEC_NP || !flat_segment(p, t, &in, ops)))
			return false;
		*status = finish(p, t, in.length);
		return true;
	case ZYDIS_MNEMONIC_CLI:
	case ZYDIS_MNEMONIC_STI:
		/* Xen's priv_op_validate: under the virtual IOPL, cli and sti complete and
		 * change nothing (the virtual IF is evtchn_upcall_mask; a later popf could not
		 * be trapped to undo a change). Linux's cmpxchg16b emulation runs them. */
		if (t->vector != VEC_GP || !iopl_ok(p))
			return false;
		*status = finish(p, t, in.length);
		return true;
	case ZYDIS_MNEMONIC_IN:
	case ZYDIS_MNEMONIC_OUT:
		if (t->vector != VEC_GP || !port_io(p, t, &in, ops))
			return false;
		*status = finish(p, t, in.length);
		return true;
	case ZYDIS_MNEMONIC_SIDT:
	case ZYDIS_MNEMONIC_SGDT:
	case ZYDIS_MNEMONIC_SLDT:
	case ZYDIS_MNEMONIC_STR:
	case ZYDIS_MNEMONIC_SMSW:
		if (t->vector != VEC_GP)
			return false;
		*status = store_system(p, t, &in, ops);
		return true;
	case ZYDIS_MNEMONIC_RDMSR:
	case ZYDIS_MNEMONIC_WRMSR:
		if (t->vector != VEC_GP || !base_msr(p, t, in.mnemonic == ZYDIS_MNEMONIC_WRMSR))
			return false;
		*status = finish(p, t, in.length);
		return true;
	default:
		return false;
	}
}

uint64_t xen_m2p_entry(const struct xen_domain *d, uint64_t mfn)
{
	return mfn < d->nr_pages + XEN_RESERVED_PAGES ? mfn : ~0ULL; /* INVALID_M2P_ENTRY */
}

/* The M2P area cr2 falls in (its base), or 0. Readable: the pages holding entries. */
static uint64_t m2p_base(const struct xen_domain *d, uint64_t la, bool *readable)
{
	uint64_t bases[2] = {XEN_M2P_DEFAULT, XEN_M2P_REPORTED};
	uint64_t bytes = ((d->nr_pages + XEN_RESERVED_PAGES) * 8 + 0xfff) & ~0xfffULL;

	for (unsigned i = 0; i < 2; i++)
		if (la - bases[i] < XEN_M2P_SIZE) {
			*readable = la - bases[i] < bytes;
			return bases[i];
		}
	return 0;
}

bool xen_m2p_fault(struct xen_pstate *p, struct trap *t, uint64_t cr2, uint32_t error, int *status)
{
	const struct xen_domain *d = &p->guest->d;
	ZydisDecodedInstruction in;
	ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
	uint8_t b[ZYDIS_MAX_INSTRUCTION_LENGTH];
	uint64_t base, la, value = 0;
	unsigned n, size;
	bool readable, end_ok = false;

	base = m2p_base(d, cr2, &readable);
	if (!base)
		return false;
	if (!readable) { /* beyond the entries: not mapped, as on Xen */
		*status = xen_bounce(p, t, VEC_PF, true, error & ~PFEC_P, cr2);
		return true;
	}
	if (error & (PFEC_W | PFEC_I)) { /* read-only, not executable */
		*status = xen_bounce(p, t, VEC_PF, true, error | PFEC_P, cr2);
		return true;
	}
	n = fetch(t, b, sizeof(b));
	if (!n || !x86_decode(b, n, false, &in, ops) ||
	    ops[0].type != ZYDIS_OPERAND_TYPE_REGISTER ||
	    ops[1].type != ZYDIS_OPERAND_TYPE_MEMORY ||
	    (in.mnemonic != ZYDIS_MNEMONIC_MOV && in.mnemonic != ZYDIS_MNEMONIC_MOVZX &&
	     in.mnemonic != ZYDIS_MNEMONIC_MOVSX && in.mnemonic != ZYDIS_MNEMONIC_MOVSXD) ||
	    !x86_operand_address(&t->regs, &t->sregs, &in, &ops[1], &la)) {
		/* not a plain load: the guest sees the fault (docs/xen-pv.md) */
		pr_debug(LOG_XEN, "M2P access at %#llx by an instruction lodger does not complete",
			 (unsigned long long)cr2);
		return false;
	}
	size = ops[1].size / 8;
	m2p_base(d, la + size - 1, &end_ok);
	if (size == 0 || size > 8 || la - base >= XEN_M2P_SIZE || !end_ok ||
	    la + size - 1 - base >= XEN_M2P_SIZE)
		return false;
	for (unsigned i = 0; i < size; i++) {
		uint64_t off = la + i - base;
		uint64_t entry = xen_m2p_entry(d, off / 8);

		value |= ((entry >> (off % 8 * 8)) & 0xff) << (i * 8);
	}
	if (in.mnemonic == ZYDIS_MNEMONIC_MOVSX || in.mnemonic == ZYDIS_MNEMONIC_MOVSXD)
		value = (uint64_t)((int64_t)(value << (64 - size * 8)) >> (64 - size * 8));
	if (!x86_reg_set(&t->regs, ops[0].reg.value, value))
		return false;
	pr_debug(LOG_XEN, "M2P read at %#llx = %#llx", (unsigned long long)la,
		 (unsigned long long)value);
	*status = finish(p, t, in.length);
	return true;
}
