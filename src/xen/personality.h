/*
 * personality.h - the Xen x86-64 PV personality: src/xen/ behind shadow mode's core.
 *
 * The core (shadow/personality.h) hands this table its traps; it moves the registers
 * into struct xen_vcpu, calls src/xen/ (hypercall.h, bounce.h, trapemu.h) and moves
 * them back, with the mode, the guest's base pointer of that mode, and the FS/GS bases.
 * What only the core can do for src/xen/ (struct xen_hooks) is done here: shadow
 * invalidation and flushes, root switches, console output, the clock. The virtual IF is
 * vcpu_info's evtchn_upcall_mask (kernel_if_is_real = false): events are delivered on
 * the way back to the guest (`pending`), never through KVM's irqchip.
 */
#ifndef LODGER_XEN_PERSONALITY_H
#define LODGER_XEN_PERSONALITY_H

#include <linux/kvm.h>

#include "shadow/personality.h"
#include "xen/console_input.h"
#include "xen/domain.h"
#include "xen/pit.h"
#include "xen/time.h"

/* Where the stub lives for a PV guest unless stub-base= says otherwise: inside the
 * hypervisor hole the ABI keeps from guests (HV_START_LOW up to 0xffff87ffffffffff),
 * past the M2P's two slots (256: kvm_pvm cannot map it for CPL3; 257: reported M2P). */
#define XEN_STUB_BASE 0xffff810000000000ULL

/* Exit statuses of SCHEDOP_shutdown (docs/cli.md); poweroff is 0. Odd: the guest's. */
#define XEN_EXIT_REBOOT	    65
#define XEN_EXIT_CRASH	    67
#define XEN_EXIT_WATCHDOG   69
#define XEN_EXIT_SUSPEND    71
#define XEN_EXIT_SOFT_RESET 73

/* What vm_prepare builds (xen/prepare.h) and frees in vm_destroy; the personality uses
 * it from boot on. */
struct xen_guest {
	struct xen_domain d;
	struct xen_layout l;
};

/* The personality's state behind guestcpu.pstate. */
struct xen_pstate {
	struct xen_guest *guest;
	struct xen_vcpu v;
	struct trap *t;		  /* the trap being handled, for the hooks */
	struct xen_clock clock;	  /* Xen's system time: the guest's TSC scaled (xen/time.h) */
	struct vcpu *vcpu;	  /* for KVM's reading of the guest's TSC */
	int64_t tsc_offset;	  /* guest TSC - host TSC, as last read from KVM */
	uint64_t kick_deadline;	  /* the deadline the local APIC timer is armed for, 0: none */
	struct xen_conin conin;	  /* the terminal's keys for the console ring */
	bool conin_ok, terminal;  /* conin set up; keys may come from a terminal */
	bool disks;		  /* disk backends: their completions may wake a blocked vCPU */
	int wake_fd;		  /* an eventfd the backends' I/O thread writes (-1: none) */
	int vm_fd;		  /* for that thread's interrupt to a running guest */
	struct kvm_cpuid2 *cpuid; /* the vCPU's CPUID table, for the forced-emulation cpuid */
	uint64_t emulated;	  /* instructions completed (cpuid, int n, M2P reads) */
	struct xen_pit pit;	  /* channel 2 and port 0x61, for the TSC calibration */
};

extern const struct personality xen_personality;

/* The status a shutdown reason ends the run with. */
int xen_shutdown_status(unsigned reason);

/* The operations, for the unit tests. */
int xen_pers_boot(struct trap *t, const struct personality_boot *b);
int xen_pers_syscall(struct trap *t);
int xen_pers_exception(struct trap *t);
int xen_pers_deliver(struct trap *t, const struct event *e);
int xen_pers_pending(struct trap *t);
void xen_pers_destroy(struct guestcpu *g);

/* Bounces an exception through the guest's trap table (and counts it). */
int xen_bounce(struct xen_pstate *p, struct trap *t, unsigned vector, bool has_error,
	       uint32_t error, uint64_t cr2);

/* SCHEDOP_block: sleeps until a timer is due or an event is pending; an exit status
 * when nothing could ever wake the guest. */
int xen_wait_for_event(struct xen_pstate *p, struct trap *t);

/* Register moves between the trap and the Xen vCPU (trapemu.c uses them too). */
void xen_regs_in(struct xen_pstate *p, struct trap *t);
void xen_regs_out(struct xen_pstate *p, struct trap *t);

#endif
