/* memory.c - memory_op: the memory map, the M2P's place, reservations. */
#include <stdint.h>
#include <xen/memory.h>

#include "xen/domain.h"
#include "xen/families.h"
#include "xen/hypercall.h"

/* The sub-op is in the low 6 bits of cmd (Xen keeps MEMOP_CMD_MASK private); the rest is
 * a continuation offset. */
long xen_memory_op(struct xen_vcpu *v, const uint64_t a[6])
{
	struct xen_domain *d = v->d;
	uint64_t cmd = a[0] & 0x3f, arg = a[1];

	switch (cmd) {
	case XENMEM_maximum_ram_page:
		return (long)d->nr_pages + XEN_RESERVED_PAGES - 1;
	case XENMEM_current_reservation:
	case XENMEM_maximum_reservation: {
		domid_t dom;

		if (xen_copy_from_guest(v, &dom, arg, sizeof(dom)))
			return -XEN_EFAULT;
		return dom == DOMID_SELF ? (long)d->nr_pages : -XEN_EPERM;
	}
	case XENMEM_machphys_mapping: {
		struct xen_machphys_mapping m = {
			.v_start = XEN_M2P_REPORTED,
			.v_end = XEN_M2P_REPORTED + XEN_M2P_SIZE,
			.max_mfn = d->nr_pages + XEN_RESERVED_PAGES - 1,
		};

		return xen_copy_to_guest(v, arg, &m, sizeof(m));
	}
	case XENMEM_memory_map: {
		struct xen_memory_map m;
		/* one e820 entry (addr, size, type 1 = RAM), packed as the ABI has it */
		struct __attribute__((packed)) {
			uint64_t addr, size;
			uint32_t type;
		} e = {0, d->nr_pages * XEN_PAGE_SIZE, 1};

		if (xen_copy_from_guest(v, &m, arg, sizeof(m)))
			return -XEN_EFAULT;
		if (m.nr_entries < 1)
			return -XEN_EINVAL;
		if (xen_copy_to_guest(v, (uint64_t)(uintptr_t)m.buffer.p, &e, sizeof(e)))
			return -XEN_EFAULT;
		m.nr_entries = 1;
		return xen_copy_to_guest(v, arg, &m, sizeof(m));
	}
	default:
		return -XEN_ENOSYS; /* reservations change nothing on lodger's fixed RAM */
	}
}
