/*
 * guestcpu.h - the virtual CPU a shadow-mode guest sees, and the trap path that keeps it.
 *
 * In shadow mode the guest kernel runs at real CPL3, so everything privileged is virtual
 * and lives here: control registers, descriptor-table registers, the syscall MSRs, the
 * interrupt flag, and whether the guest is in kernel or user mode. Each trap from the
 * guest reaches lodger through the stub (stub/entry.S) as a KVM_EXIT_IO on
 * STUB_EXIT_PORT; trap_handle() reads the hardware frame, does what the guest's CPU
 * would have done (fill a shadow entry, emulate a privileged instruction, or deliver the
 * event through the guest's own IDT) and resumes the guest.
 *
 * Files: trap.c (entry, dispatch, resume), reflect.c (event delivery to the guest's
 * IDT), privop.c (privileged-instruction emulation), gmem.c (guest linear memory).
 */
#ifndef LODGER_GUESTCPU_H
#define LODGER_GUESTCPU_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

#include "boot/bootmap.h"
#include "shadow/gmem.h"
#include "shadow/relocate.h"
#include "shadow/shadow.h"
#include "shadow/stub.h"

struct vcpu;

/* Where each trap was handled, for the statistics (claims 7/19 vs 8/20). */
enum trap_place { TRAP_IN_STUB, TRAP_IN_VMM, TRAP_PLACES };

enum trap_kind {
	TK_SHADOW_FILL, /* a shadow miss, hidden from the guest */
	TK_REFLECTED,	/* an exception or interrupt delivered to the guest's IDT */
	TK_EMULATED,	/* a privileged instruction emulated */
	TK_SYSCALL,	/* syscall from the guest */
	TK_HALT_WAKE,	/* an interrupt ended a guest hlt */
	TK_PIO,		/* port I/O done through the stub's trampoline */
	TK_KINDS,
};
/* The kinds' names in -stats output ("shadow_fill", ...); defined in stats.c. */
extern const char *const trap_kind_names[TK_KINDS];

struct guestcpu_stats {
	uint64_t by_vector[256];
	uint64_t by_kind[TK_KINDS];
	uint64_t by_place[TRAP_PLACES];
	uint64_t stub_cli, stub_sti; /* handled by the stub's fast path (guestcpu_sync_stats) */
};

struct guestcpu {
	struct stub stub;
	struct shadow shadow;
	struct reloc reloc;
	struct {
		bool active;   /* one guest instruction runs with the stub moved aside */
		uint64_t home; /* where the stub goes back to afterwards */
		bool guest_tf; /* the guest's own TF, to give back */
		uint64_t start_ns;
	} step;

	bool user;   /* the guest is in user mode (virtual CPL3) */
	bool vif;    /* the guest's RFLAGS.IF */
	bool halted; /* parked in the stub's idle loop */
	bool pio_pending;
	struct kvm_regs saved; /* guest registers while halted or in a PIO trampoline */
	struct kvm_sregs saved_sregs;
	unsigned pio_size;
	bool pio_in;

	uint64_t cr0, cr2, cr3, cr4, efer, cr8;
	uint64_t star, lstar, cstar, fmask, kernel_gs_base, pat;
	uint64_t gdtr_base, idtr_base;
	uint16_t gdtr_limit, idtr_limit;
	uint16_t ldtr, tr;
	uint64_t tr_base;
	uint32_t tr_limit;
	uint64_t dr[8];
	uint64_t sysenter[3]; /* SYSENTER_CS, _ESP, _EIP: kept, never loaded (privop.c) */

	struct guestcpu_stats stats;
	uint64_t last_fill_la; /* a fill that does not take is a backend that will not map */
	unsigned same_fills;
};

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

/* What lodger's configuration says about the stub (config.h: -machine options). */
struct guestcpu_options {
	uint64_t stub_base; /* initial linear base, 2 MiB-aligned */
	bool relocate;	    /* move the stub when the guest wants its region */
	bool fast_paths;    /* let the stub handle the traps it can (claims 7, 19) */
	uint64_t seed;	    /* for relocation's random choices */
	unsigned reloc_hot, reloc_window_ms; /* claim 12's policy */
};

int guestcpu_init(struct vcpu *vcpu, const struct guestcpu_options *opt, uint64_t entry,
		  uint64_t fdt_gpa, const struct boot_layout *layout);
void guestcpu_destroy(struct vcpu *vcpu);

/* Brings the counters the stub keeps in its area into the statistics. */
void guestcpu_sync_stats(struct vcpu *vcpu);

/* A KVM_EXIT_IO on STUB_EXIT_PORT: true if it came from the stub (and was handled; the
 * lodger exit status, 0 to go on, is in *status). */
bool trap_handle(struct vcpu *vcpu, int *status);

/* trap.c helpers for reflect.c and privop.c */
struct gview trap_view(const struct trap *t, bool user);
void trap_set_mode(struct trap *t, bool user);

/* Parks the vCPU in the stub's idle loop until an interrupt (a guest hlt); t->regs.rip
 * is where the guest resumes. Returns 0 or an exit status. */
int trap_halt(struct trap *t);
/* Has the stub perform a port access the guest asked for (KVM's in-kernel devices are
 * only reachable from inside the VM); the guest resumes at t->regs.rip afterwards. */
int trap_port_io(struct trap *t, uint16_t port, unsigned size, bool in);

enum event_kind {
	EV_EXCEPTION, /* raised by the CPU */
	EV_EXTERNAL,  /* an interrupt (or NMI) from outside */
	EV_SOFTWARE,  /* int n / int3 at RIP (t->soft_len bytes): the gate's DPL is checked
		       * against the guest's CPL; a #GP then points at the instruction, the
		       * event itself returns after it */
};

/* reflect.c: deliver `vector` to the guest; RIP in t->regs is the return address.
 * Returns 0, or EXIT_TRIPLE_FAULT when delivery fails beyond a double fault. */
int reflect_event(struct trap *t, unsigned vector, bool has_error, uint32_t error,
		  enum event_kind kind);
/* Delivers a fault lodger found while acting for the guest. */
int reflect_fault(struct trap *t, const struct gfault *f);

/* privop.c: emulate the instruction at RIP that raised t->vector.
 * Returns 1 when done (state updated), 0 when the original exception must be reflected,
 * or a negative value carrying an exit status (-EXIT_*). */
int privop_emulate(struct trap *t);

/* Where a guest rdmsr/wrmsr of `index` goes: lodger's virtual CPU, KVM, or #GP. Only the
 * indices routed to KVM can ever reach KVM_GET/SET_MSRS (tests/unit/test_privop.c). */
enum msr_route { MSR_ROUTE_FAULT, MSR_ROUTE_VIRTUAL, MSR_ROUTE_KVM };
enum msr_route privop_msr_route(uint32_t index);

/* conflict.c: the guest touched the stub's region (claims 1, 9-12). Returns 0 or an exit
 * status; the guest's access runs again on resume. */
int conflict_handle(struct trap *t, uint64_t la, uint32_t access);
/* While a displaced access is being stepped: the trap `t` (vector t->vector) ends the step
 * unless it is a shadow fill on the way. Returns true when the trap was the step's own
 * #DB and needs nothing else; *status carries an exit status. */
bool conflict_step_trap(struct trap *t, int *status);
/* Ends a step early (the instruction raised something lodger handles). */
int conflict_step_end(struct trap *t);
/* Where the stub moves: every absolute address, the shadow roots, LSTAR. */
int trap_move_stub(struct trap *t, uint64_t to);

/* Emulated syscall/sysret, used by the syscall entry. */
int trap_syscall(struct trap *t);

#endif
