/*
 * vm.c - building, loading, running and tearing down the VM.
 *
 * vm_prepare needs no KVM: guest RAM and the boot protocol in it (reserved RAM, kernel,
 * initrd, page tables and descriptor tables, device tree), so a bad image or option is
 * reported the same with or without /dev/kvm. vm_start then creates the KVM VM, registers
 * RAM as memslot 0, starts the devices (the irqchip before any vCPU) and the vCPU in its
 * entry state. vm_destroy undoes both in reverse.
 */
#include "kvm/vm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "dev/devices.h"
#include "dev/disk.h"
#include "front/exitcode.h"
#include "front/phase.h"
#include "gdb/server.h"
#include "boot/devtree.h"
#include "kvm/kvm.h"
#include "kvm/mode.h"
#include "front/log.h"
#include "lodger/boot.h"
#include "kvm/vcpu.h"
#include "xen/personality.h"
#include "xen/prepare.h"

const struct device *const devices[] = {
	&irqchip_device, &uart_device, &poweroff_device, &debug_exit_device, &disk_device,
};
const unsigned nr_devices = sizeof(devices) / sizeof(devices[0]);

#define PAGE_SIZE 0x1000ULL

void vm_request_exit(struct vm *vm, int status)
{
	if (vm->stop)
		return;
	vm->exit_status = status;
	vm->stop = true;
	if (vm->vcpu)
		vcpu_kick(vm->vcpu);
}

int vm_set_irq_line(struct vm *vm, unsigned irq, bool level)
{
	struct kvm_irq_level line = {.irq = irq, .level = level};

	return kvm_ioctl(vm->vm_fd, KVM_IRQ_LINE, &line) < 0 ? -errno : 0;
}

static int add_slot(struct vm *vm, unsigned id, uint64_t gpa, uint64_t size, void *host)
{
	struct kvm_userspace_memory_region slot = {
		.slot = id,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)host,
	};

	return kvm_ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0 ? -errno : 0;
}

#define MONITOR_SLOT 1

int vm_map_monitor(struct vm *vm)
{
	return add_slot(vm, MONITOR_SLOT, vm->mem.monitor_gpa, vm->mem.monitor_size,
			vm->mem.monitor)
		       ? EXIT_HOST_ERROR
		       : 0;
}

int vm_flush_monitor(struct vm *vm)
{
	uint64_t start = phase_now();
	int r;

	if (add_slot(vm, MONITOR_SLOT, vm->mem.monitor_gpa, 0, vm->mem.monitor))
		return EXIT_HOST_ERROR;
	r = vm_map_monitor(vm);
	/* timed: the suspect for the millisecond stalls under host load (docs/shadow-mode.md) */
	if (vm->vcpu)
		phase_end(vm->vcpu->phases, PHASE_MEMSLOT, start);
	return r;
}

static int init_devices(struct vm *vm)
{
	for (; vm->devices_up < nr_devices; vm->devices_up++) {
		const struct device *dev = devices[vm->devices_up];
		int r = dev->init ? dev->init(vm) : 0;

		if (r) {
			pr_err("device %s failed to start: %s", dev->name, strerror(-r));
			return r;
		}
	}
	return 0;
}

/* Puts the initrd just below reserved RAM, page-aligned, above the kernel. */
static int load_initrd(struct vm *vm)
{
	const char *path = vm->cfg->initrd;
	char err[256];
	uint8_t *buf;
	size_t len;
	uint64_t top = vm->layout.reserved;

	if (load_file_max(path, vm->mem.ram_size, &buf, &len, err, sizeof(err))) {
		pr_err("initrd %s: %s", path, err);
		return EXIT_BAD_IMAGE;
	}
	if (len > top || ((top - len) & ~(PAGE_SIZE - 1)) < vm->image.high) {
		pr_err("initrd %s: %zu bytes do not fit between the kernel and reserved RAM "
		       "(try a larger -m)",
		       path, len);
		free(buf);
		return EXIT_BAD_IMAGE;
	}
	vm->initrd_gpa = (top - len) & ~(PAGE_SIZE - 1);
	vm->initrd_size = len;
	memcpy(GPA_PTR(&vm->mem, vm->initrd_gpa, len), buf, len);
	free(buf);
	pr_debug(LOG_BOOT, "initrd at %#llx, %zu bytes", (unsigned long long)vm->initrd_gpa, len);
	return 0;
}

static int load_kernel(struct vm *vm, const struct mem_range *reserved)
{
	const char *path = vm->cfg->kernel;
	char err[256];
	uint8_t *buf;
	size_t len;
	int r;

	if (load_file_max(path, vm->mem.ram_size, &buf, &len, err, sizeof(err))) {
		pr_err("kernel %s: %s", path, err);
		return EXIT_BAD_IMAGE;
	}
	r = kernel_load(buf, len, &vm->mem, reserved, 1, &vm->image, err, sizeof(err));
	free(buf);
	if (r) {
		pr_err("kernel %s: %s", path, err);
		return EXIT_BAD_IMAGE;
	}
	pr_debug(LOG_BOOT, "kernel [%#llx, %#llx), entry %#llx", (unsigned long long)vm->image.low,
		 (unsigned long long)vm->image.high, (unsigned long long)vm->image.entry);
	return 0;
}

static int build_device_tree(struct vm *vm, const struct mem_range *reserved, unsigned n)
{
	struct fdt_params p = {
		.ram_size = vm->mem.ram_size,
		.bootargs = vm->cfg->append,
		.mode = vm->cfg->mode,
		.nr_cpus = vm->cfg->smp,
		.reserved = reserved,
		.nr_reserved = n,
		.initrd_start = vm->initrd_gpa,
		.initrd_size = vm->initrd_size,
		.selectors = vm->mode->selectors,
	};
	char err[256];
	void *fdt = GPA_PTR(&vm->mem, vm->layout.fdt, LODGER_FDT_MAX_SIZE);

	if (fdt_build(fdt, LODGER_FDT_MAX_SIZE, &p, vm, devices, nr_devices, err, sizeof(err))) {
		/* Too long an -append is the only user-reachable cause. */
		pr_err("cannot build the device tree: %s", err);
		return EXIT_USAGE;
	}
	return 0;
}

static int load_boot_image(struct vm *vm)
{
	struct mem_range reserved[2];
	int r;

	boot_layout_init(&vm->layout, vm->mem.ram_size);
	reserved[0] = (struct mem_range){vm->layout.reserved, LODGER_RESERVED_SIZE};
	pr_debug(LOG_BOOT, "RAM %llu MiB, reserved [%#llx, %#llx)",
		 (unsigned long long)(vm->mem.ram_size >> 20),
		 (unsigned long long)reserved[0].start,
		 (unsigned long long)(reserved[0].start + reserved[0].size));
	r = load_kernel(vm, reserved);
	if (!r && vm->cfg->initrd)
		r = load_initrd(vm);
	if (r)
		return r;
	reserved[1] = (struct mem_range){vm->initrd_gpa, vm->initrd_size};
	bootmap_build(&vm->mem, &vm->layout, vm->mode->selectors);
	r = build_device_tree(vm, reserved, vm->initrd_size ? 2 : 1);
	return r;
}

int vm_prepare(struct vm *vm, const struct config *cfg)
{
	int r;

	memset(vm, 0, sizeof(*vm));
	vm->cfg = cfg;
	vm->mode = mode_get(cfg->mode);
	vm->kvm_fd = vm->vm_fd = -1;
	vm->pio.name = "port";
	vm->mmio.name = "mmio";
	r = mem_alloc_ram(&vm->mem, cfg->mem_size);
	if (r) {
		pr_err("cannot allocate %llu MiB of guest RAM: %s",
		       (unsigned long long)(cfg->mem_size >> 20), strerror(-r));
		return EXIT_HOST_ERROR;
	}
	r = disks_open(vm); /* before the device tree, which lists them */
	if (r)
		return r;
	/* A Xen PV kernel: Xen's start-of-day layout instead of lodger's boot protocol. */
	if (cfg->personality == PERSONALITY_XEN) {
		vm->xen = calloc(1, sizeof(*vm->xen));
		if (!vm->xen)
			return EXIT_HOST_ERROR;
		return xen_prepare(&vm->xen->d, &vm->mem, cfg, &vm->xen->l);
	}
	return load_boot_image(vm);
}

/* The GDB stub's watcher thread asks the vCPU thread to stop for the debugger. */
static void kick_vcpu(void *vcpu)
{
	vcpu_kick(vcpu);
}

int vm_start(struct vm *vm)
{
	const char *device = getenv("LODGER_KVM_DEVICE");

	vm->kvm_fd = kvm_open(device ? device : "/dev/kvm");
	if (vm->kvm_fd < 0)
		return kvm_failure_status(-vm->kvm_fd);
	/* Where kvm_pvm departs from hardware KVM, lodger adapts (docs/platform.md). */
	pr_debug(LOG_BOOT, "KVM backend: %s",
		 kvm_backend_is_pvm()	 ? "kvm_pvm (software, shadow paging in the host)"
		 : kvm_backend_has_tdp() ? "hardware KVM with EPT/NPT"
					 : "hardware KVM, shadow paging in the host");
	if (kvm_raw_ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, (void *)(uintptr_t)KVM_CAP_IRQCHIP) <=
	    0) {
		pr_err("KVM lacks an in-kernel irqchip (KVM_CAP_IRQCHIP)");
		return EXIT_NO_KVM;
	}
	vm->vm_fd = kvm_ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		return kvm_failure_status(errno);
	if (add_slot(vm, 0, LODGER_RAM_BASE, vm->mem.ram_size, vm->mem.ram) || init_devices(vm) ||
	    vcpu_create(vm, 0, &vm->vcpu))
		return EXIT_HOST_ERROR;
	int r = vm->mode->start(vm);

	if (r || !vm->cfg->gdb)
		return r;
	return gdb_open(vm->cfg->gdb, vm->cfg->gdb_wait, kick_vcpu, vm->vcpu, &vm->gdb);
}

int vm_run(struct vm *vm)
{
	return vcpu_loop(vm->vcpu);
}

void vm_sync_stats(struct vm *vm)
{
	if (vm->vcpu && vm->mode && vm->mode->sync_stats)
		vm->mode->sync_stats(vm->vcpu);
}

void vm_destroy(struct vm *vm)
{
	gdb_close(vm->gdb); /* its thread kicks the vCPU: it goes first */
	vm->gdb = NULL;
	if (vm->mode && vm->mode->stop)
		vm->mode->stop(vm);
	vcpu_destroy(vm->vcpu);
	vm->vcpu = NULL;
	while (vm->devices_up > 0) {
		const struct device *dev = devices[--vm->devices_up];

		if (dev->exit)
			dev->exit(vm);
	}
	disks_close(); /* after the devices: I/O in flight ends before RAM goes */
	if (vm->xen) {
		xen_domain_free(&vm->xen->d);
		free(vm->xen);
		vm->xen = NULL;
	}
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	mem_free(&vm->mem);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	vm->vm_fd = vm->kvm_fd = -1;
}
