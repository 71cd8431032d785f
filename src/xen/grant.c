/* grant.c - grant tables v1: grant_table_op for the guest, checked access for the backend. */
#include "xen/grant.h"

#include <string.h>

#include "xen/families.h"
#include "xen/hypercall.h"

void xen_gnttab_init(struct xen_gnttab *g, const struct guest_mem *mem, uint64_t base_gfn,
		     unsigned max_frames, uint64_t guest_pages, domid_t domid)
{
	*g = (struct xen_gnttab){
		.mem = mem,
		.base_gfn = base_gfn,
		.max_frames = max_frames,
		.guest_pages = guest_pages,
		.domid = domid,
	};
	(void)GPA_PTR(mem, base_gfn * XEN_PAGE_SIZE, (uint64_t)max_frames * XEN_PAGE_SIZE);
}

bool xen_gnttab_frame(const struct xen_gnttab *g, uint64_t mfn)
{
	return g && mfn >= g->base_gfn && mfn - g->base_gfn < g->nr_frames;
}

static bool self(const struct xen_gnttab *g, domid_t dom)
{
	return dom == DOMID_SELF || dom == g->domid;
}

/* Xen's gnttab_setup_table: errors in status, -EFAULT only when status cannot be written. */
static long setup_table(struct xen_vcpu *v, struct xen_gnttab *g, uint64_t uop)
{
	struct gnttab_setup_table op;
	uint64_t list;

	if (xen_copy_from_guest(v, &op, uop, sizeof(op)))
		return -XEN_EFAULT;
	list = (uint64_t)(uintptr_t)op.frame_list.p;
	if (op.nr_frames > g->max_frames)
		op.status = GNTST_general_error; /* "Xen only supports up to %d frames" */
	else if (!self(g, op.dom))
		op.status = GNTST_permission_denied;
	else {
		op.status = GNTST_okay;
		if (op.nr_frames > g->nr_frames) {
			/* new frames start empty: nothing granted */
			memset(GPA_PTR(g->mem, (g->base_gfn + g->nr_frames) * XEN_PAGE_SIZE,
				       (op.nr_frames - g->nr_frames) * XEN_PAGE_SIZE),
			       0, (op.nr_frames - g->nr_frames) * XEN_PAGE_SIZE);
			g->nr_frames = op.nr_frames;
		}
		for (uint32_t i = 0; i < op.nr_frames; i++) {
			xen_pfn_t f = g->base_gfn + i;

			if (xen_copy_to_guest(v, list + i * sizeof(f), &f, sizeof(f))) {
				op.status = GNTST_bad_virt_addr;
				break;
			}
		}
	}
	if (xen_copy_to_guest(v, uop + offsetof(struct gnttab_setup_table, status), &op.status,
			      sizeof(op.status)))
		return -XEN_EFAULT;
	return 0;
}

static long query_size(struct xen_vcpu *v, struct xen_gnttab *g, uint64_t uop)
{
	struct gnttab_query_size op;

	if (xen_copy_from_guest(v, &op, uop, sizeof(op)))
		return -XEN_EFAULT;
	if (!self(g, op.dom)) {
		op.status = GNTST_permission_denied;
	} else {
		op.nr_frames = g->nr_frames;
		op.max_nr_frames = g->max_frames;
		op.status = GNTST_okay;
	}
	return xen_copy_to_guest(v, uop, &op, sizeof(op));
}

/* Xen's gnttab_set_version with max_grant_version=1: 2 is -ENOSYS ("behave as before
 * set_version was introduced"), anything else -EINVAL; the version in force is written
 * back either way. */
static long set_version(struct xen_vcpu *v, uint64_t uop)
{
	struct gnttab_set_version op;
	long r = 0;

	if (xen_copy_from_guest(v, &op, uop, sizeof(op)))
		return -XEN_EFAULT;
	if (op.version == 2)
		r = -XEN_ENOSYS;
	else if (op.version != 1)
		r = -XEN_EINVAL;
	op.version = 1;
	if (xen_copy_to_guest(v, uop, &op, sizeof(op)))
		return -XEN_EFAULT;
	return r;
}

static long get_version(struct xen_vcpu *v, struct xen_gnttab *g, uint64_t uop)
{
	struct gnttab_get_version op;

	if (xen_copy_from_guest(v, &op, uop, sizeof(op)))
		return -XEN_EFAULT;
	if (!self(g, op.dom))
		return -XEN_EPERM;
	op.version = 1;
	return xen_copy_to_guest(v, uop, &op, sizeof(op));
}

long xen_grant_table_op(struct xen_vcpu *v, const uint64_t a[6])
{
	struct xen_gnttab *g = v->d->gnttab;
	uint64_t cmd = a[0], uop = a[1], count = (uint32_t)a[2];

	if (!g)
		return -XEN_ENOSYS;
	switch (cmd) {
	case GNTTABOP_setup_table:
	case GNTTABOP_query_size:
	case GNTTABOP_set_version:
	case GNTTABOP_get_version:
		if (count != 1)
			return -XEN_EINVAL; /* Xen: one at a time */
		break;
	default:
		/* map, unmap, copy, transfer...: lodger's guest is never a backend */
		return -XEN_ENOSYS;
	}
	switch (cmd) {
	case GNTTABOP_setup_table:
		return setup_table(v, g, uop);
	case GNTTABOP_query_size:
		return query_size(v, g, uop);
	case GNTTABOP_set_version:
		return set_version(v, uop);
	default:
		return get_version(v, g, uop);
	}
}

void *xen_gnttab_access(const struct xen_gnttab *g, grant_ref_t ref, domid_t grantee, bool write,
			uint32_t off, uint32_t len, enum xen_grant_err *why)
{
	uint64_t raw, gpa;
	struct grant_entry_v1 e;
	enum xen_grant_err err = XEN_GRANT_OK;
	void *p = NULL;

	if (ref >= (uint64_t)g->nr_frames * XEN_GNTTAB_PER_FRAME) {
		err = XEN_GRANT_BAD_REF;
		goto out;
	}
	/* one read of the whole entry: the guest may change it under us */
	raw = __atomic_load_n(
		(uint64_t *)GPA_PTR(g->mem, g->base_gfn * XEN_PAGE_SIZE + (uint64_t)ref * 8, 8),
		__ATOMIC_ACQUIRE);
	memcpy(&e, &raw, sizeof(e));
	if ((e.flags & GTF_type_mask) != GTF_permit_access || (e.flags & GTF_sub_page))
		err = XEN_GRANT_NOT_ACCESS;
	else if (e.domid != grantee)
		err = XEN_GRANT_OTHER_DOM;
	else if (write && (e.flags & GTF_readonly))
		err = XEN_GRANT_READONLY;
	else if (e.frame >= g->guest_pages)
		err = XEN_GRANT_BAD_FRAME;
	else if (off > XEN_PAGE_SIZE || len > XEN_PAGE_SIZE - off)
		err = XEN_GRANT_BAD_RANGE;
	if (err)
		goto out;
	gpa = (uint64_t)e.frame * XEN_PAGE_SIZE + off;
	p = gpa_ptr_guest(g->mem, gpa, len ? len : 1);
	if (!p)
		err = XEN_GRANT_BAD_FRAME;
out:
	if (why)
		*why = err;
	return p;
}

const char *xen_grant_err_name(enum xen_grant_err e)
{
	static const char *const names[] = {
		[XEN_GRANT_OK] = "ok",
		[XEN_GRANT_BAD_REF] = "reference past the table",
		[XEN_GRANT_NOT_ACCESS] = "not a GTF_permit_access entry",
		[XEN_GRANT_OTHER_DOM] = "granted to another domain",
		[XEN_GRANT_READONLY] = "read-only grant",
		[XEN_GRANT_BAD_FRAME] = "frame outside the guest",
		[XEN_GRANT_BAD_RANGE] = "range outside the page",
	};

	return (unsigned)e < sizeof(names) / sizeof(names[0]) ? names[e] : "?";
}
