/*
 * syscall.h - the two ways a guest `syscall` reaches lodger, routed to the personality.
 *
 * Hardware KVM: syscall enters the stub's LSTAR entry at CPL0 and exits like any trap.
 * kvm_pvm: it reaches LSTAR at CPL3 and faults fetching the stub's supervisor page.
 * Either way the personality's syscall operation decides what it means, for user and for
 * kernel mode alike.
 */
#ifndef LODGER_SYSCALL_H
#define LODGER_SYSCALL_H

#include <stdbool.h>
#include <stdint.h>

#include "shadow/trap.h"

/* The stub's syscall entry ran (hardware KVM): CS/SS become the guest mode's. */
int syscall_from_stub(struct trap *t);

/* kvm_pvm: a fetch fault at `la` is a syscall when la is the stub's entry and the two
 * bytes before RCX are a syscall instruction (a plain jump there is a conflict). */
bool syscall_is_fetch_fault(struct trap *t, uint64_t la);

/* That syscall: ends a displaced-access step it was taken in, then routes it. */
int syscall_from_fetch_fault(struct trap *t);

#endif
