/*
 * poweroff.c - the power-off port: a 16-bit write of 0x2000 to port 0x604 ends lodger
 * with status 0. This is QEMU's ACPI PM1a control register with SLP_EN set, so a guest
 * written for QEMU's "isa-pc" power-off works unchanged. Other values are ignored.
 */
#include <libfdt.h>
#include <string.h>

#include "dev/devices.h"
#include "front/exitcode.h"
#include "front/log.h"
#include "lodger/boot.h"
#include "kvm/vm.h"

static void poweroff_io(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	uint16_t v;

	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	if (offset != 0 || len != 2) {
		pr_debug(LOG_IO, "poweroff: ignored %u-byte write at +%llu", len,
			 (unsigned long long)offset);
		return;
	}
	memcpy(&v, data, 2);
	if (v == LODGER_POWEROFF_VALUE)
		vm_request_exit(opaque, EXIT_GUEST_POWEROFF);
	else
		pr_debug(LOG_IO, "poweroff: ignored value %#x", v);
}

static int poweroff_init(struct vm *vm)
{
	int r = io_register(&vm->pio, LODGER_POWEROFF_PORT, 2, poweroff_io, vm, "poweroff");

	if (r)
		pr_err("poweroff: cannot register port %#x: %s", LODGER_POWEROFF_PORT,
		       strerror(-r));
	return r;
}

static int poweroff_fdt(struct vm *vm, void *fdt, int isa)
{
	uint32_t reg[] = {cpu_to_fdt32(1), cpu_to_fdt32(LODGER_POWEROFF_PORT), cpu_to_fdt32(2)};
	int node = fdt_add_subnode(fdt, isa, "poweroff@i604");

	(void)vm;
	if (node < 0)
		return node;
	return fdt_setprop_string(fdt, node, "compatible", "lodger,poweroff") ?:
	       fdt_setprop(fdt, node, "reg", reg, sizeof(reg)) ?:
	       fdt_setprop_u32(fdt, node, "value", LODGER_POWEROFF_VALUE);
}

const struct device poweroff_device = {
	.name = "poweroff",
	.init = poweroff_init,
	.fdt_node = poweroff_fdt,
};
