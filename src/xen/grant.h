/*
 * grant.h - grant tables, version 1: the guest's side (grant_table_op: setup_table,
 * query_size, set_version, get_version) and the backend's (lodger, standing in for
 * domain 0, reaching a frame the guest granted it).
 *
 * The table lives in lodger's frames above the guest's (xen/domain.h's reserved pages):
 * GNTTABOP_setup_table hands their numbers to the guest, which maps them with its own
 * page tables as a PV Linux does (arch_gnttab_map_shared). Entries are
 * struct grant_entry_v1 (<xen/grant_table.h>); every field is the guest's and is read
 * once, then checked: GTF_permit_access, the grantee, GTF_readonly against the access,
 * the frame inside the guest's memory, the byte range inside the page.
 */
#ifndef LODGER_XEN_GRANT_H
#define LODGER_XEN_GRANT_H

#include <stdbool.h>
#include <stdint.h>

#include <xen/grant_table.h>

#include "kvm/mem.h"

#define XEN_GNTTAB_MAX_FRAMES 32 /* Xen's domU default is 64; blkfront needs far fewer */
#define XEN_GNTTAB_PER_FRAME  (4096 / sizeof(struct grant_entry_v1))

struct xen_gnttab {
	const struct guest_mem *mem;
	uint64_t base_gfn;    /* the table's frames: [base_gfn, base_gfn + max_frames) */
	unsigned max_frames;  /* query_size's max_nr_frames */
	unsigned nr_frames;   /* set up so far (setup_table grows it, never shrinks it) */
	uint64_t guest_pages; /* a grant may name frames [0, guest_pages) only */
	domid_t domid;	      /* the guest's own id, besides DOMID_SELF */
};

/* The table's frames must lie in mem (lodger's choice: aborts otherwise). */
void xen_gnttab_init(struct xen_gnttab *g, const struct guest_mem *mem, uint64_t base_gfn,
		     unsigned max_frames, uint64_t guest_pages, domid_t domid);

/* mfn is one of the table's frames set up so far (the guest may map it). */
bool xen_gnttab_frame(const struct xen_gnttab *g, uint64_t mfn);

/* Why an access was refused, for the backend's trace. */
enum xen_grant_err {
	XEN_GRANT_OK,
	XEN_GRANT_BAD_REF,    /* past the table set up */
	XEN_GRANT_NOT_ACCESS, /* not GTF_permit_access (invalid, transfer, transitive) */
	XEN_GRANT_OTHER_DOM,  /* granted to another domain */
	XEN_GRANT_READONLY,   /* GTF_readonly, and the backend would write */
	XEN_GRANT_BAD_FRAME,  /* the frame is not the guest's */
	XEN_GRANT_BAD_RANGE,  /* [off, off + len) leaves the page */
};

/*
 * The host address of bytes [off, off + len) of the frame that grant `ref` gives to
 * domain `grantee`, for reading (write false) or writing into it (write true); NULL with
 * *why when the grant does not allow it. The pointer stays inside guest RAM; the guest may
 * revoke the grant afterwards, which only ever concerns its own memory.
 */
void *xen_gnttab_access(const struct xen_gnttab *g, grant_ref_t ref, domid_t grantee, bool write,
			uint32_t off, uint32_t len, enum xen_grant_err *why);

const char *xen_grant_err_name(enum xen_grant_err e);

#endif
