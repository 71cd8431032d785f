/*
 * bounce.h - entering the guest kernel as Xen does: exception bounces through the trap
 * table, event upcalls, the user-mode syscall callback, and the iret hypercall.
 *
 * Each builds or pops Xen's frame on the guest kernel's stack (xen/arch/x86/x86_64/entry.S
 * create_bounce_frame): from low to high RCX, R11, [error code], RIP, CS (with the saved
 * upcall mask in bits 32-39), RFLAGS (IF = the saved virtual IF), RSP, SS. From user mode
 * the frame goes on the stack_switch stack and the vCPU enters kernel mode. Afterwards the
 * core loads v->regs, the root and GS base of the current mode (v->kernel_mode), and
 * resumes. A guest that makes delivery impossible (no handler, a stack in the hole or not
 * mapped) crashes its domain as on Xen: d->shut_down with SHUTDOWN_crash, and -1.
 */
#ifndef LODGER_XEN_BOUNCE_H
#define LODGER_XEN_BOUNCE_H

#include <stdbool.h>
#include <stdint.h>

#include "xen/state.h"

/* Exception `vector` (an error code when has_error; CR2 for #PF, also into vcpu_info). */
int xen_bounce_exception(struct xen_vcpu *v, unsigned vector, bool has_error, uint32_t error,
			 uint64_t cr2);

/* True when vcpu_info says an upcall is pending and events are not masked. */
bool xen_event_pending(struct xen_vcpu *v);

/* Delivers the event upcall (events masked in the handler); 0, or -1 as above. */
int xen_deliver_event(struct xen_vcpu *v);

/* A user-mode `syscall` (regs as the instruction leaves them: RCX = RIP = the next
 * instruction, R11 = RFLAGS): to the syscall callback, or #UD without one. */
int xen_bounce_syscall(struct xen_vcpu *v);

/* The iret hypercall: pops struct iret_context at RSP; 0, or -1 (domain crashed). */
int xen_iret(struct xen_vcpu *v);

#endif
