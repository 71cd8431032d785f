/*
 * devices.h - the machine's devices, each in its own file with this small interface.
 *
 * vm.c walks `devices[]` in order: init at creation (register I/O ranges, create KVM
 * objects), fdt_node while building the device tree, exit in reverse order at teardown.
 * No other file refers to a device's internals.
 */
#ifndef LODGER_DEVICES_H
#define LODGER_DEVICES_H

struct vm;

struct device {
	const char *name;
	int (*init)(struct vm *vm); /* 0 or -errno, after printing one line */
	int (*fdt_node)(struct vm *vm, void *fdt, int isa_node); /* libfdt error code */
	void (*exit)(struct vm *vm);
};

extern const struct device irqchip_device;
extern const struct device uart_device;
extern const struct device poweroff_device;
extern const struct device debug_exit_device;
extern const struct device disk_device;

/*
 * Guest console output that does not come through the UART (a Xen PV guest's console_io
 * and console ring): to wherever -serial sends the UART's. Errors drop the output, as
 * the UART's do.
 */
void serial_console_write(const char *buf, unsigned len);

/* In init order: the irqchip first, since the UART drives one of its lines. */
extern const struct device *const devices[];
extern const unsigned nr_devices;

#endif
