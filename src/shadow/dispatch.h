/*
 * dispatch.h - what a trap from the guest is, and who deals with it.
 */
#ifndef LODGER_DISPATCH_H
#define LODGER_DISPATCH_H

#include "shadow/trap.h"

/*
 * t->vector (t->has_error, t->error) was raised in the guest, whose registers are in t.
 * The core keeps what deprivileging causes: shadow misses (filled, hidden), stub
 * conflicts, kvm_pvm's syscall fetch faults, #AC in guest kernel mode, int3 raised as #BP,
 * #DF and #MC (fatal). External interrupts go to the personality's deliver, every other
 * exception to its exception operation. Returns 0 or an exit status.
 */
int dispatch_trap(struct trap *t);

#endif
