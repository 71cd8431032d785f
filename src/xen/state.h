/*
 * state.h - the Xen PV personality's state: one domain, its vCPU, and what the core does
 * for it.
 *
 * Everything here is independent of KVM and of the trap path: the core copies the vCPU's
 * registers into struct xen_vcpu before calling into src/xen/ and back afterwards, and
 * provides struct xen_hooks for the effects only it can have (shadow invalidation, root
 * switches, TLB flushes, console output, the clock). Guest-physical memory is reached only
 * through kvm/mem.h's checked helpers, guest-linear memory only through shadow/gmem.h.
 *
 * lodger gives the guest an identity p2m: pfn == mfn, so a "machine address" in the ABI is
 * a guest-physical address. Frames [0, nr_pages) are the guest's; lodger's own frames
 * (shared_info) sit above them in guest RAM.
 */
#ifndef LODGER_XEN_STATE_H
#define LODGER_XEN_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include <xen/event_channel.h>
#include <xen/xen.h>

#include "kvm/mem.h"

#define XEN_PAGE_SIZE 4096ULL
#define XEN_NR_PORTS  1024 /* event channels (2-level allows 4096; Xen's domU default 1023) */

/* Per-frame page-table type, as Xen tracks it for validation (frame_type[]). */
enum xen_frame_type {
	XEN_FRAME_NONE = 0, /* ordinary memory */
	XEN_FRAME_L1 = 1,   /* ... XEN_FRAME_L4 = 4: pinned as a table of that level */
	XEN_FRAME_L4 = 4,
	XEN_FRAME_LEVEL = 0x07,	 /* mask of the level */
	XEN_FRAME_PINNED = 0x80, /* pinned (MMUEXT_PIN_Ln_TABLE, or the builder's L4) */
};

/* One event channel (2-level ABI); state is an EVTCHNSTAT_* of <xen/event_channel.h>. */
struct xen_port {
	uint8_t state;
	uint8_t virq;	     /* for EVTCHNSTAT_virq */
	uint16_t remote_dom; /* for EVTCHNSTAT_unbound */
};

/* What only the core can do; any hook may be NULL (then nothing happens). */
struct xen_hooks {
	/* Guest RAM [gpa, gpa + len) changed where a page table may be (the guest's entries,
	 * or a hypercall's output): drop every shadow entry derived from it. */
	void (*pte_written)(void *opaque, uint64_t gpa, uint64_t len);
	/* Flush every shadow translation (all = every root, else the current one). */
	void (*flush_all)(void *opaque);
	/* Flush the translations of one linear address. */
	void (*invlpg)(void *opaque, uint64_t la);
	/* A frame became a pinned page table: Xen's type change flushes the TLB's writable
	 * translations of it, which the guest may have taken away without a flush. */
	void (*pinned)(void *opaque);
	/* The guest's kernel or user base pointer (an L4's guest-physical address) changed. */
	void (*new_root)(void *opaque, bool user, uint64_t l4_gpa);
	/* Console output from console_io or the console ring. */
	void (*console_write)(void *opaque, const char *buf, unsigned len);
	/* Monotonic time in ns (Xen's system time); NULL reads 0. */
	uint64_t (*now_ns)(void *opaque);
	/* The guest's TSC now, as its rdtsc reads it (xen/time.h); NULL reads 0. */
	uint64_t (*guest_tsc)(void *opaque);
};

struct xen_clock; /* xen/time.h */
struct xen_gnttab;
struct xen_backends;

struct xen_domain {
	struct guest_mem *mem;
	uint64_t nr_pages;	  /* the guest's frames: [0, nr_pages) */
	uint8_t *frame_type;	  /* nr_pages entries of enum xen_frame_type */
	uint64_t shared_info_gpa; /* lodger's frame; start_info.shared_info */
	uint64_t console_gpa, store_gpa;
	evtchn_port_t console_port, store_port;
	unsigned long vm_assist; /* VMASST_TYPE_* bits enabled */

	struct xen_port ports[XEN_NR_PORTS];
	evtchn_port_t virq_port[NR_VIRQS]; /* 0: not bound */

	/* shutdown: SCHEDOP_shutdown or a crash the personality decided */
	bool shut_down;
	unsigned shutdown_reason; /* SHUTDOWN_* */

	/* -stats: hypercalls by number and by sub-op (the command argument, for the
	 * hypercalls that have one, below 64), bounces by vector, events by port */
	uint64_t hypercalls[64];
	uint64_t hypercall_ns[64]; /* time in each, a multicall's including its calls' */
	uint64_t subops[64][64];
	uint64_t bounces[256];
	uint64_t events[XEN_NR_PORTS];
	/* the console ring has carried output: console_io's goes to -d xen from then on */
	bool ring_used;
	struct xen_clock *clock; /* xen/time.h; NULL: no time published */
	/* The L4 entry (slot 257) of lodger's read-only M2P tables, which every L4 the guest
	 * pins or loads gets, as Xen puts its slots in each L4; 0: none (reads are then
	 * completed one by one, trapemu.c). The frames lie above the reserved ones. */
	uint64_t m2p_l4e;
	uint64_t ptwr_emulated; /* page-table stores emulated (xen/ptwr.h, -stats) */
	uint64_t continuations; /* hypercalls cut short to be made again (xen_continue) */

	/* lodger as domain 0 (xen/backend.h), NULL when absent: grant_table_op is -ENOSYS
	 * and EVTCHNOP_send reaches no backend. */
	struct xen_gnttab *gnttab;
	struct xen_backends *backends;
};

/* Where lodger's M2P is (read-only, identity: m2p[mfn] = mfn). XENMEM_machphys_mapping
 * reports the second slot of the hole: kvm_pvm cannot map the first one for CPL3.
 * Guests that do not ask (XTF) read Xen's default place; lodger completes those reads. */
#define XEN_M2P_DEFAULT	 0xffff800000000000ULL /* __MACH2PHYS_VIRT_START */
#define XEN_M2P_REPORTED 0xffff808000000000ULL /* PML4 slot 257 */
#define XEN_M2P_SIZE	 0x4000000000ULL       /* Xen's M2P area: 256 GiB of entries */

/* The registers a hypercall or a bounce reads and writes. */
struct xen_regs {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rip, rflags;
	uint16_t cs, ss; /* the guest-visible selectors (FLAT_KERNEL_CS...) */
};

struct xen_vcpu {
	struct xen_domain *d;
	struct xen_regs regs;
	bool kernel_mode;	       /* guest kernel (true) or guest user mode */
	uint64_t kernel_cr3, user_cr3; /* guest base pointers (L4 guest-physical), 0: none */
	uint64_t kernel_ss, kernel_sp; /* stack_switch */
	struct trap_info traps[256];   /* set_trap_table; address 0: no handler */
	uint64_t event_cb, failsafe_cb, syscall_cb, syscall32_cb, sysenter_cb;
	bool event_mask, failsafe_mask, syscall_mask; /* CALLBACKF_mask_events */
	uint64_t vcpu_info_gpa;	    /* where vcpu_info is: shared_info's slot 0 or registered */
	uint64_t runstate_va;	    /* VCPUOP_register_runstate_memory_area, 0: none */
	uint64_t timer_deadline_ns; /* set_timer_op / singleshot, 0: none */
	uint64_t periodic_ns;	    /* VCPUOP_set_periodic_timer, 0: stopped */
	uint64_t periodic_next_ns;  /* the periodic timer's next event (xen/time.h) */
	uint64_t time_area_va;	    /* VCPUOP_register_vcpu_time_memory_area, 0: none */
	uint64_t fs_base, gs_base_kernel, gs_base_user;
	uint16_t gs_sel_user;
	uint64_t dr[8];
	uint64_t gdt_frames[16];
	unsigned gdt_ents;
	uint64_t ldt_base;
	unsigned ldt_ents;
	unsigned iopl; /* PHYSDEVOP_set_iopl: 0..3 */
	bool fpu_ts;   /* fpu_taskswitch: virtual CR0.TS */
	bool nxe;      /* guest EFER.NXE, for guest-linear accesses */
	bool blocked;  /* SCHEDOP_block: the core waits for an event before resuming */

	/* A hypercall cut short (Xen's continuation, xen/hypercall.h): the call the guest's
	 * `syscall` makes again, with these arguments, when it resumes */
	struct {
		bool pending;
		uint64_t nr, args[6];
	} cont;
	uint64_t hcall_work; /* work units the current hypercall has done (xen_preempt) */
	bool in_multicall;

	const struct xen_hooks *hooks;
	void *opaque;
};

/* The vCPU's vcpu_info in guest RAM (64 bytes, checked), or NULL. */
struct vcpu_info *xen_vcpu_info(struct xen_vcpu *v);

#endif
