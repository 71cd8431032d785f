/*
 * trapemu.h - what the Xen PV personality completes for the guest instead of bouncing
 * the exception, as Xen's own #UD/#GP/#PF handlers do (xen/arch/x86/pv/emul-inv-op.c,
 * emul-priv-op.c, traps.c):
 *   - the forced-emulation prefix `ud2a; .ascii "xen"; cpuid`: CPUID from the vCPU's
 *     table, Xen's leaves included (only cpuid, as Xen);
 *   - `int $n` (a #UD at CPL3 on kvm_pvm, a #GP on hardware): delivered through the trap
 *     table when its DPL allows it from the guest's mode (Xen's permit_softint), else
 *     #GP((n << 3) | 2); icebp as #DB; int3 as #BP;
 *   - mov/pop of Xen's flat selectors (FLAT_RING3_*, e.g. XTF's __USER_DS 0xe02b), or of
 *     the ones the guest reads back from %cs/%ss here, into a data segment register or SS
 *     (a #GP, #NP or #SS on the real GDT), and a same-privilege iretq/lretq through
 *     those flat code selectors (Linux's sync_core);
 *   - mov from CR0/CR2/CR3/CR4 and mov to/from %drN in kernel mode (set_debugreg's rules);
 *   - sidt/sgdt/sldt/str/smsw (Xen leaves CR4.UMIP clear for PV guests): Xen's values;
 *   - cli/sti and in/out under the virtual IOPL (iopl_ok): no-ops, all-ones reads;
 *   - wrmsr/rdmsr of FS_BASE, GS_BASE, SHADOW_GS_BASE from guest kernel mode (Linux's
 *     startup_xen writes GS_BASE before it has hypercalls);
 *   - reads of lodger's M2P (read-only, identity): Xen maps it for its guests; here it
 *     is not in the guest's tables (and its first slot cannot be mapped for CPL3 on
 *     kvm_pvm), so a #PF there from a `mov` load is completed exactly, and a write or
 *     fetch gets the #PF of a read-only, non-executable page.
 */
#ifndef LODGER_XEN_TRAPEMU_H
#define LODGER_XEN_TRAPEMU_H

#include <stdbool.h>
#include <stdint.h>

#include "xen/personality.h"

/* A #UD, #GP, #NP or #SS (t->vector): true when handled, with *status the trap path's
 * result. */
bool xen_trapemu(struct xen_pstate *p, struct trap *t, int *status);

/* Whether the virtual IOPL lets the guest kernel run cli/sti and in/out (as no-ops and
 * all-ones reads): the stub's #GP fast path completes its cli/sti then. */
bool xen_kernel_iopl_ok(const struct xen_pstate *p);

/* A #PF at cr2 with error code `error`: true when it was an M2P access (handled). */
bool xen_m2p_fault(struct xen_pstate *p, struct trap *t, uint64_t cr2, uint32_t error, int *status);

/* The M2P entry value of machine frame `mfn` (identity, or INVALID_M2P_ENTRY). */
uint64_t xen_m2p_entry(const struct xen_domain *d, uint64_t mfn);

/* CPUID leaf/subleaf from the vCPU's table (zeros when absent). */
void xen_cpuid(const struct xen_pstate *p, uint32_t leaf, uint32_t subleaf, uint32_t out[4]);

#endif
