/*
 * debug_exit.c - QEMU's isa-debug-exit at port 0xf4: a write of v (any width) ends lodger
 * with status (v << 1) | 1, so a test guest can fail with an odd status that lodger's own
 * errors (even) never produce. Reads return 0.
 */
#include <libfdt.h>
#include <stdio.h>
#include <string.h>

#include "dev/devices.h"
#include "front/log.h"
#include "lodger/boot.h"
#include "kvm/vm.h"

static void debug_exit_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	uint32_t v = 0;

	(void)offset;
	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	memcpy(&v, data, len < sizeof(v) ? len : sizeof(v));
	pr_debug(LOG_IO, "isa-debug-exit: value %#x", v);
	vm_request_exit(opaque, (int)((v << 1) | 1));
}

/* Where -device isa-debug-exit,iobase=,iosize= put it (default 0xf4, 4 ports). */
static int debug_exit_init(struct vm *vm)
{
	int r = io_register(&vm->pio, vm->cfg->debug_exit_port, vm->cfg->debug_exit_size,
			    debug_exit_io, vm, "isa-debug-exit");

	if (r)
		pr_err("isa-debug-exit: cannot register port %#x: %s", vm->cfg->debug_exit_port,
		       strerror(-r));
	return r;
}

static int debug_exit_fdt(struct vm *vm, void *fdt, int isa)
{
	uint32_t reg[] = {cpu_to_fdt32(1), cpu_to_fdt32(vm->cfg->debug_exit_port),
			  cpu_to_fdt32(vm->cfg->debug_exit_size)};
	char name[32];
	int node;

	snprintf(name, sizeof(name), "debug-exit@i%x", vm->cfg->debug_exit_port);
	node = fdt_add_subnode(fdt, isa, name);
	if (node < 0)
		return node;
	return fdt_setprop_string(fdt, node, "compatible", "qemu,isa-debug-exit")
		       ?: fdt_setprop(fdt, node, "reg", reg, sizeof(reg));
}

const struct device debug_exit_device = {
	.name = "isa-debug-exit",
	.init = debug_exit_init,
	.fdt_node = debug_exit_fdt,
};
