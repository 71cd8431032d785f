/*
 * vm.h - one virtual machine: KVM handles, memory, buses, devices, its vCPU.
 *
 * One process runs one VM. vm_prepare lays out RAM and the boot
 * protocol (no KVM needed, so bad input is reported first), vm_start brings up KVM, the
 * devices and the vCPU, vm_run runs it to an exit status, vm_destroy undoes all of it.
 */
#ifndef LODGER_VM_H
#define LODGER_VM_H

#include <stdbool.h>
#include <stdint.h>

#include "boot/bootmap.h"
#include "front/config.h"
#include "kvm/io.h"
#include "boot/loader.h"
#include "kvm/mem.h"

struct vcpu;
struct mode;
struct xen_guest;
struct gdb;

struct vm {
	const struct config *cfg;
	const struct mode *mode; /* direct or shadow, from cfg (kvm/mode.h) */
	int kvm_fd;
	int vm_fd;
	struct guest_mem mem;
	struct io_bus pio;	   /* port I/O */
	struct io_bus mmio;	   /* MMIO nobody in KVM claims */
	struct vcpu *vcpu;	   /* the boot vCPU (only one for now) */
	struct boot_layout layout; /* reserved RAM */
	struct boot_image image;   /* the loaded kernel */
	uint64_t initrd_gpa, initrd_size;
	struct xen_guest *xen; /* a Xen PV kernel's domain (xen/personality.h), or NULL */
	unsigned devices_up;   /* how many entries of devices[] are initialised */
	volatile bool stop;    /* a device asked lodger to exit */
	int exit_status;       /* ... with this status */
	struct gdb *gdb;       /* the GDB stub (-gdb, -s), or NULL */
};

/* Each returns 0, or the lodger exit status (exitcode.h) after printing one line. */
int vm_prepare(struct vm *vm, const struct config *cfg); /* RAM and boot image, no KVM */
int vm_start(struct vm *vm);				 /* KVM VM, devices, vCPU */
int vm_run(struct vm *vm);
void vm_destroy(struct vm *vm);

/* Brings the mode's counters into the statistics (before stats_write). */
void vm_sync_stats(struct vm *vm);

/* Ends the run after the current exit; the first request wins. */
void vm_request_exit(struct vm *vm, int status);

/* Registers monitor memory (vm->mem.monitor) with KVM, in its own memslot. Returns 0 or
 * an exit status. */
int vm_map_monitor(struct vm *vm);

/*
 * Makes KVM forget everything it derived from monitor memory (its own shadows of
 * lodger's shadow tables, TLB entries), by removing and re-adding that memslot.
 * Costs ~25 us on kvm_pvm. Returns 0 or an exit status.
 */
int vm_flush_monitor(struct vm *vm);

/* Drives a line of the in-kernel interrupt controllers (ISA IRQ numbering). */
int vm_set_irq_line(struct vm *vm, unsigned irq, bool level);

#endif
