/*
 * signals.h - how lodger ends on a signal: terminal restored, -stats written, an even
 * status (EXIT_SIGNAL), never the shell's 128 + N.
 *
 * SIGINT, SIGTERM, SIGHUP and SIGQUIT end the run: the handler restores the terminal
 * at once, records the signal and calls the stop hook, which asks the VM to stop; the
 * run then ends as any other (devices closed, -stats written). A second such signal
 * while stopping ends lodger at once with EXIT_SIGNAL. SIGPIPE is ignored: a closed
 * stdout shows as EPIPE where lodger writes (the console drops the guest's output).
 */
#ifndef LODGER_SIGNALS_H
#define LODGER_SIGNALS_H

#include <signal.h>

/* Called from the signal handler: must be async-signal-safe. */
typedef void (*signals_stop_fn)(void *ctx);

/* Installs the handlers (once, at start). */
void signals_install(void);

/* The hook the next signal calls, or NULL for none (before and after the VM runs). */
void signals_set_stop(signals_stop_fn fn, void *ctx);

/* The first signal that ended the run, or 0. */
int signals_caught(void);

/* The set of signals signals_install handles (for threads that must not take them). */
void signals_fill_handled(sigset_t *set);

/* "SIGTERM" for SIGTERM, ...; "signal" for one lodger does not handle. */
const char *signals_name(int sig);

#endif
