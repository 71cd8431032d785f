/*
 * fake_vcpu.h - a shadow-mode vCPU without /dev/kvm, for unit tests of the trap path.
 *
 * Real guest RAM and monitor memory, the real stub and shadow tables (guestcpu_create),
 * the native personality, and a KVM that is a function (kvm_ioctl_hook): registers travel
 * in a calloc'd kvm_run, and any ioctl can be made to fail. The guest gets an identity
 * map of its RAM (user-accessible), an IDT, a TSS with RSP0 and IST1, and is in kernel or
 * user mode as a test asks.
 */
#ifndef LODGER_FAKE_VCPU_H
#define LODGER_FAKE_VCPU_H

#include <stdbool.h>
#include <stdint.h>

#include "kvm/vcpu.h"
#include "kvm/vm.h"
#include "shadow/guestcpu.h"
#include "shadow/trap.h"

#define FAKE_RAM_SIZE (4ULL << 20)
#define FAKE_PML4     0x1000ULL
#define FAKE_PDPT     0x2000ULL
#define FAKE_PD	      0x3000ULL
#define FAKE_PT	      0x4000ULL /* maps [0, 2 MiB) in 4 KiB pages, so tests can unmap one */
#define FAKE_IDT      0x10000ULL
#define FAKE_GDT      0x11000ULL
#define FAKE_TSS      0x12000ULL
#define FAKE_CODE     0x40000ULL /* where a test's instruction goes */
#define FAKE_DATA     0x50000ULL
#define FAKE_USER_RSP 0x70000ULL
#define FAKE_RSP0     0x80000ULL  /* TSS.RSP0: the guest kernel's stack */
#define FAKE_IST1     0x90000ULL  /* TSS.IST1 */
#define FAKE_HANDLER  0x100000ULL /* handler of vector v: FAKE_HANDLER + v * 16 */
#define FAKE_UNMAPPED 0x1ff000ULL /* a page the tables leave out */

struct fake {
	struct vm vm;
	struct vcpu *vcpu;
	struct guestcpu *g;
	struct trap t;
	/* The fake KVM: the registers KVM_GET_REGS/_SREGS give, and an ioctl to fail. */
	struct kvm_regs kvm_regs;
	struct kvm_sregs kvm_sregs;
	unsigned long fail_req; /* this ioctl fails with EIO; 0: none */
	/* An exit left RIP at its instruction, as kvm_intel/kvm_amd do for port I/O: the next
	 * KVM_RUN (the completion, immediate_exit included) moves RIP past these many bytes.
	 * 0: RIP was already past it, as on kvm_pvm. */
	unsigned complete_len;
	/* As KVM's complete_fast_pio_out, the completion moves RIP only if it is still here
	 * (userspace's dirty registers go in first); 0: wherever it is. */
	uint64_t exit_rip;
	unsigned calls;		      /* ioctls made */
	unsigned kvm_runs;	      /* KVM_RUN calls: lodger's completions */
	struct kvm_lapic_state lapic; /* the last KVM_SET_LAPIC (KVM_GET_LAPIC gives it back) */
	unsigned lapic_sets;
	unsigned memslot_sets; /* KVM_SET_USER_MEMORY_REGION calls */
};

extern struct fake fk;

/* Builds everything; the guest in kernel mode, RIP at FAKE_CODE. */
void fake_setup(void);
/* The same with another personality (its boot is the test's to run). */
void fake_setup_as(const struct personality *pers);
void fake_teardown(void);

/* A present 64-bit gate in the guest's IDT. */
void fake_gate(unsigned vector, unsigned type, unsigned dpl, unsigned ist, bool present);
/* Every vector's gate: an interrupt gate, DPL 0, present. */
void fake_all_gates(void);

/* The guest's mode, with CS/SS to match (the trap's context). */
void fake_mode(bool user);

/* Guest memory at a guest-physical (= linear) address. */
void *fake_ptr(uint64_t gpa);
uint64_t fake_q(uint64_t gpa);
void fake_put(uint64_t gpa, const void *bytes, unsigned len);

/* Puts an instruction at RIP (FAKE_CODE) and says it raised `vector`. */
void fake_insn(const void *bytes, unsigned len, unsigned vector);

/* Makes the page at `la` (below 2 MiB) not present. */
void fake_unmap(uint64_t la);

#endif
