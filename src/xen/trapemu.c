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
	} else {
		return false;
	}
	sel = (uint16_t)sel;
	index = (unsigned)sel >> 3;
	if (ss && (sel & 3) != 3)
		return false; /* SS: RPL must be the CPL, which is 3 */
	if (index == FLAT_RING3_CS32 >> 3 || index == FLAT_RING3_CS64 >> 3 ||
	    index == FLAT_RING3_SS64 >> 3) {
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

/*
 * A 64-bit iretq that stays in the current mode: on Xen the guest kernel runs in ring 3
 * on real descriptors, so it may iretq to itself (Linux's sync_core does, as iret_to_self)
 * and only the arithmetic flags, TF, DF, NT, AC and ID come from the frame; IF and IOPL
 * stay (CPL 3). lodger's guest selectors are kept not present, so the load faults here.
 * A change of mode or to 32-bit code is the iret hypercall's: #GP/#NP stands (false).
 */
static bool iret_same_mode(struct trap *t, const ZydisDecodedInstruction *in)
{
	/* CF PF AF ZF SF TF DF OF NT AC ID: what a CPL3 iretq takes from its frame */
	const uint64_t from_frame = 0x244dd5ULL;
	uint16_t cs_mode = t->g->user ? STUB_GUEST_USER_CS : STUB_GUEST_KERNEL_CS;
	uint16_t ss_mode = t->g->user ? STUB_GUEST_USER_DS : STUB_GUEST_KERNEL_DS;
	struct gview v = trap_view(t, t->g->user);
	struct gfault f;
	uint64_t frame[5]; /* rip, cs, rflags, rsp, ss */
	uint16_t cs, ss;

	if (in->operand_width != 64 || !gmem_read(&v, t->regs.rsp, frame, sizeof(frame), false, &f))
		return false;
	cs = (uint16_t)frame[1];
	ss = (uint16_t)frame[4];
	if (!t->g->user && cs == STUB_ALIAS_KERNEL_CS)
		cs = cs_mode; /* the kernel's own selectors as it reads them (personality.c) */
	if (!t->g->user && ss == STUB_ALIAS_KERNEL_DS)
		ss = ss_mode;
	if ((cs != cs_mode && cs != FLAT_RING3_CS64) ||
	    (ss != ss_mode && ss != FLAT_RING3_SS64 && (ss & ~3) != 0))
		return false;
	if ((uint64_t)((int64_t)(frame[0] << 16) >> 16) != frame[0])
		return false; /* a non-canonical RIP: #GP(0) on the iretq */
	t->regs.rip = frame[0];
	t->regs.rflags = (t->regs.rflags & ~from_frame & ~RFLAGS_RF) | (frame[2] & from_frame);
	t->regs.rsp = frame[3];
	return true;
}

/*
 * in/out under the virtual IOPL of PHYSDEVOP_set_iopl (Xen's iopl_ok: the kernel counts as
 * ring 1, or 0 with VMASST_TYPE_architectural_iopl; user mode as ring 3). lodger gives a
 * PV guest no I/O ports, as Xen a domU: reads are all ones, writes are dropped (Xen's
 * guest_io_read/write). String forms are not completed: their #GP stands.
 */
static bool iopl_ok(const struct xen_pstate *p)
{
	bool arch_iopl = p->guest->d.vm_assist & (1UL << VMASST_TYPE_architectural_iopl);
	unsigned cpl = !p->v.kernel_mode ? 3 : arch_iopl ? 0 : 1;

	return cpl <= p->v.iopl;
}

static bool port_io(struct xen_pstate *p, struct trap *t, const ZydisDecodedInstruction *in,
		    const ZydisDecodedOperand *ops)
{
	if (!iopl_ok(p))
		return false;
	if (in->mnemonic == ZYDIS_MNEMONIC_OUT)
		return true;
	if (ops[0].type != ZYDIS_OPERAND_TYPE_REGISTER || !ops[0].size || ops[0].size > 32)
		return false;
	return x86_reg_set(&t->regs, ops[0].reg.value, ~0ULL >> (64 - ops[0].size));
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
	switch (in.mnemonic) {
	case ZYDIS_MNEMONIC_IRETQ:
		if ((t->vector != VEC_NP && t->vector != VEC_GP) || !iret_same_mode(t, &in))
			return false;
		*status = finish(p, t, 0);
		return true;
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
