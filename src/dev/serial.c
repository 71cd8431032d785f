/*
 * serial.c - the guest console: the 16550A model wired to -serial and the terminal.
 *
 * Output goes to stdout (-serial stdio, mon:stdio), a file (-serial file:PATH) or
 * nowhere (-serial null); -serial none leaves the UART out altogether, as QEMU does. With
 * stdio and a terminal on stdin, the console (front/console.c) reads the keys: plain, or
 * muxed with the Ctrl-A commands for mon:stdio.
 */
#include "dev/serial.h"

#include <errno.h>
#include <fcntl.h>
#include <libfdt.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "dev/devices.h"
#include "dev/uart16550.h"
#include "front/console.h"
#include "front/exitcode.h"
#include "front/log.h"
#include "lodger/boot.h"
#include "kvm/vm.h"

static struct serial {
	struct uart uart;
	struct vm *vm;
	int out_fd;
	bool own_out_fd;
	bool registered; /* -serial none: no UART at all */
} serial = {.out_fd = -1};

static void serial_set_irq(void *ctx, bool level)
{
	vm_set_irq_line(ctx, LODGER_UART_IRQ, level);
}

/* serial_route_input's consumer, read on the console's thread */
static pthread_mutex_t route_lock = PTHREAD_MUTEX_INITIALIZER;
static serial_receive_fn *route_fn;
static void *route_ctx;

void serial_route_input(serial_receive_fn *receive, void *ctx)
{
	pthread_mutex_lock(&route_lock);
	route_fn = receive;
	route_ctx = ctx;
	pthread_mutex_unlock(&route_lock);
}

static void console_receive(void *ctx, const uint8_t *bytes, unsigned n)
{
	pthread_mutex_lock(&route_lock);
	if (route_fn)
		route_fn(route_ctx, bytes, n);
	else
		uart_receive(ctx, bytes, n);
	pthread_mutex_unlock(&route_lock);
}

static void console_quit_vm(void *ctx)
{
	(void)ctx;
	vm_request_exit(serial.vm, EXIT_USER_QUIT);
}

static void console_break(void *ctx)
{
	uart_break(ctx);
}

/* The console's output failed (a closed pipe: `lodger ... | head -1`): the guest goes on,
 * its output is dropped, and this is said once. */
static void serial_out_failed(void *ctx, int err)
{
	(void)ctx;
	pr_warn("serial: output stopped: %s; the guest's further output is discarded",
		strerror(err));
}

static int serial_init(struct vm *vm)
{
	const struct config *cfg = vm->cfg;
	int r;

	serial.vm = vm;
	serial.out_fd = -1;
	if (cfg->serial == SERIAL_NONE)
		return 0;
	if (cfg->serial == SERIAL_STDIO || cfg->serial == SERIAL_MON_STDIO) {
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
	uart_on_output_error(&serial.uart, serial_out_failed, vm);
	r = io_register(&vm->pio, LODGER_UART_PORT, 8, uart_io, &serial.uart, "uart16550");
	if (r)
		goto err_model;
	serial.registered = true;
	if (cfg->serial == SERIAL_STDIO || cfg->serial == SERIAL_MON_STDIO) {
		struct console_ops ops = {
			.receive = console_receive,
			.quit = console_quit_vm, /* takes the VM from `serial` */
			.send_break = console_break,
			.ctx = &serial.uart,
		};

		r = console_start(cfg->serial == SERIAL_MON_STDIO ? CONSOLE_MUX : CONSOLE_PLAIN,
				  STDIN_FILENO, STDOUT_FILENO, &ops);
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
	int node;

	if (vm->cfg->serial == SERIAL_NONE)
		return 0;
	node = fdt_add_subnode(fdt, isa, "serial@i3f8");
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
	console_stop();
	if (!serial.registered)
		return;
	serial.registered = false;
	uart_model_destroy(&serial.uart);
	if (serial.own_out_fd)
		close(serial.out_fd);
	serial.own_out_fd = false;
}

void serial_console_write(const char *buf, unsigned len)
{
	while (serial.out_fd >= 0 && len) {
		ssize_t n = write(serial.out_fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (unsigned)n;
	}
}

const struct device uart_device = {
	.name = "uart16550",
	.init = serial_init,
	.fdt_node = serial_fdt,
	.exit = serial_exit,
};
