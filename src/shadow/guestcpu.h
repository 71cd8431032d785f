/*
 * guestcpu.h - the virtual CPU a shadow-mode guest sees, and its lifecycle.
 *
 * In shadow mode the guest kernel runs at real CPL3, so everything privileged is virtual
 * and lives here. The core (src/shadow/) reads only: whether the guest is in user or
 * kernel mode, its CR3, CR0.WP and EFER.NXE (to walk its tables), and its virtual IF
 * (personality.h: kernel_if_is_real). The rest of the register file is the native
 * personality's (src/native/); another personality keeps its state behind `pstate`.
 *
 * The trap path, in the order a trap takes it:
 *   stubexit.c   recognise the stub's exit, read the hardware frame   (stubexit.h)
 *   dispatch.c   shadow fill, stub conflict, or the personality        (dispatch.h)
 *   syscall.c    the two ways a guest syscall reaches lodger            (syscall.h)
 *   park.c       hlt and port I/O: the vCPU waits in the stub           (park.h)
 *   transport.c  registers to and from KVM, resumption                  (transport.h)
 *   conflict.c   the guest wants the stub's region (claims 1, 9-12)     (conflict.h)
 */
#ifndef LODGER_GUESTCPU_H
#define LODGER_GUESTCPU_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

#include "shadow/held.h"
#include "shadow/personality.h"
#include "shadow/relocate.h"
#include "shadow/shadow.h"
#include "shadow/stub.h"
#include "shadow/trap.h"

struct vcpu;

/* Where each trap was handled, for the statistics (claims 7/19 vs 8/20). */
enum trap_place { TRAP_IN_STUB, TRAP_IN_VMM, TRAP_PLACES };

enum trap_kind {
	TK_SHADOW_FILL, /* a shadow miss, hidden from the guest */
	TK_REFLECTED,	/* an exception or interrupt delivered to the guest */
	TK_EMULATED,	/* a privileged instruction emulated */
	TK_SYSCALL,	/* syscall from the guest */
	TK_HALT_WAKE,	/* an interrupt ended a guest hlt */
	TK_PIO,		/* port I/O done through the stub's trampoline */
	TK_KINDS,
};
/* The kinds' names in -stats output ("shadow_fill", ...); defined in report.c. */
extern const char *const trap_kind_names[TK_KINDS];

struct guestcpu_stats {
	uint64_t by_vector[256];
	uint64_t ns_by_vector[256];    /* lodger's handling of each, from the exit to KVM_RUN */
	uint64_t syscalls, syscall_ns; /* the guest's syscalls through the stub */
	uint64_t by_kind[TK_KINDS];
	uint64_t by_place[TRAP_PLACES];
	uint64_t stub_cli, stub_sti; /* handled by the stub's fast path (guestcpu_sync_stats) */
};

/* Where RIP is when KVM_RUN returns KVM_EXIT_IO for the stub's `out`: kvm_intel and
 * kvm_amd leave it at the instruction (their fast port-I/O path; the next KVM_RUN moves it
 * past unless userspace has changed RIP meanwhile); kvm_pvm's emulator has moved it past. */
enum out_exit_rip { OUT_EXIT_RIP_UNKNOWN, OUT_EXIT_RIP_AT_OUT, OUT_EXIT_RIP_PAST_OUT };

struct guestcpu {
	const struct personality *pers;
	void *pstate; /* a personality's own state (boot allocates, destroy frees) */

	struct stub stub;
	struct shadow shadow;
	struct reloc reloc;
	struct {
		bool active;   /* one guest instruction runs with the stub moved aside */
		uint64_t home; /* where the stub goes back to afterwards */
		bool guest_tf; /* the guest's own TF, to give back */
		bool popf;     /* the instruction is popf: it may change TF itself */
		uint64_t start_ns;
	} step;

	struct {
		bool armed;    /* the debugger's step: real TF set on resume (shadow/debug.c) */
		bool guest_tf; /* the guest's own TF under it */
	} dbg;

	/* The core's view of the guest. */
	bool user;   /* the guest is in user mode (virtual CPL3) */
	bool vif;    /* the guest's RFLAGS.IF */
	bool halted; /* parked in the stub's idle loop */
	bool pio_pending;
	bool apic_pending;	/* parked in the xAPIC write trampoline (apicmmio.h) */
	bool flush_pending;	/* in the stub's TLB flush on the way back (transport.c) */
	bool flush_sti_shadow;	/* the resumption it holds up ends an sti's shadow */
	bool tlb_flush_in_stub; /* KVM walks the tables in hardware: flush by the stub */
	uint64_t *pool_window;	/* the stub page table's STUB_POOL_WINDOW entries (zap log) */
	/* Where this KVM leaves RIP at the stub's exit (learnt at the first one, stubexit.c),
	 * and, where it is left at the `out`, that exit's address while KVM has not yet
	 * completed it (transport.c). */
	enum out_exit_rip out_exit_rip;
	bool out_pending;
	uint64_t out_rip;
	struct held held;      /* NMIs and interrupts taken inside a stub path (held.h) */
	struct kvm_regs saved; /* guest registers while halted or in a PIO trampoline */
	struct kvm_sregs saved_sregs;
	unsigned pio_size;
	bool pio_in;
	uint64_t cr0, cr3, efer; /* CR0.WP, CR3 and EFER.NXE walk the guest's tables */

	/* The native personality's virtual CPU (src/native/). */
	uint64_t cr2, cr4, cr8;
	uint64_t star, lstar, cstar, fmask, kernel_gs_base, pat;
	uint64_t gdtr_base, idtr_base;
	uint16_t gdtr_limit, idtr_limit;
	uint16_t ldtr, tr;
	uint64_t tr_base;
	uint32_t tr_limit;
	uint64_t dr[8];
	uint64_t sysenter[3]; /* SYSENTER_CS, _ESP, _EIP: kept, never loaded (privop.c) */

	/* The events of the last delivery that ended in a triple fault, in order, each a fault
	 * met delivering the one before (reflect.c; the dump names them). */
	struct {
		unsigned n;
		struct {
			uint8_t vector;
			uint8_t kind; /* enum event_kind */
			bool has_error;
			uint32_t error;
		} ev[6];
	} triple;

	struct guestcpu_stats stats;
	uint64_t last_fill_la; /* a fill that does not take is a backend that will not map */
	unsigned same_fills;
};

/* What lodger's configuration says about the stub (config.h: -machine options). */
struct guestcpu_options {
	const struct personality *personality;
	uint64_t stub_base;	/* initial linear base, 2 MiB-aligned */
	bool relocate;		/* move the stub when the guest wants its region */
	bool fast_paths;	/* let the stub handle the traps it can (claims 7, 19) */
	bool tlb_flush_in_stub; /* KVM walks the tables in hardware: the stub flushes the TLB */
	bool zap_in_stub;	/* KVM shadows them itself: the stub writes the removals again */
	uint64_t seed;		/* for relocation's random choices */
	unsigned reloc_hot, reloc_window_ms; /* claim 12's policy */
};

/* Makes KVM drop everything it derived from monitor memory (a memslot re-registration);
 * the zap log's window starts empty again. 0 or an exit status. */
int guestcpu_flush_kvm(struct vcpu *vcpu);

/* Monitor memory's content, without KVM: the stub, its page table, the shadow pool.
 * Sets vcpu->guest. Returns 0 or an exit status. */
int guestcpu_create(struct vcpu *vcpu, const struct guestcpu_options *opt);
/* The vCPU's entry state: the personality's boot state, loaded through KVM. */
int guestcpu_start(struct vcpu *vcpu, const struct personality_boot *boot);
void guestcpu_destroy(struct vcpu *vcpu);

/* The events of the last triple fault (g->triple) as text: "#UD -> #NP(0x33) -> ...";
 * "an exception, then faults delivering it" when none were recorded. */
void guestcpu_triple_text(const struct guestcpu *g, char *buf, size_t size);

/* Brings the counters the stub keeps in its area into the statistics. */
void guestcpu_sync_stats(struct vcpu *vcpu);

/* Where a guest rdmsr/wrmsr of `index` goes: lodger's virtual CPU, KVM, or #GP. Only the
 * indices routed to KVM can ever reach KVM_GET/SET_MSRS (tests/unit/test_privop.c). */
enum msr_route { MSR_ROUTE_FAULT, MSR_ROUTE_VIRTUAL, MSR_ROUTE_KVM };
enum msr_route privop_msr_route(uint32_t index);

#endif
