/*
 * native.h - the native personality: a guest kernel written for bare x86-64 hardware.
 *
 * Its privileged instructions are emulated (privop.c), its exceptions and interrupts go
 * through its own IDT with the hardware's frame (reflect.c), its syscall enters LSTAR,
 * its interrupt flag is the real one in kernel mode (cli/sti trap or take the stub's fast
 * path). native.c is the table the core calls (shadow/personality.h).
 */
#ifndef LODGER_NATIVE_H
#define LODGER_NATIVE_H

#include "shadow/personality.h"

extern const struct personality native_personality;

/* The operations, for the unit tests. */
int native_boot(struct trap *t, const struct personality_boot *b);
int native_syscall(struct trap *t);
int native_exception(struct trap *t);
int native_deliver(struct trap *t, const struct event *e);

#endif
