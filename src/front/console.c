/*
 * console.c - the host terminal behind -serial stdio (console.h says what each mode does).
 *
 * The terminal settings are saved once, in a static, so that a signal handler can put
 * them back (tcsetattr is async-signal-safe) whatever the rest of lodger is doing.
 */
#include "front/console.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "front/signals.h"

const char console_help[] = "C-a h    print this help\r\n"
			    "C-a x    exit lodger (status 14)\r\n"
			    "C-a b    send a break to the guest's UART\r\n"
			    "C-a c    lodger has no monitor: says so\r\n"
			    "C-a C-a  send C-a to the guest\r\n";

static const char quit_message[] = "lodger: terminated by C-a x\r\n";
static const char no_monitor[] = "lodger: no monitor (lodger has none; C-a h lists the keys)\r\n";

static struct {
	struct console_keys keys;
	struct console_ops ops;
	int in_fd, out_fd;
	pthread_t thread;
	bool running;
	int wake[2]; /* console_stop writes here to end the thread's poll */
	struct termios saved;
	volatile sig_atomic_t saved_valid; /* the terminal was changed: restore it */
} con = {.in_fd = -1, .wake = {-1, -1}};

enum console_action console_key(struct console_keys *k, uint8_t key)
{
	if (k->mode != CONSOLE_MUX)
		return CONSOLE_SEND;
	if (!k->escape) {
		if (key != CONSOLE_ESCAPE)
			return CONSOLE_SEND;
		k->escape = true;
		return CONSOLE_SWALLOW;
	}
	k->escape = false;
	switch (key) {
	case CONSOLE_ESCAPE:
		return CONSOLE_SEND;
	case 'h':
	case '?':
		return CONSOLE_HELP;
	case 'x':
		return CONSOLE_QUIT;
	case 'b':
		return CONSOLE_BREAK;
	case 'c':
		return CONSOLE_MONITOR;
	default: /* as in QEMU, an unknown command does nothing */
		return CONSOLE_SWALLOW;
	}
}

static void say(const char *s)
{
	size_t len = strlen(s);

	while (len) {
		ssize_t n = write(con.out_fd, s, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* the console is best effort */
		s += n;
		len -= (size_t)n;
	}
}

/* Handles a buffer of keys; returns false after Ctrl-A x. */
static bool handle_keys(const uint8_t *buf, unsigned n)
{
	uint8_t keys[256];
	unsigned k = 0;
	bool go_on = true;

	for (unsigned i = 0; i < n && go_on; i++) {
		switch (console_key(&con.keys, buf[i])) {
		case CONSOLE_SEND:
			keys[k++] = buf[i];
			break;
		case CONSOLE_SWALLOW:
			break;
		case CONSOLE_HELP:
			say(console_help);
			break;
		case CONSOLE_MONITOR:
			say(no_monitor);
			break;
		case CONSOLE_BREAK:
			if (k && con.ops.receive) /* keys before the break arrive first */
				con.ops.receive(con.ops.ctx, keys, k);
			k = 0;
			if (con.ops.send_break)
				con.ops.send_break(con.ops.ctx);
			break;
		case CONSOLE_QUIT:
			say(quit_message);
			if (con.ops.quit)
				con.ops.quit(con.ops.ctx);
			go_on = false;
			break;
		}
	}
	if (k && con.ops.receive)
		con.ops.receive(con.ops.ctx, keys, k);
	return go_on;
}

static void *console_main(void *arg)
{
	struct pollfd fds[2] = {{.fd = con.in_fd, .events = POLLIN},
				{.fd = con.wake[0], .events = POLLIN}};

	(void)arg;
	for (;;) {
		uint8_t buf[256];
		ssize_t got;

		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (fds[1].revents)
			break;
		if (!(fds[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		got = read(con.in_fd, buf, sizeof(buf));
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0 || !handle_keys(buf, (unsigned)got))
			break; /* end of input (the terminal hung up), or C-a x */
	}
	return NULL;
}

void console_restore_terminal(void)
{
	if (con.saved_valid)
		tcsetattr(con.in_fd, TCSANOW, &con.saved);
}

static int make_raw(enum console_mode mode)
{
	struct termios raw;

	if (tcgetattr(con.in_fd, &con.saved) < 0)
		return -errno;
	raw = con.saved;
	cfmakeraw(&raw);
	raw.c_oflag |= OPOST | ONLCR; /* keep "\n" meaning a new line on the host side */
	if (mode == CONSOLE_PLAIN) {
		/* Ctrl-C and Ctrl-\ stay lodger's (QEMU's stdio does the same); Ctrl-Z goes
		 * to the guest, since a stopped lodger would hold the terminal raw. */
		raw.c_lflag |= ISIG;
		raw.c_cc[VSUSP] = _POSIX_VDISABLE;
	}
	con.saved_valid = 1;
	if (tcsetattr(con.in_fd, TCSANOW, &raw) < 0) {
		con.saved_valid = 0;
		return -errno;
	}
	return 0;
}

int console_start(enum console_mode mode, int in_fd, int out_fd, const struct console_ops *ops)
{
	sigset_t block, old;
	int r;

	con.keys = (struct console_keys){.mode = mode};
	con.ops = *ops;
	con.in_fd = in_fd;
	con.out_fd = out_fd;
	if (!isatty(in_fd))
		return 0;
	if (pipe(con.wake) < 0)
		return -errno;
	r = make_raw(mode);
	if (r)
		goto err_pipe;
	/* The thread inherits this mask: lodger's signals go to the vCPU thread, where they
	 * interrupt KVM_RUN. */
	signals_fill_handled(&block);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	r = -pthread_create(&con.thread, NULL, console_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r) {
		console_restore_terminal();
		con.saved_valid = 0;
		goto err_pipe;
	}
	con.running = true;
	return 0;

err_pipe:
	close(con.wake[0]);
	close(con.wake[1]);
	con.wake[0] = con.wake[1] = -1;
	return r;
}

void console_stop(void)
{
	if (con.running) {
		if (write(con.wake[1], "", 1) < 0)
			pthread_cancel(con.thread);
		pthread_join(con.thread, NULL);
		con.running = false;
	}
	console_restore_terminal();
	con.saved_valid = 0;
	if (con.wake[0] >= 0) {
		close(con.wake[0]);
		close(con.wake[1]);
		con.wake[0] = con.wake[1] = -1;
	}
}
