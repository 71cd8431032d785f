/*
 * transport.h - moving the guest's registers between a struct trap and the vCPU.
 *
 * With KVM_CAP_SYNC_REGS they travel in kvm_run (two ioctls fewer per trap, each ~7 us on
 * kvm_pvm); without it, through KVM_GET/SET_REGS and _SREGS. Every KVM failure here is
 * reported by the ioctl's name and returned as EXIT_HOST_ERROR.
 */
#ifndef LODGER_TRANSPORT_H
#define LODGER_TRANSPORT_H

#include "shadow/trap.h"

struct vcpu;
struct guestcpu;

/* Reads the vCPU's registers into t. Returns 0 or EXIT_HOST_ERROR. */
int transport_load(struct trap *t);

/* Reads only the general registers again (RIP, RSP, RAX...): what completing an `out`
 * changes. Returns 0 or EXIT_HOST_ERROR. */
int transport_load_regs(struct trap *t);

/* Lets KVM complete the `out` the vCPU exited on (a KVM_RUN with immediate_exit), so that
 * RIP is past it. Returns 0 or EXIT_HOST_ERROR. */
int transport_complete_out(struct vcpu *vcpu);

/* Hands t's registers to the vCPU as they are. Returns 0 or EXIT_HOST_ERROR. */
int transport_commit(struct trap *t);

/* Loads the guest's context into the vCPU: real CR3 at the shadow root of its CR3 and
 * mode, the stub's tables, IOPL 0, the real IF the personality asks for. */
int transport_resume(struct trap *t);

/* Shadow entries were removed: KVM must not keep using what it derived from them. Where
 * KVM walks the tables in hardware, this waits for the stub's TLB flush, which
 * transport_resume runs before the guest's next instruction. */
int transport_sync_kvm(struct trap *t);

/* The stub's TLB flush exited (t holds the stub's registers): the flush is done, and t
 * gets back the guest's registers as transport_resume left them. */
int transport_finish_tlb_flush(struct trap *t);

/* The syscall MSRs point at the stub's entry: they move with it. */
int transport_set_syscall_msrs(struct vcpu *vcpu, struct guestcpu *g);

#endif
