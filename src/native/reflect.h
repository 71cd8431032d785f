/*
 * reflect.h - delivering exceptions and interrupts through a native guest's own IDT.
 */
#ifndef LODGER_REFLECT_H
#define LODGER_REFLECT_H

#include <stdbool.h>
#include <stdint.h>

#include "shadow/gmem.h"
#include "shadow/trap.h"

/* Delivers `vector` to the guest; RIP in t->regs is the return address. Returns 0, or
 * EXIT_TRIPLE_FAULT when delivery fails beyond a double fault. */
int reflect_event(struct trap *t, unsigned vector, bool has_error, uint32_t error,
		  enum event_kind kind);

/* Delivers a fault lodger found while acting for the guest (a #PF sets CR2). */
int reflect_fault(struct trap *t, const struct gfault *f);

#endif
