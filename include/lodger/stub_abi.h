/*
 * stub_abi.h - the monitor stub's layout, shared by stub/ (assembly) and src/.
 *
 * The stub is the "first portion" of the VMM (the patent's claims 2-4): what x86 needs in
 * the guest's linear space to take traps from a guest running at CPL3 - IDT, GDT, TSS,
 * trap entry code and stacks. It lives in monitor memory and is mapped, supervisor-only,
 * at a 2 MiB-aligned linear base that can move (relocation). Nothing in it holds an
 * absolute address except what src/shadow/stub.c writes when it places the stub at a base.
 *
 * stub/entry.S includes this file: everything it needs is a plain #define; the C view of
 * the per-vCPU area (struct stub_area) is hidden from the assembler and pinned to the same
 * offsets by _Static_assert, so the two cannot drift apart.
 */
#ifndef LODGER_STUB_ABI_H
#define LODGER_STUB_ABI_H

#define STUB_ABI_VERSION                                                                           \
	7 /* 2: the area grouped by direction; 3: the xAPIC write trampoline;                      \
	   4: the TLB flush trampoline; 5: the zap log and the pool window;                        \
	   6: the TLB flush and zap log returning to the guest; what kernel cli/sti do;            \
	   7: room for the #GP fast path (an assembler may relax more of its jumps) */

#define STUB_REGION_SIZE 0x200000 /* the stub owns a 2 MiB-aligned 2 MiB region */

/* Page offsets inside the stub (the same in monitor memory and in the linear region). */
#define STUB_CODE	  0x0000 /* entry code (stub/entry.S), at most one page */
#define STUB_IDT	  0x1000 /* 256 gates */
#define STUB_GDT	  0x2000
#define STUB_TSS	  0x3000
#define STUB_AREA	  0x4000 /* the per-vCPU stub<->VMM area */
#define STUB_STACK_BOTTOM 0x5000 /* trap stack: TSS.RSP0 = STUB_STACK_TOP */
#define STUB_STACK_TOP	  0x7000
#define STUB_IST_TOP	  0x8000 /* IST1: NMI, #DF, #MC get a known-good stack */
#define STUB_ZAP_LOG	  0x8000 /* struct stub_zap_log: removals the stub writes again */
#define STUB_PAGES	  9
#define STUB_MONITOR_SIZE (STUB_PAGES * 0x1000) /* monitor memory the stub's pages take */
/* Not monitor memory: the xAPIC page (APIC_MMIO_GPA), mapped supervisor-only and uncached
 * right after the stub's pages, where the xAPIC write trampoline reaches KVM's local APIC. */
#define STUB_APIC_WINDOW (STUB_PAGES * 0x1000)
/*
 * On a KVM without TDP (kvm_pvm; kvm_intel/kvm_amd with EPT/NPT off) KVM keeps its own
 * shadow of lodger's tables and never sees lodger's writes to them, so an entry lodger
 * removes must also be written by the guest side, where KVM does see it: the stub
 * rewrites each entry the zap log names, through the pool window - STUB_POOL_SLOTS pages
 * lodger points at the pool pages concerned - then clears the window's entries through
 * its view of its own page table (STUB_PT_WINDOW), and leaves through the TLB flush.
 * Both are supervisor-only, mapped only where lodger uses them (docs/shadow-mode.md).
 */
#define STUB_PT_WINDOW	 0x0ff000 /* the stub's page table, writable */
#define STUB_POOL_WINDOW 0x100000 /* slot i: the pool page lodger put there */
#define STUB_POOL_SLOTS	 256
#define STUB_ZAP_MAX	 1022 /* entries one log holds */

/* Entry code layout (offsets from STUB_CODE); each entry is one 2-byte `out`. */
#define STUB_ENTRY_SIZE	    2
#define STUB_VECTOR_ENTRIES 0x000 /* 256 entries: vector v at v * STUB_ENTRY_SIZE */
#define STUB_SYSCALL_ENTRY  0x200 /* LSTAR */
#define STUB_IDLE	    0x210 /* hlt loop: a halted guest waits here for an interrupt */
#define STUB_PIO	    0x220 /* port I/O trampolines, STUB_PIO_SIZE apart */
#define STUB_PIO_SIZE	    8
#define STUB_PIO_IN8	    0
#define STUB_PIO_IN16	    1
#define STUB_PIO_IN32	    2
#define STUB_PIO_OUT8	    3
#define STUB_PIO_OUT16	    4
#define STUB_PIO_OUT32	    5
#define STUB_PIO_ENTRIES    6
#define STUB_GP_FAST	    0x250 /* #GP fast path: cli/sti of the guest kernel, in the VM */
#define STUB_GP_FAST_EXIT   0x320 /* its way out to lodger (the `out`), for everything else */
#define STUB_APIC_W32	    0x328 /* a guest write to the xAPIC page, done at CPL0 */
#define STUB_TLB_FLUSH	    0x330 /* a TLB flush where KVM walks the tables in hardware */
#define STUB_TLB_FLUSH_DONE 0x338 /* RIP once its exit has been completed */
#define STUB_ZAP	    0x340 /* the zap log, then the TLB flush (KVM without TDP) */
#define STUB_TLB_FLUSH_RET  0x390 /* the TLB flush, then iretq to the guest */
#define STUB_ZAP_RET	    0x3a0 /* the zap log, then STUB_TLB_FLUSH_RET */
#define STUB_CODE_END	    0x400

/*
 * The per-vCPU stub<->VMM area at STUB_AREA (struct stub_area below). Each field is written
 * by one side only: lodger writes the VMM -> stub group, the stub only increments its
 * counters (one RIP-relative increment per fast path taken), which lodger reads for the
 * statistics. Fast paths to come add their fields to the group they belong to.
 */
/* VMM -> stub */
#define STUB_AREA_ABI_VERSION	 0x00 /* u32: STUB_ABI_VERSION */
#define STUB_AREA_GUEST_USER	 0x04 /* u8: the guest is in user mode */
#define STUB_AREA_KERNEL_CLI_STI 0x05 /* u8: what a guest-kernel cli/sti does, below */
/* STUB_AREA_KERNEL_CLI_STI, for the #GP fast path: */
#define STUB_CLI_STI_LODGER  0 /* lodger decides (what a cleared area says) */
#define STUB_CLI_STI_FLIP_IF 1 /* they clear or set the real IF, which is the guest's */
#define STUB_CLI_STI_NOP     2 /* they complete and change nothing (Xen's virtual IOPL) */
/* stub -> VMM */
#define STUB_AREA_FAST_CLI 0x08 /* u64: guest cli handled in the stub */
#define STUB_AREA_FAST_STI 0x10 /* u64: guest sti handled in the stub */
#define STUB_AREA_SIZE	   0x18

/* The zap log page (STUB_ZAP_LOG): offsets into the pool window, each naming one entry. */
#define STUB_ZAP_NR_WRITES 0x0 /* u32 */
#define STUB_ZAP_NR_SLOTS  0x4 /* u32: window slots to clear afterwards, from slot 0 */
#define STUB_ZAP_WRITES	   0x8 /* u32[STUB_ZAP_MAX]: slot * 4096 + index * 8 */

/* Every stub entry ends in `out %al, $STUB_EXIT_PORT`: a KVM_EXIT_IO to lodger. */
#define STUB_EXIT_PORT 0xe5

/*
 * The real GDT. The stub runs on STUB_CS/STUB_DS (DPL 0); the guest's selectors are DPL 3
 * and their descriptors are kept *not present*, so every segment load the guest makes
 * (iretq, lret, mov to a segment register) traps to lodger, which emulates it; lodger
 * loads the guest's segment registers itself, through KVM_SET_SREGS. That is what keeps
 * a guest kernel's iretq to user mode from reaching user mode without lodger switching
 * to the user root.
 * The guest's selectors start at index 16: on kvm_pvm, CPL3 code runs on the *host's*
 * GDT, where Linux's user selectors (0x23, 0x2b, 0x33) are present, so a guest using them
 * could load them without a trap; the host GDT ends at index 15, so these always fault.
 * The layout satisfies STAR: kernel-ds = kernel-cs + 8, user-ds = user32-cs + 8,
 * user-cs = user32-cs + 16.
 */
#define STUB_CS		     0x08
#define STUB_DS		     0x10
#define STUB_TSS_SEL	     0x48
#define STUB_GUEST_USER32_CS 0x83
#define STUB_GUEST_USER_DS   0x8b
#define STUB_GUEST_USER_CS   0x93
#define STUB_GUEST_KERNEL_CS 0x9b
#define STUB_GUEST_KERNEL_DS 0xa3
/*
 * Where the stub itself returns to the guest kernel (its fast paths' iretq), it uses
 * these aliases of the kernel's code and data descriptors: the guest's own selectors must
 * stay not present. The aliases are present only while the guest is in kernel mode
 * (stub_set_guest_mode), so guest user code cannot load them; and lodger and the stub know
 * the guest's mode from their own record, never from CS.
 */
#define STUB_ALIAS_KERNEL_CS 0xb3
#define STUB_ALIAS_KERNEL_DS 0xbb
#define STUB_GDT_ENTRIES     24

#ifndef __ASSEMBLER__
#include <stddef.h>
#include <stdint.h>

struct stub_area {
	/* VMM -> stub */
	uint32_t abi_version;
	uint8_t guest_user;
	uint8_t kernel_cli_sti;
	uint8_t reserved[2];
	/* stub -> VMM */
	uint64_t fast_cli;
	uint64_t fast_sti;
};

_Static_assert(offsetof(struct stub_area, abi_version) == STUB_AREA_ABI_VERSION, "stub area");
_Static_assert(offsetof(struct stub_area, guest_user) == STUB_AREA_GUEST_USER, "stub area");
_Static_assert(offsetof(struct stub_area, kernel_cli_sti) == STUB_AREA_KERNEL_CLI_STI, "stub area");
_Static_assert(offsetof(struct stub_area, fast_cli) == STUB_AREA_FAST_CLI, "stub area");
_Static_assert(offsetof(struct stub_area, fast_sti) == STUB_AREA_FAST_STI, "stub area");
_Static_assert(sizeof(struct stub_area) == STUB_AREA_SIZE, "stub area");
_Static_assert(STUB_AREA + STUB_AREA_SIZE <= STUB_STACK_BOTTOM, "the stub area overflows");

struct stub_zap_log {
	uint32_t nr_writes;
	uint32_t nr_slots;
	uint32_t writes[STUB_ZAP_MAX];
};

/*
 * What lodger leaves at the top of the stub's stack for STUB_ZAP_RET (all of it) or
 * STUB_TLB_FLUSH_RET (from rax on): the guest's values of the registers the stub's code
 * uses, then the frame its iretq pops.
 */
struct stub_ret_frame {
	uint64_t rcx, rdx, rsi, rdi; /* the zap log's, popped in this order */
	uint64_t rax;
	uint64_t rip, cs, rflags, rsp, ss;
};

_Static_assert(offsetof(struct stub_ret_frame, rax) == 4 * 8 &&
		       offsetof(struct stub_ret_frame, rip) == 5 * 8 &&
		       sizeof(struct stub_ret_frame) == 10 * 8,
	       "entry.S pops rcx, rdx, rsi, rdi, then rax, then iretq's five words");

_Static_assert(offsetof(struct stub_zap_log, nr_writes) == STUB_ZAP_NR_WRITES, "zap log");
_Static_assert(offsetof(struct stub_zap_log, nr_slots) == STUB_ZAP_NR_SLOTS, "zap log");
_Static_assert(offsetof(struct stub_zap_log, writes) == STUB_ZAP_WRITES, "zap log");
_Static_assert(sizeof(struct stub_zap_log) == 0x1000, "the zap log is one page");
_Static_assert(STUB_APIC_WINDOW < STUB_PT_WINDOW &&
		       STUB_POOL_WINDOW + STUB_POOL_SLOTS * 0x1000 <= STUB_REGION_SIZE,
	       "the windows overlap the stub or leave its region");
#endif

#endif
