/*
 * hypercall.h - the Xen PV hypercalls: one entry point, Xen's numbers and error codes.
 *
 * The trap path calls xen_hypercall_regs for a kernel-mode `syscall` (the guest's
 * hypercall page executes `mov $nr,%eax; syscall`): RAX is the number, RDI, RSI, RDX,
 * R10, R8 the arguments, and on return RAX holds the result (0 or a negative Xen errno,
 * <xen/errno.h>). Every guest pointer is read and written through xen_copy_from/to_guest
 * (the guest's own page tables, bounds-checked), so a hostile argument yields -EFAULT or
 * -EINVAL, never a host access outside guest RAM. Unknown numbers give -ENOSYS.
 * The iret hypercall is not here: it replaces the register state (xen/bounce.h).
 */
#ifndef LODGER_XEN_HYPERCALL_H
#define LODGER_XEN_HYPERCALL_H

#include <stdbool.h>
#include <stdint.h>

#include "xen/state.h"

/* Runs hypercall `nr` with arguments a[0..5]; returns the value for RAX. */
long xen_hypercall(struct xen_vcpu *v, uint64_t nr, const uint64_t a[6]);

/* From v->regs: RAX = nr, args RDI RSI RDX R10 R8 R9; the result goes to RAX. */
void xen_hypercall_regs(struct xen_vcpu *v);

/*
 * Preemption, as Xen's: a hypercall that takes a list (mmu_update, mmuext_op, multicall,
 * console_io's write) does at most XEN_HCALL_WORK_MAX units of work per trap (an entry, a
 * page table read, 256 bytes of console output)
 * and then asks to be made again (xen_continue: Xen's hypercall_create_continuation). The
 * guest resumes at its `syscall` with the arguments moved past the work done, and lodger's
 * run loop delivers events, serves its devices and hears Ctrl-A x in between: a guest's
 * list of 2^31 entries costs it time, never lodger's responsiveness. Inside a multicall
 * the continued call's new arguments go back into its entry, and the multicall continues
 * from that entry. One entry's work is never split: the search behind a writable mapping
 * of a page table (mm.c table_in_use) runs to its end, bounded by the guest's size.
 */
#define XEN_HCALL_WORK_MAX 1024
/* The top bit of mmu_update's and mmuext_op's count: a continued call, whose *pdone holds
 * the work done so far (Xen's MMU_UPDATE_PREEMPTED, internal to Xen's headers). */
#define XEN_MMU_UPDATE_PREEMPTED 0x80000000u

/* Whether the current hypercall has done its share (ask only once one unit is done). */
bool xen_preempt(const struct xen_vcpu *v);
/* Ends the current hypercall to be made again as hypercall `nr` with `args`. */
void xen_continue(struct xen_vcpu *v, uint64_t nr, const uint64_t args[6]);

/* The hypercall's name for -d xen and -stats ("mmu_update"), or NULL. */
const char *xen_hypercall_name(uint64_t nr);

/* Guest-linear copies in the current mode's page tables; 0 or -XEN_EFAULT. */
int xen_copy_from_guest(struct xen_vcpu *v, void *dst, uint64_t va, uint64_t len);
int xen_copy_to_guest(struct xen_vcpu *v, uint64_t va, const void *src, uint64_t len);

#endif
