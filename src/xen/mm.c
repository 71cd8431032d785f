/*
 * mm.c - page-table hypercalls: mmu_update, update_va_mapping, mmuext_op.
 *
 * lodger keeps its shadow tables: a guest table write is applied to guest RAM and then
 * reported to the core (hooks->pte_written), which drops the shadow entries derived from
 * it. Xen's refusals that keep the model intact are kept: no L4 entry in the hypervisor
 * hole, no writable mapping of a page-table frame, no superpages, frames inside the
 * guest's memory only (shared_info may be mapped).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shadow/pagewalk.h"
#include "xen/families.h"
#include "xen/domain.h"
#include "xen/grant.h"
#include "xen/hypercall.h"

#define L4_HOLE_FIRST 256 /* slots of [HYPERVISOR_VIRT_START, HYPERVISOR_VIRT_END) */
#define L4_HOLE_LAST  271

static uint8_t level_of(const struct xen_domain *d, uint64_t mfn)
{
	return xen_frame_ok(d, mfn) ? d->frame_type[mfn] & XEN_FRAME_LEVEL : 0;
}

/*
 * One search for a frame in the guest's trees. A frame read as a level-3 or level-2 table
 * once, without a find, is not read at that level again (seen[]): however many L4s a
 * guest pins and however its tables share or point at themselves, a search reads at most
 * 3 * nr_pages tables.
 */
struct tree_search {
	const struct xen_domain *d;
	uint64_t *seen[2]; /* bit per frame: read as a level-(2 + i) table already */
	uint64_t tables;   /* tables read: the work it took */
};

static bool first_visit(struct tree_search *w, uint64_t table, unsigned tlevel)
{
	uint64_t *word = &w->seen[tlevel - 2][table / 64], bit = 1ULL << (table % 64);

	if (*word & bit)
		return false;
	*word |= bit;
	return true;
}

/* Whether the level-`tlevel` table `table` reaches frame `mfn` as a level-`level` table. */
static bool reaches(struct tree_search *w, uint64_t table, unsigned tlevel, uint64_t mfn,
		    unsigned level)
{
	const uint64_t *t;

	if (tlevel < 4 && !first_visit(w, table, tlevel))
		return false; /* searched from here already: not found */
	t = gpa_ptr_guest(w->d->mem, table * XEN_PAGE_SIZE, XEN_PAGE_SIZE);
	if (!t)
		return false;
	w->tables++;
	for (unsigned i = 0; i < 512; i++) {
		uint64_t e = t[i], child = (e & PTE_ADDR_MASK) >> 12;

		if (!(e & PTE_P) || (tlevel == 4 && i >= L4_HOLE_FIRST && i <= L4_HOLE_LAST))
			continue;
		if (tlevel - 1 == level ? child == mfn
					: tlevel - 1 > level && xen_frame_ok(w->d, child) &&
						  reaches(w, child, tlevel - 1, mfn, level))
			return true;
	}
	return false;
}

static bool is_root(const struct xen_vcpu *v, uint64_t f)
{
	const struct xen_domain *d = v->d;

	return d->frame_type[f] == (XEN_FRAME_L4 | XEN_FRAME_PINNED) ||
	       ((d->frame_type[f] & XEN_FRAME_LEVEL) == 4 &&
		(f == v->kernel_cr3 >> 12 || (v->user_cr3 && f == v->user_cr3 >> 12)));
}

/*
 * Whether page-table frame mfn (typed `level`, not pinned itself) is still in use: a base
 * pointer, or part of the tree of a pinned L4 or of one loaded as a base pointer (Xen's
 * type references). Xen keeps a type count and a table whose count drops to 0 becomes
 * ordinary memory again (Linux maps Xen's bootstrap L3 and L2 writable once it has left
 * them); lodger keeps no counts, so it looks when a writable mapping asks, and the
 * frame's type is dropped when nothing reaches it. The search is the hypercall's work
 * (xen_preempt), bounded by the guest's size.
 */
static bool table_in_use(struct xen_vcpu *v, uint64_t mfn, unsigned level)
{
	struct xen_domain *d = v->d;
	uint64_t words = (d->nr_pages + 63) / 64;
	struct tree_search w = {.d = d};
	bool found = false;

	if ((d->frame_type[mfn] & XEN_FRAME_PINNED) || is_root(v, mfn))
		return true;
	if (level < 4) {
		w.seen[0] = calloc(2 * words, sizeof(uint64_t));
		if (!w.seen[0])
			return true; /* cannot look: refused, as a table in use would be */
		w.seen[1] = w.seen[0] + words;
		for (uint64_t f = 0; f < d->nr_pages && !found; f++)
			found = is_root(v, f) && reaches(&w, f, 4, mfn, level);
		free(w.seen[0]);
	}
	v->hcall_work += d->nr_pages / 512 + w.tables; /* the scan, the tables read */
	if (!found)
		d->frame_type[mfn] = XEN_FRAME_NONE;
	return found;
}

/* Xen's checks on a new entry `val` for slot `slot` of a table of `level` (0: unknown). */
static long check_entry(struct xen_vcpu *v, unsigned level, unsigned slot, uint64_t val)
{
	struct xen_domain *d = v->d;
	uint64_t mfn = (val & PTE_ADDR_MASK) >> 12;

	if (level == 4 && slot >= L4_HOLE_FIRST && slot <= L4_HOLE_LAST)
		return -XEN_EINVAL; /* "Illegal L4 update attempt in Xen-private area" */
	if (!(val & PTE_P))
		return 0;
	if (level == 1) {
		if (!xen_frame_ok(d, mfn) && mfn * XEN_PAGE_SIZE != d->shared_info_gpa &&
		    !xen_gnttab_frame(d->gnttab, mfn))
			return -XEN_EINVAL;
		if ((val & PTE_W) && level_of(d, mfn) && table_in_use(v, mfn, level_of(d, mfn)))
			return -XEN_EINVAL; /* a writable mapping of a page-table frame */
		return 0;
	}
	if (level >= 2) {
		unsigned target;

		if ((val & PTE_PS) || !xen_frame_ok(d, mfn))
			return -XEN_EINVAL;
		/* Xen's get_page_from_lNe: the frame must be a table of the level below; one
		 * of the same level is a linear page table, allowed read-only only (XSA-182:
		 * a writable one would let the guest write its tables unchecked) */
		target = level_of(d, mfn);
		if (target == level && (val & PTE_W))
			return -XEN_EINVAL;
		if (target && target != level && target != level - 1)
			return -XEN_EINVAL;
	}
	return 0;
}

/* Writes a validated entry at guest-physical gpa (8-aligned) and tells the core. */
static long write_entry(struct xen_vcpu *v, uint64_t gpa, uint64_t val, bool preserve_ad)
{
	uint64_t *e = gpa_ptr_guest(v->d->mem, gpa, 8);

	if (!e)
		return -XEN_EINVAL;
	if (preserve_ad)
		val = (val & ~(PTE_A | PTE_D)) | (*e & (PTE_A | PTE_D));
	*e = val;
	if (v->hooks && v->hooks->pte_written)
		v->hooks->pte_written(v->opaque, gpa, 8);
	return 0;
}

static long one_update(struct xen_vcpu *v, const struct mmu_update *u)
{
	uint64_t gpa = u->ptr & ~7ULL, mfn = gpa >> 12;
	unsigned cmd = u->ptr & 3;

	switch (cmd) {
	case MMU_NORMAL_PT_UPDATE:
	case MMU_PT_UPDATE_PRESERVE_AD: {
		long r;

		if (!xen_frame_ok(v->d, mfn))
			return -XEN_EINVAL;
		r = check_entry(v, level_of(v->d, mfn), (gpa & 4095) / 8, u->val);
		return r ? r : write_entry(v, gpa, u->val, cmd == MMU_PT_UPDATE_PRESERVE_AD);
	}
	case MMU_MACHPHYS_UPDATE:
		/* the M2P is lodger's identity: only the identity is accepted */
		mfn = u->ptr >> 12;
		return xen_frame_ok(v->d, mfn) && u->val == mfn ? 0 : -XEN_EINVAL;
	default:
		return -XEN_ENOSYS;
	}
}

/*
 * The loop of mmu_update and mmuext_op, as Xen's: entries of `size` bytes from list, each
 * done by one(); *done_va (if any) gets the count done, added to what it held when the
 * call is a continued one. Preempted (xen/hypercall.h), the call continues with the list
 * and count moved past what is done.
 */
static long each_entry(struct xen_vcpu *v, uint64_t nr, const uint64_t a[6], size_t size,
		       long (*one)(struct xen_vcpu *v, const void *entry))
{
	uint64_t list = a[0], count = (uint32_t)a[1] & ~XEN_MMU_UPDATE_PREEMPTED, done_va = a[2];
	uint32_t done = 0;
	uint64_t i = 0;
	long r = 0;

	if ((domid_t)a[3] != DOMID_SELF)
		return -XEN_EPERM; /* foreign updates need privilege lodger never grants */
	if (((uint32_t)a[1] & XEN_MMU_UPDATE_PREEMPTED) && done_va &&
	    xen_copy_from_guest(v, &done, done_va, sizeof(done)))
		done = 0; /* as Xen: the count restarts */
	for (; i < count; i++) {
		union {
			struct mmu_update u;
			struct mmuext_op op;
		} entry;

		if (i && xen_preempt(v)) {
			const uint64_t rest[6] = {list + i * size,
						  (count - i) | XEN_MMU_UPDATE_PREEMPTED, done_va,
						  a[3]};

			xen_continue(v, nr, rest);
			break;
		}
		v->hcall_work++;
		r = xen_copy_from_guest(v, &entry, list + i * size, size);
		if (r || (r = one(v, &entry)))
			break;
	}
	if (done_va && xen_copy_to_guest(v, done_va, &(uint32_t){done + (uint32_t)i}, 4) &&
	    !v->cont.pending)
		return -XEN_EFAULT; /* continued, Xen ignores it: the next round writes again */
	return r;
}

static long one_update_entry(struct xen_vcpu *v, const void *entry)
{
	return one_update(v, entry);
}

long xen_mmu_update(struct xen_vcpu *v, const uint64_t a[6])
{
	return each_entry(v, __HYPERVISOR_mmu_update, a, sizeof(struct mmu_update),
			  one_update_entry);
}

/* The guest-physical address of the L1 entry for va in the kernel's tables, in a frame of
 * the guest's own that is no higher-level table (Xen: the frame must be an L1); false
 * where there is none. */
static bool l1e_of(struct xen_vcpu *v, uint64_t va, uint64_t *l1e)
{
	uint64_t table = v->kernel_cr3 & PTE_ADDR_MASK;

	for (unsigned level = 4; level > 1; level--) {
		uint64_t *e =
			gpa_ptr_guest(v->d->mem, table + ((va >> (3 + 9 * level)) & 511) * 8, 8);

		if (!e || !(*e & PTE_P) || (*e & PTE_PS))
			return false;
		table = *e & PTE_ADDR_MASK;
	}
	if (!xen_frame_ok(v->d, table >> 12) || level_of(v->d, table >> 12) > 1)
		return false; /* lodger's frames; an L2-L4 reached through a linear mapping */
	*l1e = table + ((va >> 12) & 511) * 8;
	return true;
}

static bool canonical(uint64_t va)
{
	return (uint64_t)((int64_t)(va << 16) >> 16) == va;
}

static bool in_hole(uint64_t va)
{
	return va >= __HYPERVISOR_VIRT_START && va < __HYPERVISOR_VIRT_END;
}

static void flush(struct xen_vcpu *v, unsigned type, uint64_t va)
{
	if (!v->hooks)
		return;
	if (type == UVMF_TLB_FLUSH && v->hooks->flush_all)
		v->hooks->flush_all(v->opaque);
	else if (type == UVMF_INVLPG && v->hooks->invlpg)
		v->hooks->invlpg(v->opaque, va);
}

long xen_update_va_mapping(struct xen_vcpu *v, const uint64_t a[6])
{
	uint64_t va = a[0], val = a[1], flags = a[2], pte;
	long r;

	if (!canonical(va) || in_hole(va))
		return -XEN_EINVAL;
	if (!l1e_of(v, va, &pte))
		return -XEN_EINVAL; /* Xen: no L1 table for va */
	r = check_entry(v, 1, 0, val);
	if (r || (r = write_entry(v, pte, val, false)))
		return r;
	flush(v, flags & UVMF_FLUSHTYPE_MASK, va);
	return 0;
}

static long pin(struct xen_domain *d, uint64_t mfn, unsigned level)
{
	if (!xen_frame_ok(d, mfn) || (d->frame_type[mfn] & XEN_FRAME_PINNED))
		return -XEN_EINVAL;
	if (level_of(d, mfn) && level_of(d, mfn) != level)
		return -XEN_EINVAL; /* typed as another level */
	d->frame_type[mfn] = (uint8_t)(level | XEN_FRAME_PINNED);
	return 0;
}

/* An L4 pinned or loaded gets lodger's M2P slot (the hole is Xen's, never the guest's) */
static void m2p_slot(struct xen_vcpu *v, uint64_t mfn)
{
	if (xen_m2p_install(v->d, mfn) && v->hooks && v->hooks->pte_written)
		v->hooks->pte_written(
			v->opaque, mfn * XEN_PAGE_SIZE + ((XEN_M2P_REPORTED >> 39) & 511) * 8, 8);
}

static long new_baseptr(struct xen_vcpu *v, uint64_t mfn, bool user)
{
	if (user && mfn == 0) {
		v->user_cr3 = 0;
		return 0;
	}
	if (!xen_frame_ok(v->d, mfn) || (level_of(v->d, mfn) && level_of(v->d, mfn) != 4))
		return -XEN_EINVAL;
	if (!level_of(v->d, mfn))
		v->d->frame_type[mfn] = XEN_FRAME_L4;
	m2p_slot(v, mfn);
	if (user)
		v->user_cr3 = mfn << 12;
	else
		v->kernel_cr3 = mfn << 12;
	if (v->hooks && v->hooks->new_root)
		v->hooks->new_root(v->opaque, user, mfn << 12);
	return 0;
}

static long one_ext(struct xen_vcpu *v, const struct mmuext_op *op)
{
	struct xen_domain *d = v->d;
	uint64_t mfn = op->arg1.mfn;

	if (op->cmd < 64)
		d->subops[__HYPERVISOR_mmuext_op][op->cmd]++;
	switch (op->cmd) {
	case MMUEXT_PIN_L1_TABLE:
	case MMUEXT_PIN_L2_TABLE:
	case MMUEXT_PIN_L3_TABLE:
	case MMUEXT_PIN_L4_TABLE: {
		long r = pin(d, mfn, op->cmd - MMUEXT_PIN_L1_TABLE + 1);

		if (!r && v->hooks && v->hooks->pinned)
			v->hooks->pinned(v->opaque);
		if (!r && op->cmd == MMUEXT_PIN_L4_TABLE)
			m2p_slot(v, mfn);
		return r;
	}
	case MMUEXT_UNPIN_TABLE:
		if (!xen_frame_ok(d, mfn) || !(d->frame_type[mfn] & XEN_FRAME_PINNED))
			return -XEN_EINVAL;
		d->frame_type[mfn] = XEN_FRAME_NONE;
		return 0;
	case MMUEXT_NEW_BASEPTR:
		return new_baseptr(v, mfn, false);
	case MMUEXT_NEW_USER_BASEPTR:
		return new_baseptr(v, mfn, true);
	case MMUEXT_TLB_FLUSH_LOCAL:
	case MMUEXT_TLB_FLUSH_MULTI:
	case MMUEXT_TLB_FLUSH_ALL:
		flush(v, UVMF_TLB_FLUSH, 0);
		return 0;
	case MMUEXT_INVLPG_LOCAL:
	case MMUEXT_INVLPG_MULTI:
	case MMUEXT_INVLPG_ALL:
		if (canonical(op->arg1.linear_addr)) /* Xen ignores a non-canonical one */
			flush(v, UVMF_INVLPG, op->arg1.linear_addr);
		return 0;
	case MMUEXT_SET_LDT: {
		uint64_t base = op->arg1.linear_addr, ents = op->arg2.nr_ents;

		/* Xen: at most 8192 entries, page-aligned, clear of the hole */
		if (ents > 8192 || (base & 4095) || !canonical(base) ||
		    (ents && (in_hole(base) || !canonical(base + ents * 8 - 1) ||
			      in_hole(base + ents * 8 - 1))))
			return -XEN_EINVAL;
		v->ldt_base = base;
		v->ldt_ents = (unsigned)ents;
		return 0;
	}
	default:
		return -XEN_ENOSYS;
	}
}

static long one_ext_entry(struct xen_vcpu *v, const void *entry)
{
	return one_ext(v, entry);
}

long xen_mmuext_op(struct xen_vcpu *v, const uint64_t a[6])
{
	return each_entry(v, __HYPERVISOR_mmuext_op, a, sizeof(struct mmuext_op), one_ext_entry);
}

long xen_l1e_check(struct xen_vcpu *v, uint64_t val)
{
	return check_entry(v, 1, 0, val);
}
