/*
 * conflict.h - the guest touched the stub's region (claims 1, 9-12): move the stub, or
 * serve the access with the stub stepped aside. conflict.c has the whole story.
 */
#ifndef LODGER_CONFLICT_H
#define LODGER_CONFLICT_H

#include <stdbool.h>
#include <stdint.h>

#include "shadow/trap.h"

/* A guest access of `access` (PFEC bits) at `la` in the stub's region. Returns 0 or an
 * exit status; the guest's access runs again on resume. */
int conflict_handle(struct trap *t, uint64_t la, uint32_t access);

/* While a displaced access is being stepped: the trap `t` (vector t->vector) ends the step
 * unless it is a shadow fill on the way. *done is set when the trap was the step's own
 * #DB and needs nothing else. Returns 0 or an exit status. */
int conflict_step_trap(struct trap *t, bool *done);

/* Ends a step early (the instruction raised something lodger handles). */
int conflict_step_end(struct trap *t);

/* Relocation's move step: every absolute address in the stub, the shadow roots, the
 * syscall MSRs. */
int conflict_move_stub(struct trap *t, uint64_t to);

#endif
