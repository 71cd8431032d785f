/*
 * irqchip.c - KVM's in-kernel interrupt controllers and timers: a local APIC per vCPU
 * (xAPIC at 0xfee00000, with its timer and TSC-deadline mode), the IOAPIC at 0xfec00000,
 * the 8259 PICs and the 8254 PIT (ports 0x40-0x43, IRQ 0). KVM emulates them all, so
 * interrupts, timer programming and hlt wake-ups never exit to lodger.
 * Must run before vCPUs exist (KVM_CREATE_IRQCHIP requires it).
 */
#include <errno.h>
#include <libfdt.h>
#include <string.h>
#include <sys/ioctl.h>

#include "dev/devices.h"
#include "kvm/kvm.h"
#include "front/log.h"
#include "lodger/boot.h"
#include "kvm/vm.h"

/* Where Intel VMX keeps its real-mode TSS and identity page (inside the device window,
 * as QEMU and kvmtool place them). Other backends ignore it. */
#define KVM_TSS_ADDR 0xfffbd000ULL

static int irqchip_init(struct vm *vm)
{
	struct kvm_pit_config pit = {.flags = 0};

	if (ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_TSS_ADDR) > 0 &&
	    ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_ADDR) < 0)
		pr_debug(LOG_BOOT, "KVM_SET_TSS_ADDR: %s (ignored)", strerror(errno));
	if (kvm_ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return -errno;
	if (kvm_ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return -errno;
	return 0;
}

static int irqchip_fdt(struct vm *vm, void *fdt, int isa)
{
	int root = fdt_path_offset(fdt, "/"), lapic, ioapic, pit;
	uint32_t pit_reg[] = {cpu_to_fdt32(1), cpu_to_fdt32(0x40), cpu_to_fdt32(4)};
	int r;

	(void)vm;
	lapic = fdt_add_subnode(fdt, root, "interrupt-controller@fee00000");
	if (lapic < 0)
		return lapic;
	r = fdt_setprop_string(fdt, lapic, "compatible", "intel,ce4100-lapic") ?:
	    fdt_setprop_u64(fdt, lapic, "reg", LODGER_LAPIC_BASE) ?:
	    fdt_appendprop_u64(fdt, lapic, "reg", 0x1000) ?:
	    fdt_setprop_empty(fdt, lapic, "interrupt-controller") ?:
	    fdt_setprop_u32(fdt, lapic, "#interrupt-cells", 2);
	if (r)
		return r;
	ioapic = fdt_add_subnode(fdt, root, "interrupt-controller@fec00000");
	if (ioapic < 0)
		return ioapic;
	r = fdt_setprop_string(fdt, ioapic, "compatible", "intel,ce4100-ioapic") ?:
	    fdt_setprop_u64(fdt, ioapic, "reg", LODGER_IOAPIC_BASE) ?:
	    fdt_appendprop_u64(fdt, ioapic, "reg", 0x1000) ?:
	    fdt_setprop_empty(fdt, ioapic, "interrupt-controller") ?:
	    fdt_setprop_u32(fdt, ioapic, "#interrupt-cells", 2) ?:
	    fdt_setprop_u32(fdt, ioapic, "phandle", 1);
	if (r)
		return r;
	isa = fdt_path_offset(fdt, "/isa"); /* adding nodes above moved it */
	if (isa < 0)
		return isa;
	r = fdt_setprop_u32(fdt, isa, "interrupt-parent", 1);
	if (r)
		return r;
	pit = fdt_add_subnode(fdt, isa, "timer@i40");
	if (pit < 0)
		return pit;
	return fdt_setprop_string(fdt, pit, "compatible", "intel,i8254") ?:
	       fdt_setprop(fdt, pit, "reg", pit_reg, sizeof(pit_reg)) ?:
	       fdt_setprop_u32(fdt, pit, "interrupts", 0);
}

const struct device irqchip_device = {
	.name = "irqchip",
	.init = irqchip_init,
	.fdt_node = irqchip_fdt,
};
