/*
 * xen_fixture.h - the Xen unit tests' common start: an XTF-like PV kernel (xen_image.h)
 * built into fresh guest RAM by the domain builder, as lodger builds a real one.
 */
#ifndef LODGER_TEST_XEN_FIXTURE_H
#define LODGER_TEST_XEN_FIXTURE_H

#include <criterion/criterion.h>
#include <string.h>

#include "kvm/mem.h"
#include "xen/domain.h"
#include "xen/families.h"
#include "xen/notes.h"
#include "xen_image.h"

static inline void xen_fixture_build(struct guest_mem *mem, uint64_t ram, struct xen_domain *d,
				     struct xen_layout *l)
{
	struct xi x;
	struct xen_notes n;
	struct xen_build_params p = {.console_port = 2, .store_port = 1};
	char err[256];

	cr_assert_eq(mem_alloc_ram(mem, ram), 0);
	memset(d, 0, sizeof(*d));
	d->mem = mem;
	xi_init(&x, 0x100000, 0, 0x100010);
	xi_xtf_notes(&x, 0x101000);
	cr_assert_eq(xen_notes_parse(x.buf, x.len, &n, err, sizeof(err)), 1, "%s", err);
	cr_assert_eq(xen_domain_build(d, x.buf, x.len, &n, &p, l, err, sizeof(err)), 0, "%s", err);
}

/* The same, with event channels and vCPU 0 ready, its hooks `hooks`: a domain that takes
 * hypercalls. */
static inline void xen_fixture_vcpu(struct guest_mem *mem, uint64_t ram, struct xen_domain *d,
				    struct xen_layout *l, struct xen_vcpu *v,
				    const struct xen_hooks *hooks)
{
	xen_fixture_build(mem, ram, d, l);
	xen_evtchn_init(d);
	xen_vcpu_init(v, d, l);
	v->hooks = hooks;
}

#endif
