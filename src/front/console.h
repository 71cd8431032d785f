/*
 * console.h - the host terminal behind -serial stdio: raw mode, keystrokes, Ctrl-A keys.
 *
 * Independent of KVM, so tests drive it through a pseudo-terminal. Two modes, as QEMU's:
 *  - plain (-serial stdio): keys go to the guest, but Ctrl-C, Ctrl-\ stay signals to
 *    lodger; Ctrl-Z goes to the guest (a stopped lodger would leave the terminal raw);
 *  - muxed (-serial mon:stdio, and -nographic without -serial): every key goes to the
 *    guest, Ctrl-C too, and Ctrl-A starts a command (console_help lists them).
 */
#ifndef LODGER_CONSOLE_H
#define LODGER_CONSOLE_H

#include <stdbool.h>
#include <stdint.h>

enum console_mode { CONSOLE_PLAIN, CONSOLE_MUX };

/* What one key means (console_key). */
enum console_action {
	CONSOLE_SEND,	 /* give the key to the guest */
	CONSOLE_SWALLOW, /* part of a Ctrl-A command, or a command with nothing to do */
	CONSOLE_HELP,	 /* Ctrl-A h: print the keys */
	CONSOLE_QUIT,	 /* Ctrl-A x: end lodger (status EXIT_USER_QUIT) */
	CONSOLE_BREAK,	 /* Ctrl-A b: send a break to the guest's UART */
	CONSOLE_MONITOR, /* Ctrl-A c: QEMU's monitor, which lodger lacks: say so */
};

#define CONSOLE_ESCAPE 0x01 /* Ctrl-A */

struct console_keys {
	enum console_mode mode;
	bool escape; /* the last key was Ctrl-A */
};

/* The meaning of `key` in the keys' state; a Ctrl-A Ctrl-A sends one Ctrl-A. */
enum console_action console_key(struct console_keys *k, uint8_t key);

/* The Ctrl-A keys, one per line ending "\r\n" (the terminal is raw). */
extern const char console_help[];

/* Where the console sends what it reads. Each is called from the console's thread. */
struct console_ops {
	void (*receive)(void *ctx, const uint8_t *bytes, unsigned n); /* keys for the guest */
	void (*quit)(void *ctx);				      /* Ctrl-A x */
	void (*send_break)(void *ctx);				      /* Ctrl-A b */
	void *ctx;
};

/*
 * When in_fd is a terminal: saves its settings, makes it raw for `mode`, and starts a
 * thread that reads keys and hands them to ops (the thread blocks the signals lodger
 * handles, so those reach the vCPU thread). Messages (help, quit) go to out_fd.
 * Returns 0 (also when in_fd is not a terminal: then nothing is read), or -errno.
 */
int console_start(enum console_mode mode, int in_fd, int out_fd, const struct console_ops *ops);

/* Stops the thread and restores the terminal. Safe to call when not started. */
void console_stop(void);

/* Restores the terminal's saved settings, if changed; async-signal-safe. */
void console_restore_terminal(void);

#endif
