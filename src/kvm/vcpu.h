/*
 * vcpu.h - a virtual CPU: its KVM handles, boot state, and the run loop.
 *
 * vcpu.c holds the run loop, which only dispatches exits; cpu.c sets the architectural
 * state (CPUID, long mode, registers) and dumps it; emulate.c completes instructions
 * KVM's emulator gives up on.
 */
#ifndef LODGER_VCPU_H
#define LODGER_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "boot/bootmap.h"
#include "front/phase.h"

struct vm;
struct guestcpu;

#define VCPU_EXIT_REASONS 64 /* KVM_EXIT_* fit below this */

struct vcpu {
	struct vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run; /* shared with KVM, mmapped */
	size_t run_size;
	pthread_t thread;		   /* the thread in KVM_RUN, for vcpu_kick */
	uint64_t exits[VCPU_EXIT_REASONS]; /* exits by KVM_EXIT_* reason */
	uint64_t completed;		   /* instructions lodger completed for KVM (emulate.c) */
	struct phase_stats phases[PHASES]; /* where the time goes (phase.h), for -stats */
	struct guestcpu *guest; /* shadow mode's virtual CPU (shadow/guestcpu.h), else NULL */
	bool umip;		/* its CPUID has UMIP, so KVM may accept CR4.UMIP (cpu_set_cpuid) */
};

int vcpu_create(struct vm *vm, unsigned id, struct vcpu **out);
void vcpu_destroy(struct vcpu *vcpu);

/* Runs until the VM stops; returns lodger's exit status. */
int vcpu_loop(struct vcpu *vcpu);

/* Makes a vCPU in KVM_RUN return to lodger (after vm_request_exit from another thread). */
void vcpu_kick(struct vcpu *vcpu);

/* cpu.c: CPUID, long-mode state of the boot protocol, entry registers. */
int cpu_set_boot_state(struct vcpu *vcpu, const struct boot_layout *layout, uint64_t entry,
		       uint64_t fdt_gpa);
/* The vCPU's CPUID: everything KVM supports, with this vCPU's APIC id. */
int cpu_set_cpuid(struct vcpu *vcpu);
/* A flat 4 GiB code or data segment register for `selector`, DPL = its RPL. */
struct kvm_segment cpu_flat_segment(uint16_t selector, bool code, bool long_mode);
/* Writes general, segment and control registers to f. */
void cpu_dump(struct vcpu *vcpu, FILE *f);
/* At a KVM_EXIT_SHUTDOWN: which event the vCPU was delivering when it shut down, as KVM's
 * vCPU events tell it ("delivering #DF (vector 8, error 0)"), or that KVM does not say
 * (and, when `r` and `s` hold the reset state, that KVM reset the vCPU). */
void cpu_shutdown_cause(const struct kvm_vcpu_events *ev, const struct kvm_regs *r,
			const struct kvm_sregs *s, char *buf, size_t size);

/* emulate.c: after KVM_EXIT_INTERNAL_ERROR; true when lodger completed the instruction. */
bool emulate_after_failure(struct vcpu *vcpu);

#endif
