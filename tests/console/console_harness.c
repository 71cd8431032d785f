/*
 * console_harness.c - lodger's console and signal layers (front/console.c, signals.c)
 * without KVM, for tests/console/pty_console.py to drive through a pseudo-terminal.
 *
 * Usage: console_harness plain|mux. Prints "ready", then "rx XX XX..." for each batch of
 * keys the guest would receive and "break" for a break; ends as lodger's main does:
 * on Ctrl-A x with EXIT_USER_QUIT, on a signal with EXIT_SIGNAL, after the console is
 * stopped (terminal restored), printing "end CAUSE" with -stats' cause name.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "front/console.h"
#include "front/exitcode.h"
#include "front/signals.h"
#include "front/stats.h"

static int stop_pipe[2];

static void put(const char *s)
{
	if (write(STDOUT_FILENO, s, strlen(s)) < 0) {
		/* the test reads stdout; nothing to do if it is gone */
	}
}

static void receive(void *ctx, const uint8_t *bytes, unsigned n)
{
	char line[3 * 256 + 8] = "rx";
	size_t len = 2;

	(void)ctx;
	for (unsigned i = 0; i < n && len + 4 < sizeof(line); i++)
		len += (size_t)snprintf(line + len, sizeof(line) - len, " %02x", bytes[i]);
	snprintf(line + len, sizeof(line) - len, "\n");
	put(line);
}

static void stop_with(int status)
{
	unsigned char byte = (unsigned char)status;

	if (write(stop_pipe[1], &byte, 1) < 0) {
		/* the pipe cannot be full: one byte is ever written before the read */
	}
}

static void quit(void *ctx)
{
	(void)ctx;
	stop_with(EXIT_USER_QUIT);
}

static void send_break(void *ctx)
{
	(void)ctx;
	put("break\n");
}

static void on_signal(void *ctx)
{
	(void)ctx;
	stop_with(EXIT_SIGNAL); /* write is async-signal-safe */
}

int main(int argc, char **argv)
{
	struct console_ops ops = {.receive = receive, .quit = quit, .send_break = send_break};
	unsigned char status = 0;
	char line[64];
	int r;

	if (argc != 2 || (strcmp(argv[1], "plain") != 0 && strcmp(argv[1], "mux") != 0)) {
		fprintf(stderr, "usage: %s plain|mux\n", argv[0]);
		return 2;
	}
	if (pipe(stop_pipe) < 0)
		return 12;
	signals_install();
	signals_set_stop(on_signal, NULL);
	r = console_start(strcmp(argv[1], "mux") == 0 ? CONSOLE_MUX : CONSOLE_PLAIN, STDIN_FILENO,
			  STDOUT_FILENO, &ops);
	if (r) {
		fprintf(stderr, "console_start: %s\n", strerror(-r));
		return 12;
	}
	put("ready\n");
	while (read(stop_pipe[0], &status, 1) < 0 && errno == EINTR)
		;
	signals_set_stop(NULL, NULL);
	console_stop();
	snprintf(line, sizeof(line), "end %s\n", stats_exit_cause(status, signals_caught()));
	put(line);
	return status;
}
