/*
 * personality.h - the guest ABI behind the shadow-mode core: one table of operations.
 *
 * The core (src/shadow/) runs the guest kernel deprivileged and owns what that needs:
 * the stub, the shadow page tables, relocation, moving registers to and from KVM, parking
 * the vCPU in the stub. What the guest kernel *sees* - how a syscall enters it, how an
 * exception or interrupt reaches it, what its interrupt flag is, what state it boots
 * in - is the personality's. The core calls these and nothing else of it; it never asks
 * which personality runs. src/native/ is today's one (a native x86-64 kernel: privileged
 * instructions emulated, events through its own IDT); docs/architecture.md says how a
 * second one plugs in.
 *
 * Every operation follows the trap path's convention (trap.h): 0 to go on, or an exit
 * status. Registers are read and changed in the struct trap; the core loads them into the
 * vCPU afterwards (unless an operation parked it in the stub: park.h).
 */
#ifndef LODGER_PERSONALITY_H
#define LODGER_PERSONALITY_H

#include <stdbool.h>
#include <stdint.h>

#include "shadow/trap.h"

struct json;
struct guestcpu;

/* What the boot protocol hands the guest (vm.c fills it in). */
struct personality_boot {
	uint64_t entry;	  /* the kernel's entry point */
	uint64_t fdt_gpa; /* the device tree lodger built */
	uint64_t pml4;	  /* the boot page tables, GDT and TSS in reserved RAM */
	uint64_t gdt;
	uint64_t tss;
	/* What vm_prepare built for this personality (Xen: struct xen_guest, its domain
	 * and layout; vm_destroy frees it). NULL for native. */
	void *prepared;
};

struct personality {
	const char *name;

	/*
	 * The virtual IF. true: in guest kernel mode the real RFLAGS.IF is the guest's IF
	 * (g->vif), so KVM's in-kernel irqchip interrupts the guest only when it allows it,
	 * and the stub's cli/sti fast paths may act on it. false: the personality keeps the
	 * virtual IF elsewhere (e.g. a mask in shared memory), the real IF stays set, and
	 * every interrupt comes to `deliver` (which may hold it pending for `pending`).
	 */
	bool kernel_if_is_real;

	/* The guest kernel runs on the stub's present aliases of the kernel selectors
	 * (stub_abi.h): its own reloads of CS and SS (iretq to itself) then do not trap.
	 * The personality loads them (regs_out); lodger's record decides the mode. */
	bool kernel_on_aliases;

	/* What a guest-kernel cli or sti does in the stub's #GP fast path
	 * (STUB_CLI_STI_NOP or STUB_CLI_STI_LODGER, stub_abi.h), asked on every return to the
	 * guest. NULL: they act on the real IF where that is the guest's (kernel_if_is_real),
	 * else lodger decides. */
	unsigned (*kernel_cli_sti)(const struct guestcpu *g);

	/* Boot-time state: the virtual CPU (g's registers) and the entry registers in t
	 * (RIP, arguments). The guest starts in kernel mode. */
	int (*boot)(struct trap *t, const struct personality_boot *b);

	/*
	 * A `syscall` instruction, from guest user or kernel mode (t->g->user). RCX and R11
	 * hold what the CPU put there (the return RIP, RFLAGS); t->regs.rip is past the
	 * instruction; CS/SS are the mode's own. E.g. native: enter LSTAR in kernel mode;
	 * a paravirtual ABI: a kernel-mode syscall is a hypercall.
	 */
	int (*syscall)(struct trap *t);

	/*
	 * An exception the core does not resolve itself (t->vector, t->has_error, t->error,
	 * RIP at the faulting instruction): #UD, #GP, #NP, #SS and the other CPU exceptions.
	 * Shadow misses, stub conflicts, #DF/#MC and the deprivileging artefacts (#AC in
	 * kernel mode, int3 as #BP) stay in the core. Emulate, or deliver to the guest.
	 */
	int (*exception)(struct trap *t);

	/*
	 * Delivers an event to the guest: where its handler is (native: the guest's IDT; a
	 * paravirtual ABI: its trap table or event callback), the frame it gets, the mode
	 * and virtual IF after it. A fault met on the way is the personality's to combine
	 * (double fault, triple fault: EXIT_TRIPLE_FAULT).
	 */
	int (*deliver)(struct trap *t, const struct event *e);

	/* On the way back to the guest, before its registers are loaded: delivers what is
	 * pending and not masked. NULL when KVM's irqchip does it (native). */
	int (*pending)(struct trap *t);

	/* Its own -stats members, after shadow mode's. NULL when none. */
	void (*write_stats)(struct json *j, const struct guestcpu *g);

	/* Frees what boot allocated (g->pstate). NULL when nothing. */
	void (*destroy)(struct guestcpu *g);
};

/* The personalities lodger has, by name; NULL if none is called that. */
const struct personality *personality_find(const char *name);

/* Helpers for the core: deliver an event or a fault found acting for the guest. */
int personality_deliver(struct trap *t, unsigned vector, enum event_kind kind, bool has_error,
			uint32_t error);
int personality_fault(struct trap *t, const struct gfault *f);

#endif
