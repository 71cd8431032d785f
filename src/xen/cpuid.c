/* cpuid.c - Xen's CPUID leaves (xen/cpuid.h). */
#include "xen/cpuid.h"

#include <stdint.h>
#include <xen/xen.h>

#include <xen/arch-x86/cpuid.h>

#define XEN_VERSION_LEAF (4u << 16 | 17u) /* as XENVER_version: libxen-dev's 4.17 ABI */

void xen_cpuid_leaves(struct kvm_cpuid2 *c, unsigned capacity)
{
	const struct kvm_cpuid_entry2 xen[] = {
		{.function = XEN_CPUID_LEAF(0),
		 .eax = XEN_CPUID_LEAF(2),
		 .ebx = XEN_CPUID_SIGNATURE_EBX,
		 .ecx = XEN_CPUID_SIGNATURE_ECX,
		 .edx = XEN_CPUID_SIGNATURE_EDX},
		{.function = XEN_CPUID_LEAF(1), .eax = XEN_VERSION_LEAF},
		{.function = XEN_CPUID_LEAF(2),
		 .eax = 1,
		 .ebx = 0x40000000,
		 .ecx = XEN_CPUID_FEAT1_MMU_PT_UPDATE_PRESERVE_AD},
	};
	unsigned n = 0;

	/* drop the hypervisor range KVM filled in (its "KVMKVMKVM" leaves) */
	for (unsigned i = 0; i < c->nent; i++)
		if ((c->entries[i].function & 0xffffff00u) != XEN_CPUID_FIRST_LEAF)
			c->entries[n++] = c->entries[i];
	for (unsigned i = 0; i < sizeof(xen) / sizeof(xen[0]) && n < capacity; i++)
		c->entries[n++] = xen[i];
	c->nent = n;
}
