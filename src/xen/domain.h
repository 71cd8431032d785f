/*
 * domain.h - Xen's start-of-day layout for a 64-bit PV kernel (the domain builder).
 *
 * As <xen/xen.h> "Start-of-day memory layout" describes and Xen's
 * xen/arch/x86/pv/dom0_build.c builds it (with a domU's xenstore and console pages):
 * one virtual region from VIRT_BASE, each piece page-aligned, in this order: the kernel,
 * the module (unless MOD_START_PFN asks for it unmapped), the p2m list, start_info, the
 * xenstore page, the console page, the bootstrap page tables (mapped read-only, the L4
 * pinned), the boot stack, then padding to a 4 MiB boundary with at least 512 KiB.
 * Guest frame = (virtual - VIRT_BASE) / 4 KiB; p2m is the identity.
 */
#ifndef LODGER_XEN_DOMAIN_H
#define LODGER_XEN_DOMAIN_H

#include <stddef.h>
#include <stdint.h>

#include "xen/grant.h"
#include "xen/notes.h"
#include "xen/state.h"

/* Frames at the top of guest RAM that lodger keeps, outside nr_pages: shared_info, then
 * the grant table's frames (xen/grant.h). */
#define XEN_RESERVED_PAGES (1 + XEN_GNTTAB_MAX_FRAMES)

struct xen_build_params {
	const char *cmdline;   /* start_info.cmd_line; truncated to MAX_GUEST_CMDLINE - 1 */
	const uint8_t *module; /* the initrd, or NULL */
	size_t module_len;
	evtchn_port_t console_port, store_port;
};

/* Every address of the layout, virtual unless named _gpa. */
struct xen_layout {
	uint64_t v_start, v_end;
	uint64_t kern_start, kern_end;
	uint64_t mod_start, mod_len; /* virtual, or a pfn with SIF_MOD_START_PFN; 0 len: none */
	uint64_t p2m_start, p2m_end;
	uint64_t start_info, xenstore, console;
	uint64_t pt_start, nr_pt_frames;
	uint64_t stack_start, stack_end;
	uint64_t nr_pages;	  /* handed to the guest */
	uint64_t shared_info_gpa; /* lodger's frame */
	uint64_t hypercall_page;  /* virtual, or XEN_NOTES_UNSET */
	/* entry state: RIP, RSP, RSI; CR3 = the L4's guest-physical address */
	uint64_t entry, rsp, rsi, cr3;
};

/* Guest-physical address of virtual address va inside the bootstrap region. */
static inline uint64_t xen_layout_gpa(const struct xen_layout *l, uint64_t va)
{
	return va - l->v_start;
}

/*
 * Loads the kernel image [img, img + len) described by n into d->mem and builds the
 * layout above. d->mem must be set; d->nr_pages, d->frame_type (allocated here, freed by
 * xen_domain_free), the console/store fields and shared_info_gpa are filled. Returns 0, or
 * -1 with one line in err (the image does not fit, a segment lies outside RAM...); every
 * check precedes the first write to guest RAM.
 */
int xen_domain_build(struct xen_domain *d, const uint8_t *img, size_t len,
		     const struct xen_notes *n, const struct xen_build_params *p,
		     struct xen_layout *out, char *err, size_t errlen);

/* The vCPU's entry state from the layout: registers, kernel mode, events masked. */
void xen_vcpu_init(struct xen_vcpu *v, struct xen_domain *d, const struct xen_layout *l);

/* Writes Xen's 64-bit PV (ring-3 kernel) hypercall page template into page (4 KiB). */
void xen_hypercall_page_fill(uint8_t *page);

/* Puts lodger's M2P slot into the guest L4 at frame l4_mfn (pinned or loaded as a base
 * pointer: Xen's slots in every L4). true when the entry changed (the shadow must hear). */
bool xen_m2p_install(struct xen_domain *d, uint64_t l4_mfn);

void xen_domain_free(struct xen_domain *d);

#endif
