/*
 * debug.h - the GDB stub in direct mode: the guest kernel's registers are KVM's, its
 * breakpoints and steps are KVM's guest debugging (KVM_SET_GUEST_DEBUG), so the guest's
 * own int3 and TF stay its own.
 */
#ifndef LODGER_DIRECT_DEBUG_H
#define LODGER_DIRECT_DEBUG_H

struct vcpu;

/* mode->debug_stop: a stop the debugger asked for (-S, Ctrl-C, a connection). */
int direct_debug_stop(struct vcpu *vcpu);

/* KVM_EXIT_DEBUG: a breakpoint or a finished step. Returns 0 or an exit status. */
int direct_debug_exit(struct vcpu *vcpu);

#endif
