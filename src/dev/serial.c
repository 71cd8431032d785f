/*
 * serial.c - the guest console: the 16550A model wired to -serial and the terminal.
 *
 * Output goes to stdout (-serial stdio), a file (-serial file:PATH) or nowhere
 * (-serial none). When the backend is stdio and stdin is a terminal, a reader thread
 * puts the terminal in raw mode and feeds keystrokes to the UART; as in QEMU, Ctrl-A x
 * ends lodger and Ctrl-A Ctrl-A sends a Ctrl-A.
 */
#include <errno.h>
#include <fcntl.h>
#include <libfdt.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "dev/devices.h"
#include "dev/uart16550.h"
#include "front/exitcode.h"
#include "front/log.h"
#include "lodger/boot.h"
#include "kvm/vm.h"

#define CTRL_A 0x01

static struct serial {
	struct uart uart;
	struct vm *vm;
	int out_fd;
	bool own_out_fd;
	bool reading;
	pthread_t reader;
	int wake_pipe[2];
	struct termios saved_tty;
	bool escape; /* the last key was Ctrl-A */
} serial;

static void serial_set_irq(void *ctx, bool level)
{
	vm_set_irq_line(ctx, LODGER_UART_IRQ, level);
}

/* Interprets QEMU's Ctrl-A escapes; returns true if `key` goes to the guest. */
static bool console_key(uint8_t key)
{
	if (serial.escape) {
		serial.escape = false;
		if (key == 'x') {
			vm_request_exit(serial.vm, EXIT_GUEST_POWEROFF);
			return false;
		}
		return key == CTRL_A;
	}
	if (key == CTRL_A) {
		serial.escape = true;
		return false;
	}
	return true;
}

static void *reader_main(void *arg)
{
	struct pollfd fds[2] = {{.fd = STDIN_FILENO, .events = POLLIN},
				{.fd = serial.wake_pipe[0], .events = POLLIN}};

	(void)arg;
	for (;;) {
		uint8_t buf[64], keys[64];
		unsigned n = 0;
		ssize_t got;

		if (poll(fds, 2, -1) < 0 && errno != EINTR)
			break;
		if (fds[1].revents)
			break;
		if (!(fds[0].revents & (POLLIN | POLLHUP)))
			continue;
		got = read(STDIN_FILENO, buf, sizeof(buf));
		if (got <= 0)
			break;
		for (ssize_t i = 0; i < got; i++)
			if (console_key(buf[i]))
				keys[n++] = buf[i];
		uart_receive(&serial.uart, keys, n);
	}
	return NULL;
}

static int start_terminal_input(void)
{
	struct termios raw;

	if (tcgetattr(STDIN_FILENO, &serial.saved_tty) < 0 || pipe(serial.wake_pipe) < 0)
		return -errno;
	raw = serial.saved_tty;
	cfmakeraw(&raw);
	raw.c_oflag |= OPOST | ONLCR; /* keep "\n" meaning a new line on the host side */
	tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	if (pthread_create(&serial.reader, NULL, reader_main, NULL)) {
		tcsetattr(STDIN_FILENO, TCSANOW, &serial.saved_tty);
		return -EAGAIN;
	}
	serial.reading = true;
	return 0;
}

static int serial_init(struct vm *vm)
{
	const struct config *cfg = vm->cfg;
	int r;

	serial.vm = vm;
	serial.out_fd = -1;
	if (cfg->serial == SERIAL_STDIO) {
		serial.out_fd = STDOUT_FILENO;
	} else if (cfg->serial == SERIAL_FILE) {
		serial.out_fd =
			open(cfg->serial_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (serial.out_fd < 0) {
			r = -errno;
			pr_err("-serial file:%s: %s", cfg->serial_path, strerror(errno));
			return r;
		}
		serial.own_out_fd = true;
	}
	uart_model_init(&serial.uart, serial.out_fd, serial_set_irq, vm);
	r = io_register(&vm->pio, LODGER_UART_PORT, 8, uart_io, &serial.uart, "uart16550");
	if (r)
		goto err_model;
	if (cfg->serial == SERIAL_STDIO && isatty(STDIN_FILENO)) {
		r = start_terminal_input();
		if (r)
			pr_warn("serial: no terminal input: %s", strerror(-r));
	}
	return 0;

err_model:
	pr_err("serial: cannot register port %#x: %s", LODGER_UART_PORT, strerror(-r));
	uart_model_destroy(&serial.uart);
	if (serial.own_out_fd)
		close(serial.out_fd);
	return r;
}

static int serial_fdt(struct vm *vm, void *fdt, int isa)
{
	uint32_t reg[] = {cpu_to_fdt32(1), cpu_to_fdt32(LODGER_UART_PORT), cpu_to_fdt32(8)};
	int node = fdt_add_subnode(fdt, isa, "serial@i3f8");

	(void)vm;
	if (node < 0)
		return node;
	return fdt_setprop_string(fdt, node, "compatible", "ns16550a") ?:
	       fdt_setprop(fdt, node, "reg", reg, sizeof(reg)) ?:
	       fdt_setprop_u32(fdt, node, "interrupts", LODGER_UART_IRQ) ?:
	       fdt_setprop_u32(fdt, node, "clock-frequency", 1843200) ?:
	       fdt_setprop_u32(fdt, node, "current-speed", 115200);
}

static void serial_exit(struct vm *vm)
{
	(void)vm;
	if (serial.reading) {
		if (write(serial.wake_pipe[1], "", 1) < 0)
			pthread_cancel(serial.reader);
		pthread_join(serial.reader, NULL);
		tcsetattr(STDIN_FILENO, TCSANOW, &serial.saved_tty);
		close(serial.wake_pipe[0]);
		close(serial.wake_pipe[1]);
		serial.reading = false;
	}
	uart_model_destroy(&serial.uart);
	if (serial.own_out_fd)
		close(serial.out_fd);
	serial.own_out_fd = false;
}

const struct device uart_device = {
	.name = "uart16550",
	.init = serial_init,
	.fdt_node = serial_fdt,
	.exit = serial_exit,
};
