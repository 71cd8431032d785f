/*
 * kvm.h - thin, named wrappers around /dev/kvm ioctls.
 *
 * Every failing ioctl is reported with its name and errno, so no caller prints a bare
 * "Invalid argument".
 */
#ifndef LODGER_KVM_H
#define LODGER_KVM_H

#include <linux/kvm.h>
#include <stdbool.h>

/* ioctl(fd, req, arg), and on failure one line "KVM_NAME: strerror" on stderr. */
#define kvm_ioctl(fd, req, arg) kvm_ioctl_named(fd, req, (void *)(uintptr_t)(arg), #req)
int kvm_ioctl_named(int fd, unsigned long req, void *arg, const char *name);

/* ioctl(fd, req, arg) with nothing printed, for callers that tell failures apart. */
int kvm_raw_ioctl(int fd, unsigned long req, void *arg);

/* When set, every KVM ioctl lodger makes goes here instead of ioctl(2): the unit tests
 * drive the trap path with a fake vCPU, and force failures, through it. */
extern int (*kvm_ioctl_hook)(int fd, unsigned long req, void *arg);

/* Opens /dev/kvm and checks the API version; -errno with a message printed on failure. */
int kvm_open(const char *path);

/* The exit status for a failure to open /dev/kvm or create a VM with errno `err`:
 * EXIT_HOST_ERROR when the host ran out of descriptors or memory (EMFILE, ENFILE, ENOMEM),
 * else EXIT_NO_KVM. */
int kvm_failure_status(int err);

/* Name of a KVM_EXIT_* reason, for messages and statistics. */
const char *kvm_exit_name(unsigned reason);

/* True when /dev/kvm is the kvm_pvm software backend (docs/platform.md). */
bool kvm_backend_is_pvm(void);

/* True when KVM walks the guest's page tables in hardware (kvm_intel with EPT, kvm_amd
 * with NPT): then a TLB flush inside the guest is all a page-table change needs, where a
 * KVM that shadows them (kvm_pvm, EPT/NPT off) must be made to drop what it derived. */
bool kvm_backend_has_tdp(void);

#endif
