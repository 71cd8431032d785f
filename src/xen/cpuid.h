/*
 * cpuid.h - Xen's hypervisor CPUID leaves for a PV guest (xen/arch/x86/cpuid.c,
 * cpuid_hypervisor_leaves; <xen/arch-x86/cpuid.h>): 0x40000000 "XenVMMXenVMM" with the
 * highest leaf, 0x40000001 the version, 0x40000002 one hypercall page at MSR base
 * 0x40000000 and MMU_PT_UPDATE_PRESERVE_AD. They replace KVM's own signature leaves.
 * The feature leaves (1, 7.0, 0x80000001) are cut to what Xen offers a PV guest.
 */
#ifndef LODGER_XEN_CPUID_H
#define LODGER_XEN_CPUID_H

#include <linux/kvm.h>

/* Rewrites the table in place: c->nent grows by at most 3, up to `capacity` entries. */
void xen_cpuid_leaves(struct kvm_cpuid2 *c, unsigned capacity);

#endif
