/*
 * trap.h - one trap from a shadow-mode guest: its context, and the trap path's convention.
 *
 * The trap path (src/shadow/ and the personality behind it) works on a struct trap: the
 * guest's registers as they were when it trapped, which the path edits in place; the
 * transport (transport.c) loads them into the vCPU on the way back.
 *
 * Result convention, everywhere on the trap path: an int, 0 to go on (resume the guest),
 * or a lodger exit status (front/exitcode.h: EXIT_TRIPLE_FAULT, EXIT_INTERNAL,
 * EXIT_HOST_ERROR ...) to end the run. A failing KVM ioctl is EXIT_HOST_ERROR, reported by
 * name (kvm_ioctl), never turned into something the guest sees.
 */
#ifndef LODGER_TRAP_H
#define LODGER_TRAP_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

#include "shadow/gmem.h"

struct vcpu;
struct guestcpu;

/* The context of one trap: the guest's registers as they were when it trapped. */
struct trap {
	struct vcpu *vcpu;
	struct guestcpu *g;
	struct kvm_regs regs;	/* guest GPRs, RIP, RSP, RFLAGS */
	struct kvm_sregs sregs; /* real segment and control state */
	unsigned vector;
	bool has_error;
	uint32_t error;
	bool parked;	   /* the vCPU was sent into the stub (hlt, port I/O): no resume */
	bool sti_shadow;   /* the guest executed sti: block interrupts for one instruction */
	unsigned soft_len; /* EV_SOFTWARE: length of the int instruction at RIP */
};

enum event_kind {
	EV_EXCEPTION, /* raised by the CPU */
	EV_EXTERNAL,  /* an interrupt (or NMI) from outside */
	EV_SOFTWARE,  /* int n / int3 at RIP (t->soft_len bytes): the gate's DPL is checked
		       * against the guest's CPL; a #GP then points at the instruction, the
		       * event itself returns after it */
};

/* An event to deliver to the guest (personality.h: deliver). */
struct event {
	unsigned vector;
	enum event_kind kind;
	bool has_error;
	uint32_t error;
	uint64_t cr2; /* a #PF's address */
};

/* The guest's linear memory as the guest in mode `user` sees it now (its CR3, CR0.WP,
 * EFER.NXE), with monitor memory out of reach. */
struct gview trap_view(const struct trap *t, bool user);

/* Switches the guest to user or kernel mode: the virtual CPL, and CS/SS to match. */
void trap_set_mode(struct trap *t, bool user);

/* The real segment register for one of the guest's selectors (stub_abi.h). */
struct kvm_segment trap_segment(uint16_t selector);

#endif
