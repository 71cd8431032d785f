/*
 * disk.h - the machine's disks: each -drive if=virtio is a virtio-blk device on
 * virtio-mmio in the device window (docs/guest-contract.md), served by the block engine,
 * with completions handled by one I/O thread.
 *
 * Images are opened in vm_prepare (disks_open), before KVM, so a missing, locked or
 * wrongly sized image is reported the same with or without /dev/kvm; disk_device
 * (devices.h) then wires them to the VM.
 */
#ifndef LODGER_DISK_H
#define LODGER_DISK_H

#include "xen/backend.h"

struct vm;

/* Opens every drive of vm->cfg; 0, or an exit status after one line. */
int disks_open(struct vm *vm);
/* The if=xen drives opened, for the Xen PV personality's backends (xen/backend.h);
 * returns how many (at most max). */
unsigned disks_xen(struct xen_backend_disk *out, unsigned max);
/* Closes them (waiting for I/O in flight); safe to call when none are open. */
void disks_close(void);

#endif
