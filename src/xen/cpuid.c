/* cpuid.c - Xen's CPUID leaves (xen/cpuid.h). */
#include "xen/cpuid.h"

#include <stdint.h>
#include <xen/xen.h>

#include <xen/arch-x86/cpuid.h>

#define XEN_VERSION_LEAF (4u << 16 | 17u) /* as XENVER_version: libxen-dev's 4.17 ABI */

/*
 * Xen's PV CPUID policy keeps only the features its public featureset marks 'A' (available
 * to every guest; <xen/arch-x86/cpufeatureset.h>). What it hides matters to a PV kernel:
 * PGE and PSE (Linux would set CR4.PGE, which a PV kernel cannot write), MONITOR (mwait
 * at CPL3), X2APIC, TSC_DEADLINE, PCID, SMEP/SMAP, PKU. The masks are the 'A' bits of each
 * featureset word, computed from that header's annotations (Xen 4.17).
 */
/* word 0: leaf 1 EDX, less MCE and MCA: Xen backs them with a virtual MCE's MSRs, lodger
 * has none, and Linux panics when MCG_CAP cannot be read */
#define PV_1D  (0x1fc9cbf5u & ~(1u << 7 | 1u << 14))
#define PV_1C  0xf6d83203u			     /* word 1: leaf 1 ECX */
#define PV_E1D (0xea500800u | (PV_1D & 0x0183f3ffu)) /* word 2, and AMD's copies of word 0 */
#define PV_E1C 0x042109e3u			     /* word 3: leaf 0x80000001 ECX */
#define PV_7B0 0xfdaf0b29u			     /* word 5: leaf 7.0 EBX */
#define PV_7C0 0x02405f43u			     /* word 6: leaf 7.0 ECX */
#define PV_7D0 0xac00441cu			     /* word 9: leaf 7.0 EDX */

static void pv_policy(struct kvm_cpuid_entry2 *e)
{
	switch (e->function) {
	case 1:
		e->edx &= PV_1D;
		e->ecx &= PV_1C;
		break;
	case 7:
		if (e->index == 0) {
			e->ebx &= PV_7B0;
			e->ecx &= PV_7C0;
			e->edx &= PV_7D0;
		}
		break;
	case 0x80000001:
		e->edx &= PV_E1D;
		e->ecx &= PV_E1C;
		break;
	default:
		break;
	}
}

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
		if ((c->entries[i].function & 0xffffff00u) != XEN_CPUID_FIRST_LEAF) {
			pv_policy(&c->entries[i]);
			c->entries[n++] = c->entries[i];
		}
	for (unsigned i = 0; i < sizeof(xen) / sizeof(xen[0]) && n < capacity; i++)
		c->entries[n++] = xen[i];
	c->nent = n;
}
