/*
 * stub.h - installing the monitor stub in monitor memory and placing it at a linear base.
 *
 * stub_place() is the one function that writes every absolute address depending on the
 * stub's base (relocation calls it): the IDT gate offsets, the TSS stack pointers, the
 * GDT's TSS descriptor base, and the descriptor-table registers and LSTAR the vCPU loads.
 */
#ifndef LODGER_STUB_H
#define LODGER_STUB_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

#include "kvm/mem.h"
#include "lodger/stub_abi.h"

struct stub {
	struct guest_mem *mem;
	uint64_t mon_off; /* where the stub's pages are in monitor memory */
	uint64_t base;	  /* linear base of the stub region (2 MiB aligned) */
	bool fast_paths;  /* traps the stub handles itself (entry.S) are enabled */
	bool aliases;	  /* the kernel selectors' present aliases exist (stub_abi.h) */
};

/*
 * Copies the stub code and builds the GDT at monitor offset mon_off (STUB_MONITOR_SIZE bytes).
 * `fast_paths` lets the stub handle some traps itself (claims 7, 19), returning to the
 * guest kernel with iretq through the present aliases of its selectors (stub_abi.h);
 * `aliases` installs those aliases without the fast paths (a personality whose kernel
 * runs on them). Fast paths imply aliases.
 */
void stub_install(struct stub *stub, struct guest_mem *mem, uint64_t mon_off, bool fast_paths,
		  bool aliases);

/* Tells the stub's fast paths whether the guest is in user mode (they act only for its
 * kernel), and makes the aliases present in kernel mode only. */
void stub_set_guest_mode(const struct stub *stub, bool user);
/* What a guest-kernel cli/sti does in the #GP fast path (STUB_CLI_STI_*). */
void stub_set_kernel_cli_sti(const struct stub *stub, unsigned what);

/* The per-vCPU stub<->VMM area (stub_abi.h), in monitor memory. */
struct stub_area *stub_area(const struct stub *stub);

/* The zap log page (stub_abi.h), in monitor memory. */
struct stub_zap_log *stub_zap_log(const struct stub *stub);
/* Where STUB_ZAP_RET finds its frame: the top of the stub's stack. */
struct stub_ret_frame *stub_ret_frame(const struct stub *stub);

/* Rewrites everything that holds the stub's linear address for `base`. */
void stub_place(struct stub *stub, uint64_t base);

/* The real descriptor-table registers and TR for the current base. */
void stub_load_tables(const struct stub *stub, struct kvm_sregs *sregs);

/* Linear address of a stub offset (STUB_CODE + ...), for RIP and LSTAR. */
uint64_t stub_linear(const struct stub *stub, uint64_t offset);

/* Guest-physical address of stub page `offset` (for the shadow's stub page table). */
uint64_t stub_page_gpa(const struct stub *stub, uint64_t offset);

/* The vector whose entry ends at `rip` (the address after its `out`), or -1. */
int stub_vector_at(const struct stub *stub, uint64_t rip);

#endif
