/*
 * signals.c - ending on SIGINT, SIGTERM, SIGHUP or SIGQUIT (signals.h says how).
 */
#include "front/signals.h"

#include <unistd.h>

#include "front/console.h"
#include "front/exitcode.h"

static const struct {
	int sig;
	const char *name;
} handled[] = {
	{SIGINT, "SIGINT"},
	{SIGTERM, "SIGTERM"},
	{SIGHUP, "SIGHUP"},
	{SIGQUIT, "SIGQUIT"},
};

#define NR_HANDLED (sizeof(handled) / sizeof(handled[0]))

static volatile sig_atomic_t caught;
static signals_stop_fn volatile stop_fn;
static void *volatile stop_ctx;

static void on_signal(int sig)
{
	signals_stop_fn fn = stop_fn;

	console_restore_terminal();
	if (caught) {
		/* the run did not stop on the first one: stop now */
		static const char msg[] = "lodger: second signal: exiting at once\n";

		if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
			/* nothing else to do */
		}
		_exit(EXIT_SIGNAL);
	}
	caught = sig;
	if (fn)
		fn(stop_ctx);
}

void signals_fill_handled(sigset_t *set)
{
	sigemptyset(set);
	for (unsigned i = 0; i < NR_HANDLED; i++)
		sigaddset(set, handled[i].sig);
}

void signals_install(void)
{
	struct sigaction sa = {.sa_handler = on_signal};
	struct sigaction ign = {.sa_handler = SIG_IGN};

	/* While one handler runs, the others wait: `caught` is set once. */
	signals_fill_handled(&sa.sa_mask);
	for (unsigned i = 0; i < NR_HANDLED; i++)
		sigaction(handled[i].sig, &sa, NULL);
	sigaction(SIGPIPE, &ign, NULL);
}

void signals_set_stop(signals_stop_fn fn, void *ctx)
{
	sigset_t set, old;

	/* the hook and its argument change together, as far as the handler can see */
	signals_fill_handled(&set);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	stop_ctx = ctx;
	stop_fn = fn;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

int signals_caught(void)
{
	return caught;
}

const char *signals_name(int sig)
{
	for (unsigned i = 0; i < NR_HANDLED; i++)
		if (handled[i].sig == sig)
			return handled[i].name;
	return "signal";
}
