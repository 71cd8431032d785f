/*
 * families.h - the hypercall handlers, one file per family, for hypercall.c's table.
 *
 * Each takes the vCPU and the raw arguments and returns the hypercall's result, with
 * Xen's semantics (xen/arch/x86/, xen/common/) and Xen's error codes.
 */
#ifndef LODGER_XEN_FAMILIES_H
#define LODGER_XEN_FAMILIES_H

#include <stdint.h>

#include <xen/errno.h>

#include "xen/state.h"

typedef long xen_handler(struct xen_vcpu *v, const uint64_t a[6]);

/* mm.c */
xen_handler xen_mmu_update, xen_update_va_mapping, xen_mmuext_op;
/* memory.c */
xen_handler xen_memory_op;
/* evtchn.c */
xen_handler xen_event_channel_op;
/* console.c */
xen_handler xen_console_io;
/* sched.c */
xen_handler xen_sched_op, xen_set_timer_op;
/* vcpu.c */
xen_handler xen_vcpu_op;
/* misc.c */
xen_handler xen_set_trap_table, xen_set_gdt, xen_stack_switch, xen_fpu_taskswitch, xen_set_debugreg,
	xen_get_debugreg, xen_update_descriptor, xen_xen_version, xen_vm_assist,
	xen_set_segment_base, xen_callback_op, xen_physdev_op;

/* grant.c */
xen_handler xen_grant_table_op;

/* evtchn.c: marks `port` pending as Xen's evtchn_2l_set_pending does. */
void xen_evtchn_set_pending(struct xen_vcpu *v, evtchn_port_t port);
/* evtchn.c: the console and xenstore ports bound at build time. */
void xen_evtchn_init(struct xen_domain *d);
/* console.c: drains the console ring's out[] to the console hook. */
void xen_console_drain(struct xen_vcpu *v);

/* misc.c: Xen's debug-register rules (set_debugreg, x86emul_read_dr), for the hypercalls
 * and for mov to/from %drN; the register values as Xen resets them. */
#define XEN_DR6_DEFAULT 0xffff0ff0ULL
#define XEN_DR6_ZEROS	0x00001000ULL
#define XEN_DR7_DEFAULT 0x00000400ULL
#define XEN_DR7_ZEROS	0x0000d000ULL
#define XEN_DR7_RTM	0x00000800ULL /* forced to 0: lodger offers no RTM */
#define XEN_DR7_GD	0x00002000ULL
long xen_dr_write(struct xen_vcpu *v, unsigned reg, uint64_t value);
bool xen_dr_read(const struct xen_vcpu *v, unsigned reg, uint64_t *value);

/* mm.c: mmu_update's checks on a new L1 entry (ptwr.c applies them too); 0 or -errno. */
long xen_l1e_check(struct xen_vcpu *v, uint64_t val);
/* backend.c: the guest sent an event on `port` (EVTCHNOP_send): lodger's backends. */
void xen_backends_send(struct xen_vcpu *v, evtchn_port_t port);

/* Guest frames: [0, nr_pages). */
static inline bool xen_frame_ok(const struct xen_domain *d, uint64_t mfn)
{
	return mfn < d->nr_pages;
}

#endif
