/*
 * privop.h - emulating what a native guest kernel may do but cannot at CPL3.
 */
#ifndef LODGER_PRIVOP_H
#define LODGER_PRIVOP_H

#include "shadow/trap.h"

/* Emulates the instruction at RIP that raised t->vector; when it is not one lodger
 * emulates (or the guest may not run it), delivers the original exception instead.
 * Returns 0 or an exit status. */
int privop_emulate(struct trap *t);

#endif
