/*
 * ptwr.h - writable page tables (VMASST_TYPE_writable_pagetables), as Xen's
 * xen/arch/x86/pv/ro-page-fault.c does them.
 *
 * A PV kernel maps its page-table pages read-only and changes them mostly by hypercall;
 * but some updates are plain stores (Linux's fork write-protects a PTE with `lock andb`,
 * vunmap clears one with `xchg`). Such a store faults (#PF, present, write). When the
 * faulting page is one of the guest's L1 tables, the store is decoded, the new entry is
 * checked exactly as mmu_update checks it, and applied (a locked store with cmpxchg
 * semantics); the core is told through hooks->pte_written, as for mmu_update. Anything
 * else - another level, an entry mmu_update would refuse, a store that is unaligned or
 * leaves the faulting page, an instruction lodger does not emulate - is Xen's
 * X86EMUL_UNHANDLEABLE: the original #PF goes to the guest.
 */
#ifndef LODGER_XEN_PTWR_H
#define LODGER_XEN_PTWR_H

#include <stdint.h>

#include "shadow/gmem.h"
#include "xen/state.h"

enum xen_ptwr {
	XEN_PTWR_NOT_MINE, /* not an emulated page-table write: bounce the original #PF */
	XEN_PTWR_DONE,	   /* emulated: v->regs are past the instruction */
	XEN_PTWR_RETRY,	   /* nothing changed: resume at the same instruction */
	XEN_PTWR_FAULT,	   /* the emulation itself faulted: bounce *f instead */
};

/*
 * A #PF taken by the guest at linear address cr2 with error code pfec (PFEC_*), v->regs
 * as at the fault. Reads the instruction at RIP in the guest kernel's tables.
 */
enum xen_ptwr xen_ptwr_fault(struct xen_vcpu *v, uint64_t cr2, uint32_t pfec, struct gfault *f);

#endif
