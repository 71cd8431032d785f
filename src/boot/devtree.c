/* devtree.c - building the guest's device tree with libfdt. */
#include "boot/devtree.h"

#include <libfdt.h>
#include <stdio.h>

#include "dev/devices.h"
#include "lodger/boot.h"

#define STDOUT_PATH "/isa/serial@i3f8"

/* libfdt calls return 0 or a negative FDT_ERR_*; chain them and keep the first error. */
#define TRY(expr)                                                                                  \
	do {                                                                                       \
		int r_ = (expr);                                                                   \
		if (r_ < 0) {                                                                      \
			snprintf(err, errlen, "%s: %s", #expr, fdt_strerror(r_));                  \
			return -1;                                                                 \
		}                                                                                  \
	} while (0)

static int add_node(void *fdt, int parent, const char *name, char *err, size_t errlen)
{
	int node = fdt_add_subnode(fdt, parent, name);

	if (node < 0)
		snprintf(err, errlen, "node %s: %s", name, fdt_strerror(node));
	return node;
}

static int add_memory(void *fdt, const struct fdt_params *p, char *err, size_t errlen)
{
	int node = add_node(fdt, 0, "memory@0", err, errlen);

	if (node < 0)
		return -1;
	TRY(fdt_setprop_string(fdt, node, "device_type", "memory"));
	TRY(fdt_setprop_u64(fdt, node, "reg", LODGER_RAM_BASE));
	TRY(fdt_appendprop_u64(fdt, node, "reg", p->ram_size));
	return 0;
}

static int add_chosen(void *fdt, const struct fdt_params *p, char *err, size_t errlen)
{
	int node = add_node(fdt, 0, "chosen", err, errlen);

	if (node < 0)
		return -1;
	TRY(fdt_setprop_string(fdt, node, "bootargs", p->bootargs ? p->bootargs : ""));
	if (p->initrd_size) {
		TRY(fdt_setprop_u64(fdt, node, "linux,initrd-start", p->initrd_start));
		TRY(fdt_setprop_u64(fdt, node, "linux,initrd-end",
				    p->initrd_start + p->initrd_size));
	}
	return 0;
}

static int add_cpus(void *fdt, const struct fdt_params *p, char *err, size_t errlen)
{
	int cpus = add_node(fdt, 0, "cpus", err, errlen);

	if (cpus < 0)
		return -1;
	TRY(fdt_setprop_u32(fdt, cpus, "#address-cells", 1));
	TRY(fdt_setprop_u32(fdt, cpus, "#size-cells", 0));
	for (unsigned i = 0; i < p->nr_cpus; i++) {
		char name[16];
		int cpu;

		snprintf(name, sizeof(name), "cpu@%u", i);
		cpu = add_node(fdt, cpus, name, err, errlen);
		if (cpu < 0)
			return -1;
		TRY(fdt_setprop_string(fdt, cpu, "device_type", "cpu"));
		TRY(fdt_setprop_u32(fdt, cpu, "reg", i)); /* the local APIC id */
	}
	return 0;
}

static int add_lodger(void *fdt, const struct fdt_params *p, char *err, size_t errlen)
{
	int node = add_node(fdt, 0, &LODGER_FDT_NODE[1], err, errlen);
	const struct selectors *sel = p->selectors ? p->selectors : &direct_selectors;

	if (node < 0)
		return -1;
	TRY(fdt_setprop_string(fdt, node, "compatible", LODGER_FDT_COMPATIBLE));
	TRY(fdt_setprop_string(fdt, node, LODGER_FDT_PROP_MODE,
			       p->mode == MODE_SHADOW ? "shadow" : "direct"));
	TRY(fdt_setprop_u32(fdt, node, LODGER_FDT_PROP_KERNEL_CS, sel->kernel_cs));
	TRY(fdt_setprop_u32(fdt, node, LODGER_FDT_PROP_KERNEL_DS, sel->kernel_ds));
	TRY(fdt_setprop_u32(fdt, node, LODGER_FDT_PROP_USER_CS, sel->user_cs));
	TRY(fdt_setprop_u32(fdt, node, LODGER_FDT_PROP_USER_DS, sel->user_ds));
	TRY(fdt_setprop_u32(fdt, node, LODGER_FDT_PROP_USER32_CS, sel->user32_cs));
	return 0;
}

/* ISA-style bus for the port devices: cells are <space address size>, space 1 = I/O. */
static int add_isa(void *fdt, char *err, size_t errlen)
{
	int node = add_node(fdt, 0, "isa", err, errlen);

	if (node < 0)
		return -1;
	TRY(fdt_setprop_string(fdt, node, "device_type", "isa"));
	TRY(fdt_setprop_string(fdt, node, "compatible", "isa"));
	TRY(fdt_setprop_u32(fdt, node, "#address-cells", 2));
	TRY(fdt_setprop_u32(fdt, node, "#size-cells", 1));
	TRY(fdt_setprop_empty(fdt, node, "ranges"));
	return node;
}

int fdt_build(void *buf, size_t size, const struct fdt_params *p, struct vm *vm,
	      const struct device *const *devs, unsigned nr_devs, char *err, size_t errlen)
{
	int isa;

	TRY(fdt_create_empty_tree(buf, size));
	for (unsigned i = 0; i < p->nr_reserved; i++)
		TRY(fdt_add_mem_rsv(buf, p->reserved[i].start, p->reserved[i].size));
	TRY(fdt_setprop_u32(buf, 0, "#address-cells", 2));
	TRY(fdt_setprop_u32(buf, 0, "#size-cells", 2));
	TRY(fdt_setprop_string(buf, 0, "compatible", "lodger,virt"));
	TRY(fdt_setprop_string(buf, 0, "model", "lodger"));
	if (add_memory(buf, p, err, errlen) || add_chosen(buf, p, err, errlen) ||
	    add_cpus(buf, p, err, errlen) || add_lodger(buf, p, err, errlen))
		return -1;
	isa = add_isa(buf, err, errlen);
	if (isa < 0)
		return -1;
	for (unsigned i = 0; i < nr_devs; i++) {
		if (!devs[i]->fdt_node)
			continue;
		isa = fdt_path_offset(buf, "/isa"); /* offsets move as nodes are added */
		int r = devs[i]->fdt_node(vm, buf, isa);

		if (r < 0) {
			snprintf(err, errlen, "device %s: %s", devs[i]->name, fdt_strerror(r));
			return -1;
		}
	}
	/* stdout-path only names a UART that is there: -serial none has none. */
	if (fdt_path_offset(buf, STDOUT_PATH) >= 0)
		TRY(fdt_setprop_string(buf, fdt_path_offset(buf, "/chosen"), "stdout-path",
				       STDOUT_PATH));
	TRY(fdt_pack(buf));
	return 0;
}
