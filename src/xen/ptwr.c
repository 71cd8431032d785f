/*
 * ptwr.c - emulated stores to the guest's read-only L1 page tables (xen/ptwr.h).
 *
 * Xen's order is kept: the fault must be a kernel-mode write to a present page (no
 * reserved bit, no fetch) with writable page tables enabled; the kernel's L1 entry for
 * cr2 must be present and read-only and name an L1 frame; the instruction's store must be
 * naturally aligned, at most 8 bytes and inside cr2's page. A sub-word store is widened to
 * the whole entry (ptwr_emulated_update) before the entry is checked.
 */
#include "xen/ptwr.h"

#include <string.h>

#include "arch/x86.h"
#include "arch/x86dec.h"
#include "shadow/pagewalk.h"
#include "xen/families.h"

#define RFLAGS_CF    (1ULL << 0)
#define RFLAGS_PF    (1ULL << 2)
#define RFLAGS_SF    (1ULL << 7)
#define RFLAGS_OF    (1ULL << 11)
#define RFLAGS_ARITH (RFLAGS_CF | RFLAGS_PF | (1ULL << 4) | RFLAGS_ZF | RFLAGS_SF | RFLAGS_OF)

struct ptwr {
	struct xen_vcpu *v;
	struct kvm_regs regs; /* x86dec's register file, copied from and back to v->regs */
	struct kvm_sregs sregs;
	ZydisDecodedInstruction insn;
	ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
	uint64_t cr2, l1_gpa; /* the faulting address; the L1 frame it lies in */
};

static void view(const struct xen_vcpu *v, struct gview *g)
{
	*g = (struct gview){
		.mem = v->d->mem,
		.cr3 = v->kernel_cr3,
		.wp = true,
		.nxe = v->nxe,
		.monitor_lo = v->d->mem->monitor_gpa,
		.monitor_hi = v->d->mem->monitor_gpa + v->d->mem->monitor_size,
	};
}

/* The kernel's L1 entry for va (Xen's guest_get_eff_kern_l1e); 0 when there is none. */
static uint64_t kernel_l1e(const struct xen_vcpu *v, uint64_t va)
{
	uint64_t table = v->kernel_cr3 & PTE_ADDR_MASK;

	for (unsigned level = 4; level >= 1; level--) {
		const uint64_t *e =
			gpa_ptr_guest(v->d->mem, table + ((va >> (3 + 9 * level)) & 511) * 8, 8);

		if (!e || !(*e & PTE_P))
			return 0;
		if (level == 1)
			return *e;
		if (*e & PTE_PS)
			return 0; /* a PV guest has no superpages: not a ptwr case */
		table = *e & PTE_ADDR_MASK;
	}
	return 0;
}

static void copy_in(struct ptwr *p)
{
	const struct xen_regs *r = &p->v->regs;

	p->regs = (struct kvm_regs){
		.rax = r->rax,
		.rbx = r->rbx,
		.rcx = r->rcx,
		.rdx = r->rdx,
		.rsi = r->rsi,
		.rdi = r->rdi,
		.rsp = r->rsp,
		.rbp = r->rbp,
		.r8 = r->r8,
		.r9 = r->r9,
		.r10 = r->r10,
		.r11 = r->r11,
		.r12 = r->r12,
		.r13 = r->r13,
		.r14 = r->r14,
		.r15 = r->r15,
		.rip = r->rip,
		.rflags = r->rflags,
	};
	memset(&p->sregs, 0, sizeof(p->sregs));
	p->sregs.fs.base = p->v->fs_base;
	p->sregs.gs.base = p->v->gs_base_kernel; /* kernel mode: the kernel's GS */
}

static void copy_out(const struct ptwr *p)
{
	struct xen_regs *r = &p->v->regs;

	r->rax = p->regs.rax, r->rbx = p->regs.rbx, r->rcx = p->regs.rcx, r->rdx = p->regs.rdx;
	r->rsi = p->regs.rsi, r->rdi = p->regs.rdi, r->rsp = p->regs.rsp, r->rbp = p->regs.rbp;
	r->r8 = p->regs.r8, r->r9 = p->regs.r9, r->r10 = p->regs.r10, r->r11 = p->regs.r11;
	r->r12 = p->regs.r12, r->r13 = p->regs.r13, r->r14 = p->regs.r14, r->r15 = p->regs.r15;
	r->rip = p->regs.rip, r->rflags = p->regs.rflags;
}

/* Reads as much of the instruction at RIP as is mapped; false with *f if none is. */
static bool fetch(struct ptwr *p, struct gfault *f)
{
	struct gview g;
	uint8_t bytes[ZYDIS_MAX_INSTRUCTION_LENGTH];
	unsigned n;

	view(p->v, &g);
	for (n = sizeof(bytes); n > 0; n--) {
		struct gfault ignored;

		if (gmem_read(&g, p->regs.rip, bytes, n, true, n == 1 ? f : &ignored))
			break;
	}
	if (!n)
		return false;
	return x86_decode(bytes, n, false, &p->insn, p->ops);
}

static uint64_t mask_of(unsigned bytes)
{
	return bytes >= 8 ? ~0ULL : (1ULL << (bytes * 8)) - 1;
}

/*
 * Xen's ptwr_emulated_update: old is NULL for a plain store, else the value a locked
 * store expects (on a mismatch the current value goes back through it). Returns
 * XEN_PTWR_DONE, XEN_PTWR_RETRY (cmpxchg failed) or XEN_PTWR_NOT_MINE.
 */
static enum xen_ptwr update(struct ptwr *p, uint64_t addr, uint64_t *old, uint64_t val,
			    unsigned bytes)
{
	struct xen_domain *d = p->v->d;
	unsigned shift = (unsigned)(addr & 7) * 8;
	uint64_t entry_gpa = p->l1_gpa + (addr & 4095 & ~7ULL), *pte, full, want = 0;

	if (((addr ^ p->cr2) & ~4095ULL) || (addr & (bytes - 1)))
		return XEN_PTWR_NOT_MINE; /* "bad access": unaligned, or outside cr2's page */
	pte = gpa_ptr_guest(d->mem, entry_gpa, 8);
	if (!pte)
		return XEN_PTWR_NOT_MINE;
	full = __atomic_load_n(pte, __ATOMIC_RELAXED);
	if (bytes != 8) { /* widen to the whole entry */
		val = (full & ~(mask_of(bytes) << shift)) | ((val & mask_of(bytes)) << shift);
		if (old)
			want = (full & ~(mask_of(bytes) << shift)) |
			       ((*old & mask_of(bytes)) << shift);
	} else if (old) {
		want = *old;
	}
	if (xen_l1e_check(p->v, val))
		return XEN_PTWR_NOT_MINE; /* "could not get_page_from_l1e()" */
	if (old) {
		uint64_t seen = want;

		if (!__atomic_compare_exchange_n(pte, &seen, val, false, __ATOMIC_SEQ_CST,
						 __ATOMIC_SEQ_CST)) {
			*old = (seen >> shift) & mask_of(bytes);
			return XEN_PTWR_RETRY;
		}
	} else {
		__atomic_store_n(pte, val, __ATOMIC_SEQ_CST);
	}
	d->ptwr_emulated++;
	if (p->v->hooks && p->v->hooks->pte_written)
		p->v->hooks->pte_written(p->v->opaque, entry_gpa, 8);
	return XEN_PTWR_DONE;
}

static bool parity_even(uint64_t x)
{
	return !__builtin_parity((unsigned)(x & 0xff));
}

/* RFLAGS after a logical operation (and, or, xor) with result res of `bytes`. */
static uint64_t flags_logic(uint64_t rflags, uint64_t res, unsigned bytes)
{
	res &= mask_of(bytes);
	rflags &= ~RFLAGS_ARITH;
	if (!res)
		rflags |= RFLAGS_ZF;
	if (res >> (bytes * 8 - 1))
		rflags |= RFLAGS_SF;
	if (parity_even(res))
		rflags |= RFLAGS_PF;
	return rflags;
}

/* RFLAGS after a - b (cmpxchg's comparison), `bytes` wide. */
static uint64_t flags_sub(uint64_t rflags, uint64_t a, uint64_t b, unsigned bytes)
{
	uint64_t m = mask_of(bytes), res = (a - b) & m, sign = 1ULL << (bytes * 8 - 1);

	a &= m, b &= m;
	rflags = flags_logic(rflags, res, bytes);
	if (a < b)
		rflags |= RFLAGS_CF;
	if (((a ^ b) & (a ^ res)) & sign)
		rflags |= RFLAGS_OF;
	if ((a ^ b ^ res) & 0x10)
		rflags |= 1ULL << 4; /* AF */
	return rflags;
}

/* The value of source operand `op` (a register or an immediate), `bytes` wide. */
static bool source(const struct ptwr *p, const ZydisDecodedOperand *op, unsigned bytes,
		   uint64_t *val)
{
	if (op->type == ZYDIS_OPERAND_TYPE_REGISTER) {
		if (!x86_reg_get(&p->regs, op->reg.value, val))
			return false;
	} else if (op->type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
		*val = op->imm.is_signed ? (uint64_t)op->imm.value.s : op->imm.value.u;
	} else {
		return false;
	}
	*val &= mask_of(bytes);
	return true;
}

static enum xen_ptwr emulate(struct ptwr *p)
{
	const ZydisDecodedOperand *dst = &p->ops[0], *src = &p->ops[1];
	bool locked = p->insn.attributes & ZYDIS_ATTRIB_HAS_LOCK;
	unsigned bytes = dst->size / 8;
	uint64_t addr, cur, val, res, *word;
	enum xen_ptwr r;

	if (dst->type != ZYDIS_OPERAND_TYPE_MEMORY || p->insn.operand_count_visible < 2 ||
	    !x86_operand_address(&p->regs, &p->sregs, &p->insn, dst, &addr))
		return XEN_PTWR_NOT_MINE;
	if (!bytes || bytes > 8 || (bytes & (bytes - 1)) || !source(p, src, bytes, &val))
		return XEN_PTWR_NOT_MINE; /* "bad write size" */

	if (p->insn.mnemonic == ZYDIS_MNEMONIC_BTS || p->insn.mnemonic == ZYDIS_MNEMONIC_BTR ||
	    p->insn.mnemonic == ZYDIS_MNEMONIC_BTC) {
		int64_t bit = (int64_t)val;

		if (src->type == ZYDIS_OPERAND_TYPE_REGISTER) {
			/* a register bit offset is signed and may leave the operand */
			bit = bytes == 8 ? (int64_t)val : bytes == 4 ? (int32_t)val : (int16_t)val;
			addr += (uint64_t)((bit >> (bytes == 8	 ? 6
						    : bytes == 4 ? 5
								 : 4)) *
					   (int64_t)bytes);
		}
		bit &= bytes * 8 - 1;
		val = 1ULL << bit;
	}
	/* the current value, through the L1 frame (update() checks addr's page) */
	if ((addr ^ p->cr2) & ~4095ULL)
		return XEN_PTWR_NOT_MINE;
	word = gpa_ptr_guest(p->v->d->mem, p->l1_gpa + (addr & 4095 & ~7ULL), 8);
	if (!word)
		return XEN_PTWR_NOT_MINE;
	cur = (__atomic_load_n(word, __ATOMIC_RELAXED) >> ((addr & 7) * 8)) & mask_of(bytes);

	switch (p->insn.mnemonic) {
	case ZYDIS_MNEMONIC_MOV:
		return update(p, addr, NULL, val, bytes);
	case ZYDIS_MNEMONIC_XCHG: /* always locked */
		if (src->type != ZYDIS_OPERAND_TYPE_REGISTER)
			return XEN_PTWR_NOT_MINE;
		r = update(p, addr, &cur, val, bytes);
		if (r == XEN_PTWR_DONE)
			x86_reg_set(&p->regs, src->reg.value, cur);
		return r;
	case ZYDIS_MNEMONIC_CMPXCHG: {
		uint64_t acc = p->regs.rax & mask_of(bytes), seen = cur;

		p->regs.rflags = flags_sub(p->regs.rflags, acc, cur, bytes);
		if (acc == cur) {
			r = update(p, addr, &seen, val, bytes);
			if (r != XEN_PTWR_RETRY)
				return r;
			/* changed under us: the cmpxchg failed with what is there now */
			p->regs.rflags = flags_sub(p->regs.rflags, acc, seen, bytes);
		}
		x86_reg_set(&p->regs,
			    bytes == 8	 ? ZYDIS_REGISTER_RAX
			    : bytes == 4 ? ZYDIS_REGISTER_EAX
			    : bytes == 2 ? ZYDIS_REGISTER_AX
					 : ZYDIS_REGISTER_AL,
			    seen);
		return XEN_PTWR_DONE; /* a failed cmpxchg writes nothing new */
	}
	case ZYDIS_MNEMONIC_AND:
	case ZYDIS_MNEMONIC_OR:
	case ZYDIS_MNEMONIC_XOR:
		res = p->insn.mnemonic == ZYDIS_MNEMONIC_AND  ? cur & val
		      : p->insn.mnemonic == ZYDIS_MNEMONIC_OR ? cur | val
							      : cur ^ val;
		r = update(p, addr, locked ? &cur : NULL, res, bytes);
		if (r == XEN_PTWR_DONE)
			p->regs.rflags = flags_logic(p->regs.rflags, res, bytes);
		return r;
	case ZYDIS_MNEMONIC_BTS:
	case ZYDIS_MNEMONIC_BTR:
	case ZYDIS_MNEMONIC_BTC: {
		bool was = cur & val;

		res = p->insn.mnemonic == ZYDIS_MNEMONIC_BTS   ? cur | val
		      : p->insn.mnemonic == ZYDIS_MNEMONIC_BTR ? cur & ~val
							       : cur ^ val;
		r = update(p, addr, locked ? &cur : NULL, res, bytes);
		if (r == XEN_PTWR_DONE)
			p->regs.rflags = (p->regs.rflags & ~RFLAGS_CF) | (was ? RFLAGS_CF : 0);
		return r;
	}
	default:
		return XEN_PTWR_NOT_MINE;
	}
}

enum xen_ptwr xen_ptwr_fault(struct xen_vcpu *v, uint64_t cr2, uint32_t pfec, struct gfault *f)
{
	struct ptwr p = {.v = v, .cr2 = cr2};
	uint64_t l1e, mfn;
	enum xen_ptwr r;

	f->vector = 0;

	/* Xen's fixup_page_fault conditions for ptwr */
	if (!v->kernel_mode || (pfec & (PFEC_RSVD | PFEC_I)) || !(pfec & PFEC_W) ||
	    !(pfec & PFEC_P) || !(v->d->vm_assist & (1UL << VMASST_TYPE_writable_pagetables)))
		return XEN_PTWR_NOT_MINE;
	if (cr2 >= __HYPERVISOR_VIRT_START && cr2 < __HYPERVISOR_VIRT_END)
		return XEN_PTWR_NOT_MINE;
	l1e = kernel_l1e(v, cr2);
	if ((l1e & (PTE_P | PTE_W)) != PTE_P)
		return XEN_PTWR_NOT_MINE; /* only read-only mappings */
	mfn = (l1e & PTE_ADDR_MASK) >> 12;
	if (!xen_frame_ok(v->d, mfn) || (v->d->frame_type[mfn] & XEN_FRAME_LEVEL) != 1)
		return XEN_PTWR_NOT_MINE; /* only L1 page tables are emulated */
	p.l1_gpa = mfn << 12;
	copy_in(&p);
	if (!fetch(&p, f))
		return f->vector ? XEN_PTWR_FAULT : XEN_PTWR_NOT_MINE;
	r = emulate(&p);
	if (r == XEN_PTWR_DONE) {
		p.regs.rip += p.insn.length;
		copy_out(&p);
	}
	return r;
}
