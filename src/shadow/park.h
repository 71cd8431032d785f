/*
 * park.h - sending the vCPU into the stub to wait or to do what only CPL0 can.
 *
 * A guest hlt parks the vCPU in the stub's idle loop until an interrupt; port I/O the
 * guest kernel asked for runs in the stub's trampolines, where KVM routes it to its
 * in-kernel devices. The guest's registers are kept meanwhile and given back after.
 */
#ifndef LODGER_PARK_H
#define LODGER_PARK_H

#include <stdbool.h>
#include <stdint.h>

#include "shadow/trap.h"

/* The guest's registers, kept while the stub ran (g->saved), become t's again. */
void park_give_back(struct trap *t);

/* Parks the vCPU in the idle loop; t->regs.rip is where the guest resumes. */
int park_halt(struct trap *t);

/* Has the stub perform a port access; the guest resumes at t->regs.rip afterwards. */
int park_port_io(struct trap *t, uint16_t port, unsigned size, bool in);

/* The trampoline's access is done (t holds the stub's registers): merges the value read
 * into the guest's saved registers and makes them t's. */
int park_finish_port_io(struct trap *t);

/* Has the stub write `value` to the xAPIC register at `offset` (apicmmio.h); the guest
 * resumes at t->regs.rip afterwards. */
int park_apic_write(struct trap *t, uint32_t offset, uint32_t value);

/* The trampoline's write is done (t holds the stub's registers): the guest's saved
 * registers become t's. */
int park_finish_apic_write(struct trap *t);

/* After an instruction lodger completed for the guest (a parked access, a dropped xAPIC
 * write): the single-step #DB the guest's TF asks for, through the personality as the
 * CPU would raise it (RIP after the instruction). */
int park_step_trap(struct trap *t);

/* An interrupt woke a parked hlt: t gets the guest's saved registers back. */
void park_wake(struct trap *t);

#endif
