/*
 * debug.h - the GDB stub in shadow mode: the guest's registers as the guest sees them
 * (its CR3, selectors and RFLAGS from the core's record, never the stub's), its memory
 * through its own page tables (so the stub's region reads as the guest's displaced
 * content), breakpoints as int3 in guest memory, steps with a TF the guest never sees.
 *
 * A breakpoint's trap reaches lodger through the stub as a #BP (the stub's gate for
 * vector 3 is DPL 3); the debugger's step ends at the #DB it
 * causes or at the first trap that ran guest work. Neither ever stops inside the stub:
 * a stop happens only where the guest's own context is whole (a trap, or the guest
 * running at CPL3).
 */
#ifndef LODGER_SHADOW_DEBUG_H
#define LODGER_SHADOW_DEBUG_H

#include <stdbool.h>

#include "shadow/trap.h"

struct vcpu;

/* mode->debug_stop: stops now if the guest runs (not inside the stub); else the request
 * waits for the next trap. */
int shadow_debug_stop(struct vcpu *vcpu);

/* A trap arrived: takes the debugger's TF out of the guest's RFLAGS. */
void shadow_debug_entry(struct trap *t);

/* A trap, before dispatch: *claimed when it was the debugger's (its int3, its step's
 * #DB) and has been stopped at. Returns 0 or an exit status. */
int shadow_debug_trap(struct trap *t, bool *claimed);

/* Before the guest resumes from a trap: a step that `progressed` (the trap was not a
 * hidden shadow fill) ends here, a pending Ctrl-C stops here; then a step is armed. */
int shadow_debug_resume(struct trap *t, bool progressed);

#endif
