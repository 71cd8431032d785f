/*
 * devtree.h - the flattened device tree lodger hands the guest (docs/guest-contract.md).
 *
 * Root with #address-cells = #size-cells = 2; /memory@0; /chosen with bootargs (always
 * present) and stdout-path (only when there is a UART: not with -serial none); /cpus;
 * each device's node (devices.h); /lodger with the mode and the segment selectors the
 * guest must use. Reserved RAM is listed in the memory reservation block.
 */
#ifndef LODGER_DEVTREE_H
#define LODGER_DEVTREE_H

#include <stddef.h>
#include <stdint.h>

#include "boot/bootmap.h"
#include "front/config.h"
#include "kvm/mem.h"

struct vm;
struct device;

struct fdt_params {
	uint64_t ram_size;
	const char *bootargs;
	enum vm_mode mode;
	unsigned nr_cpus;
	const struct mem_range *reserved; /* listed in the reservation block */
	unsigned nr_reserved;
	uint64_t initrd_start, initrd_size; /* size 0: no initrd */
	const struct selectors *selectors;  /* NULL: direct mode's */
};

/*
 * Writes the tree into buf (size bytes), packed. Each device's fdt_node hook is called
 * with `vm`. Returns 0, or -1 with the libfdt error in err.
 */
int fdt_build(void *buf, size_t size, const struct fdt_params *p, struct vm *vm,
	      const struct device *const *devs, unsigned nr_devs, char *err, size_t errlen);

#endif
