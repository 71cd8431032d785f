/*
 * test_xen_grant.c - grant tables v1 (src/xen/grant.c): grant_table_op as a PV Linux calls
 * it (set_version, query_size, setup_table) and as a hostile guest would, with Xen's error
 * codes and statuses; the table's frames mappable by mmu_update; the backend's checks on
 * an entry. The guest is the domain builder's synthetic kernel (xen_image.h). No KVM.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>

#include <xen/errno.h>

#define __XEN_INTERFACE_VERSION__ 0x00040e00
#include <xen/grant_table.h>

#include "xen/domain.h"
#include "xen/families.h"
#include "xen/grant.h"
#include "xen/hypercall.h"
#include "xen_fixture.h"
#include "xen_image.h"

#define RAM	 (32ULL << 20)
#define SCRATCH	 0x200000ULL
#define UNMAPPED 0x7fff00000000ULL

static struct guest_mem mem;
static struct xen_domain d;
static struct xen_layout l;
static struct xen_vcpu v;
static struct xen_gnttab gt;

static void setup(void)
{
	xen_fixture_build(&mem, RAM, &d, &l);
	xen_vcpu_init(&v, &d, &l);
	xen_gnttab_init(&gt, &mem, d.shared_info_gpa / 4096 + 1, XEN_GNTTAB_MAX_FRAMES, d.nr_pages,
			1);
	d.gnttab = &gt;
}

static void teardown(void)
{
	xen_domain_free(&d);
	mem_free(&mem);
}

TestSuite(gnt, .init = setup, .fini = teardown);

static long op(unsigned cmd, uint64_t arg, uint64_t count)
{
	const uint64_t a[6] = {cmd, arg, count, 0, 0, 0};

	return xen_hypercall(&v, __HYPERVISOR_grant_table_op, a);
}

static void *at(uint64_t gpa)
{
	return mem.ram + gpa;
}

Test(gnt, reserved_frames_hold_the_table)
{
	cr_expect_eq(XEN_RESERVED_PAGES, 1 + XEN_GNTTAB_MAX_FRAMES);
	cr_expect_eq(gt.base_gfn + gt.max_frames, d.nr_pages + XEN_RESERVED_PAGES,
		     "up to lodger's M2P at the top of RAM");
}

Test(gnt, versions)
{
	struct gnttab_set_version *sv = at(SCRATCH);
	struct gnttab_get_version *gv = at(SCRATCH + 0x100);

	sv->version = 1;
	cr_expect_eq(op(GNTTABOP_set_version, SCRATCH, 1), 0);
	cr_expect_eq(sv->version, 1);
	sv->version = 2;
	cr_expect_eq(op(GNTTABOP_set_version, SCRATCH, 1), -XEN_ENOSYS, "v2 is not offered");
	cr_expect_eq(sv->version, 1, "the version in force is written back");
	sv->version = 3;
	cr_expect_eq(op(GNTTABOP_set_version, SCRATCH, 1), -XEN_EINVAL);
	cr_expect_eq(op(GNTTABOP_set_version, SCRATCH, 2), -XEN_EINVAL, "count 2");
	cr_expect_eq(op(GNTTABOP_set_version, UNMAPPED, 1), -XEN_EFAULT);
	*gv = (struct gnttab_get_version){.dom = DOMID_SELF};
	cr_expect_eq(op(GNTTABOP_get_version, SCRATCH + 0x100, 1), 0);
	cr_expect_eq(gv->version, 1);
	gv->dom = 7;
	cr_expect_eq(op(GNTTABOP_get_version, SCRATCH + 0x100, 1), -XEN_EPERM);
	cr_expect_eq(op(GNTTABOP_map_grant_ref, SCRATCH, 1), -XEN_ENOSYS);
	cr_expect_eq(op(GNTTABOP_copy, SCRATCH, 1), -XEN_ENOSYS);
	d.gnttab = NULL;
	cr_expect_eq(op(GNTTABOP_query_size, SCRATCH, 1), -XEN_ENOSYS, "no backends: as before");
}

Test(gnt, query_and_setup)
{
	struct gnttab_query_size *q = at(SCRATCH);
	struct gnttab_setup_table *s = at(SCRATCH + 0x100);
	uint64_t *frames = at(SCRATCH + 0x1000);

	*q = (struct gnttab_query_size){.dom = DOMID_SELF};
	cr_expect_eq(op(GNTTABOP_query_size, SCRATCH, 1), 0);
	cr_expect_eq(q->status, GNTST_okay);
	cr_expect_eq(q->nr_frames, 0);
	cr_expect_eq(q->max_nr_frames, XEN_GNTTAB_MAX_FRAMES);
	q->dom = 9;
	cr_expect_eq(op(GNTTABOP_query_size, SCRATCH, 1), 0);
	cr_expect_eq(q->status, GNTST_permission_denied);

	*s = (struct gnttab_setup_table){.dom = DOMID_SELF, .nr_frames = 2};
	s->frame_list.p = (xen_pfn_t *)(uintptr_t)(SCRATCH + 0x1000);
	cr_expect_eq(op(GNTTABOP_setup_table, SCRATCH + 0x100, 1), 0);
	cr_expect_eq(s->status, GNTST_okay);
	cr_expect_eq(frames[0], gt.base_gfn);
	cr_expect_eq(frames[1], gt.base_gfn + 1);
	cr_expect(xen_gnttab_frame(&gt, gt.base_gfn + 1));
	cr_expect(!xen_gnttab_frame(&gt, gt.base_gfn + 2), "only what was set up");
	cr_expect(!xen_gnttab_frame(&gt, 5));
	s->nr_frames = XEN_GNTTAB_MAX_FRAMES + 1;
	cr_expect_eq(op(GNTTABOP_setup_table, SCRATCH + 0x100, 1), 0);
	cr_expect_eq(s->status, GNTST_general_error);
	s->nr_frames = 1;
	cr_expect_eq(op(GNTTABOP_setup_table, SCRATCH + 0x100, 1), 0, "never shrinks");
	cr_expect_eq(gt.nr_frames, 2);
	s->frame_list.p = (xen_pfn_t *)(uintptr_t)UNMAPPED;
	cr_expect_eq(op(GNTTABOP_setup_table, SCRATCH + 0x100, 1), 0);
	cr_expect_eq(s->status, GNTST_bad_virt_addr);
	cr_expect_eq(op(GNTTABOP_setup_table, UNMAPPED, 1), -XEN_EFAULT);
	cr_expect_eq(op(GNTTABOP_setup_table, SCRATCH + 0x100, 0), -XEN_EINVAL);
}

Test(gnt, the_guest_may_map_its_table_frames)
{
	const uint64_t gfn = gt.base_gfn;
	struct gnttab_setup_table *s = at(SCRATCH + 0x100);
	/* an L1 entry of the bootstrap tables: mmu_update to point it at the table frame */
	uint64_t l1 = 0, va = SCRATCH + 0x3000;
	struct mmu_update *u = at(SCRATCH + 0x2000);
	const uint64_t a_before[6] = {SCRATCH + 0x2000, 1, 0, DOMID_SELF, 0, 0};

	/* find the PTE of va through the builder's tables */
	uint64_t table = l.cr3;

	for (int level = 4; level > 1; level--)
		table = *(uint64_t *)at(table + ((va >> (12 + 9 * (level - 1))) & 511) * 8) &
			0x000ffffffffff000ULL;
	l1 = table + ((va >> 12) & 511) * 8;
	u->ptr = l1 | MMU_NORMAL_PT_UPDATE;
	u->val = gfn << 12 | 0x67;
	cr_expect_eq(xen_hypercall(&v, __HYPERVISOR_mmu_update, a_before), -XEN_EINVAL,
		     "not before setup_table");
	*s = (struct gnttab_setup_table){.dom = DOMID_SELF, .nr_frames = 1};
	s->frame_list.p = (xen_pfn_t *)(uintptr_t)(SCRATCH + 0x1000);
	cr_assert_eq(op(GNTTABOP_setup_table, SCRATCH + 0x100, 1), 0);
	cr_expect_eq(xen_hypercall(&v, __HYPERVISOR_mmu_update, a_before), 0);
	cr_expect_eq(*(uint64_t *)at(l1) >> 12 & 0xffffffffffULL, gfn);
}

Test(gnt, backend_access_checks)
{
	struct grant_entry_v1 *e;
	enum xen_grant_err why;
	uint8_t *p;

	gt.nr_frames = 1;
	e = at(gt.base_gfn * 4096);
	e[5] = (struct grant_entry_v1){GTF_permit_access, 0, 100};
	p = xen_gnttab_access(&gt, 5, 0, true, 512, 1024, &why);
	cr_expect_eq(p, mem.ram + 100 * 4096 + 512);
	cr_expect_eq(why, XEN_GRANT_OK);
	cr_expect_null(xen_gnttab_access(&gt, 5, 0, true, 4000, 200, &why));
	cr_expect_eq(why, XEN_GRANT_BAD_RANGE);
	cr_expect_null(xen_gnttab_access(&gt, 5, 3, false, 0, 4096, &why));
	cr_expect_eq(why, XEN_GRANT_OTHER_DOM);
	cr_expect_null(xen_gnttab_access(&gt, 512, 0, false, 0, 4096, &why));
	cr_expect_eq(why, XEN_GRANT_BAD_REF);
	e[6] = (struct grant_entry_v1){GTF_permit_access | GTF_readonly, 0, 100};
	cr_expect_not_null(xen_gnttab_access(&gt, 6, 0, false, 0, 4096, &why));
	cr_expect_null(xen_gnttab_access(&gt, 6, 0, true, 0, 4096, &why));
	cr_expect_eq(why, XEN_GRANT_READONLY);
	e[7] = (struct grant_entry_v1){GTF_permit_access, 0, (uint32_t)d.nr_pages};
	cr_expect_null(xen_gnttab_access(&gt, 7, 0, false, 0, 4096, &why));
	cr_expect_eq(why, XEN_GRANT_BAD_FRAME, "shared_info is not the guest's to grant");
	e[8] = (struct grant_entry_v1){GTF_invalid, 0, 100};
	cr_expect_null(xen_gnttab_access(&gt, 8, 0, false, 0, 4096, &why));
	cr_expect_eq(why, XEN_GRANT_NOT_ACCESS);
	e[9] = (struct grant_entry_v1){GTF_transitive, 0, 100};
	cr_expect_null(xen_gnttab_access(&gt, 9, 0, false, 0, 4096, &why));
	cr_expect_str_eq(xen_grant_err_name(why), "not a GTF_permit_access entry");
}
