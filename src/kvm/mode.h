/*
 * mode.h - how the guest kernel runs: one table of operations, chosen once at start.
 *
 * direct: the guest kernel at real CPL0, KVM doing the virtualization (src/direct/).
 * shadow: the guest kernel deprivileged to CPL3 under lodger's stub and shadow page
 * tables (src/shadow/). vm.c, vcpu.c, main.c and stats.c call these and never ask which
 * mode runs.
 */
#ifndef LODGER_MODE_H
#define LODGER_MODE_H

#include "boot/bootmap.h"
#include "front/config.h"

struct vm;
struct vcpu;
struct json;

/* A mode's exit handler did not claim the exit: the run loop handles it as usual. */
#define MODE_EXIT_UNCLAIMED (-1)

struct mode {
	const char *name; /* "direct", "shadow": the -stats "mode" */
	/* The selectors the guest is given (boot GDT, device tree). */
	const struct selectors *selectors;
	/* After the vCPU is created: its entry state. Returns 0 or an exit status. */
	int (*start)(struct vm *vm);
	/* Offered every exit before the run loop's own handling: MODE_EXIT_UNCLAIMED, or
	 * 0 to go on, or an exit status. NULL: the mode claims none. */
	int (*exit)(struct vcpu *vcpu);
	/* Its -stats members, after the common ones (vcpu may be NULL). NULL: none. */
	void (*write_stats)(struct json *j, const struct vcpu *vcpu);
	/* Brings counters kept elsewhere (in the VM) into the vCPU's statistics. */
	void (*sync_stats)(struct vcpu *vcpu);
	/* The GDB stub (src/gdb/server.h) asked for a stop: stops the guest where the run loop
	 * stands, in the guest's view, serves the debugger, and arms what it asked for (a
	 * step, breakpoints). Returns 0 to go on (also when the guest cannot stop here: the
	 * request stays pending) or an exit status. NULL: the mode has no GDB stub. */
	int (*debug_stop)(struct vcpu *vcpu);
	/* Undoes start (before the vCPU is destroyed). */
	void (*stop)(struct vm *vm);
};

extern const struct mode direct_mode, shadow_mode;

/* The mode -machine mode= names. */
const struct mode *mode_get(enum vm_mode mode);

#endif
