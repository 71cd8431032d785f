/*
 * apicmmio.h - guest writes to the xAPIC page (APIC_MMIO_GPA) in shadow mode.
 *
 * KVM's in-kernel local APIC acts on what is written to it: an SMI, INIT or Start-up IPI
 * (ICR) or LVT delivery mode would reset the vCPU to real mode at real CPL0, enter SMM or
 * start code at a real-mode vector, behind lodger's back. So the shadow tables map the
 * page read-only (reads stay native), every write comes here, and lodger does the ones
 * that are safe itself, at CPL0 through the stub's window on the page (park.h), and drops
 * the others: the register keeps its value and nothing is sent. The x2APIC MSRs are
 * filtered by the same rule (privop.c).
 */
#ifndef LODGER_APICMMIO_H
#define LODGER_APICMMIO_H

#include <stdbool.h>
#include <stdint.h>

#include "shadow/trap.h"

/* A write of `value` to the register the x2APIC numbers `x2apic_index` (xAPIC offset
 * (index - 0x800) * 16) that lodger drops: the ICR or an LVT entry asking for SMI, INIT or
 * Start-up delivery. */
bool apicmmio_dropped(uint32_t x2apic_index, uint64_t value);

/*
 * The guest's instruction at RIP writes the xAPIC page at linear `la` (its tables allow
 * it). A 32-bit `mov` from a register or an immediate is done (parked in the stub) or
 * dropped, and RIP moves past it; any other form is the guest's #GP(0).
 */
int apicmmio_write(struct trap *t, uint64_t la);

#endif
