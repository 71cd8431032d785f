/*
 * held.h - NMIs and interrupts taken while the vCPU runs a stub path, held for the guest.
 *
 * A stub path (an entry's exit, the port-I/O trampolines, the #GP fast path) runs at real
 * CPL0 with IF clear, but an NMI (LINT0 in NMI mode, a watchdog) can arrive at any
 * instruction. The event was meant for the guest: lodger holds it, lets the interrupted
 * stub code go on exactly where it was, and delivers the event to the guest on its way
 * back to the guest (stubexit.c). A path that returns to the guest without leaving the VM
 * (the #GP fast path's iretq) is single-stepped while something is held, so that lodger
 * sees the return and delivers at once.
 */
#ifndef LODGER_HELD_H
#define LODGER_HELD_H

#include <stdbool.h>
#include <stdint.h>

#include "shadow/trap.h"

/* What is held (one per guestcpu). */
struct held {
	bool nmi;	 /* an NMI (a second one while held is the same one, as on hardware) */
	uint64_t irq[4]; /* interrupt vectors, a bit each */
	bool stepping;	 /* the stub runs with TF set until it leaves for the guest */
};

/*
 * A vector exit whose hardware frame (rip, cs, rflags, rsp, ss) shows stub code. Holds an
 * NMI or interrupt, or takes the #DB of lodger's own stepping, and resumes the stub where
 * it was (t->parked: nothing else to do). Any other vector inside the stub, or a frame
 * outside the stub's code, ends the run (EXIT_INTERNAL) as a bug of lodger's.
 */
int held_take(struct trap *t, int vector, const uint64_t frame[5]);

/* A #DB in guest context: true when it is the end of lodger's stepping (the stub's
 * iretq returned to the guest), which the guest must not see. */
bool held_step_done(struct trap *t);

/* On the way back to the guest: delivers the held NMI, then the highest held interrupt
 * if the guest's IF allows it (else it stays held for a later resumption). */
int held_deliver(struct trap *t);

#endif
