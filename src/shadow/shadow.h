/*
 * shadow.h - shadow page tables: the real page tables a shadow-mode guest runs on.
 *
 * The guest kernel runs at CPL3 (docs/shadow-mode.md), so its own page tables cannot be
 * the ones the CPU walks: lodger builds shadows of them, lazily, in monitor memory.
 * For each guest CR3 there are two roots: the kernel root (everything the guest maps,
 * with U=1 so CPL3 code can reach it) and the user root (only the guest's user pages).
 * Both also map the monitor stub's region supervisor-only (U=0), through one shared page
 * table. Shadow entries are filled on a shadow miss (#PF) from a walk of the guest's
 * tables, which sets the guest's Accessed bits, and Dirty on the first write: a page
 * whose guest D bit is clear is shadowed read-only until then.
 *
 * No shadow entry ever points into monitor memory: a guest frame there is shadowed by the
 * same offset in an unbacked guest-physical window (`open_bus_gpa`), so KVM treats every
 * access to it as MMIO and lodger's bus answers with all ones and drops writes - what
 * direct mode does for an address with no memory, for every instruction form. Frames
 * outside RAM and monitor memory are mapped as they are, so KVM sees MMIO there too.
 */
#ifndef LODGER_SHADOW_H
#define LODGER_SHADOW_H

#include <stdbool.h>
#include <stdint.h>

#include "front/phase.h"
#include "kvm/mem.h"
#include "lodger/stub_abi.h"

#define SHADOW_MAX_ROOTS 16 /* cached (guest CR3, kernel|user) roots, LRU-evicted */

enum shadow_fill_result {
	SHADOW_FILLED,	      /* the entry is in place: resume the guest */
	SHADOW_GUEST_FAULT,   /* the guest's own tables deny it: deliver #PF(*pfec) */
	SHADOW_STUB_CONFLICT, /* the address lies in the stub's region (relocation's job) */
	SHADOW_NONCANONICAL,  /* not a #PF: the guest gets #GP */
	SHADOW_NO_MEMORY,     /* the pool is exhausted even after evicting every root */
	SHADOW_APIC_WRITE,    /* a write the guest may do to the xAPIC page (apicmmio.h) */
};

/* The guest-visible state a fill depends on. */
struct shadow_guest_mode {
	bool wp;  /* guest CR0.WP: supervisor writes honour R/O pages */
	bool nxe; /* guest EFER.NXE: NX bits are honoured */
};

struct shadow_root {
	uint64_t guest_cr3; /* the guest's CR3, page-aligned */
	bool user;	    /* user root (guest U=1 pages only) */
	bool in_use;
	uint64_t pml4_gpa;  /* what the real CR3 holds */
	uint64_t last_used; /* LRU stamp */
	/* The guest's PML4 is not write-protected (it is written often, and may be mapped
	 * by itself): its entries are checked at the guest's flush points (gval). */
};

struct shadow_stats {
	uint64_t fills, guest_faults, root_switches, root_flushes, evictions, invlpgs;
	uint64_t kvm_flushes;	    /* counted by the caller, which performs them */
	uint64_t kvm_tlb_flushes;   /* of them, done by the stub's TLB flush (transport.c) */
	uint64_t kvm_zaps;	    /* of them, done by the stub's writes (zap log, transport.c) */
	uint64_t kvm_flush_returns; /* of the stub's, those it returned from with iretq */
	uint64_t root_hits;	    /* CR3 loads that found their root cached */
	uint64_t protects;	    /* guest frames that became write-protected page tables */
	uint64_t unprotects;	    /* guest writes to a protected table, let through (unsync) */
	uint64_t resyncs;	    /* unsync mirrors checked against the guest at a flush point */
	uint64_t pte_zaps;	    /* shadow entries dropped because their guest entry changed */
	uint64_t prefetched;	    /* neighbouring entries filled along with a miss */
	uint64_t prefilled;	    /* guest #PF addresses filled once the guest fixed its tables */
	uint64_t refilled;	    /* leaves filled as the guest wrote them (shadow_pte_written) */
	uint64_t zap_writes;	    /* removals the stub wrote again for KVM (zap_in_stub) */
	uint64_t pool_flushes;	    /* memslot flushes to reuse held pages (zap_in_stub) */
};

struct shadow {
	struct guest_mem *mem;
	uint64_t pool_off, pool_pages; /* table pages: monitor memory [pool_off, +pages*4K) */
	uint32_t *free_pages;	       /* stack of free page indexes */
	uint32_t nr_free;
	uint32_t *held_pages;  /* freed while KVM may still hold what it derived from them */
	uint32_t nr_held;      /* (kvm_stale_guest): free again at shadow_kvm_flushed */
	bool *page_busy;       /* per pool page: allocated (catches a double free) */
	uint64_t stub_base;    /* 2 MiB-aligned linear base of the stub region */
	uint64_t stub_pt_gpa;  /* page table mapping the stub's pages (U=0) */
	uint64_t open_bus_gpa; /* unbacked window standing in for monitor memory */
	struct shadow_root roots[SHADOW_MAX_ROOTS];
	uint64_t clock;
	struct shadow_stats stats;
	/*
	 * Per pool page (index p): its level (1: a PT .. 4: a PML4; 0: free), the linear
	 * address its first entry covers, the pool slot of the entry pointing to it (+1; 0
	 * for a root), and the guest table it mirrors (pg_gsrc, docs/shadow-mode.md), chained
	 * by frame in a hash so a guest write finds every mirror of the table it hits.
	 */
	uint8_t *pg_level;
	uint64_t *pg_la, *pg_gsrc;
	uint32_t *pg_parent, *pg_mnext, *pg_mprev, *mhead, mhash_mask;
	/* Writable shadow leaves by the guest frame they map (slot + 1, chained), so a frame
	 * that becomes a page table can be write-protected wherever it is mapped: whead[pfn]
	 * for each frame of guest RAM, then hashed lists for the frames beyond it
	 * (whead[ram_frames + whash]). */
	uint32_t *wnext, *wprev, *whead, whash_mask;
	uint64_t ram_frames;
	uint64_t *pool_host; /* lodger's view of the pool */
	/* Per slot: the guest entry a shadow entry was derived from (0: none, the stub's
	 * path), so that a table the guest writes freely (unsync) is checked at its flush
	 * points entry by entry. */
	uint64_t *gval;
	/* Mirrors of tables the guest may write without a trap, listed so that a flush point
	 * visits only them: unsync_at[p] is p's position in unsync_list + 1 (0: in sync). */
	uint32_t *unsync_list, *unsync_at, *unsync_scratch;
	uint32_t nr_unsync;
	bool stub_dirty;	       /* an entry on the stub's path was dropped: reinstall it */
	struct shadow_guest_mode mode; /* the last fill's, for invlpg's check */
	struct {
		bool valid;
		bool user;
		uint64_t cr3, la;
		uint32_t access;
		unsigned resumes;
	} pending; /* the guest's last #PF, to fill once its handler fixed the tables */
	struct phase_stats *phases; /* where to time walks, fills and flushes; NULL: not timed */
	/*
	 * Set when an entry was removed or a table page freed. KVM does not see lodger's
	 * writes to these tables: on a backend that shadows them itself (kvm_pvm, or any KVM
	 * without EPT/NPT) its copy is then stale, and on hardware paging the TLB may be. The
	 * caller must make KVM drop what it derived from the monitor memslot before the
	 * guest runs again (vm_flush_monitor), then clear this. Adding an entry, or making a
	 * read-only one writable, needs nothing: a fault makes KVM and the CPU walk again.
	 */
	bool kvm_stale;
	/*
	 * Set instead of kvm_stale for what the guest itself took away from its tables
	 * (shadow_pte_written: mmu_update, ptwr, lodger's writes for it): as on a CPU, the old
	 * translation may live on until the guest's own flush point (invlpg, a CR3 load, a
	 * switch of roots, a Xen flush or pin: shadow_flush_point), which turns this into
	 * kvm_stale. Table pages freed meanwhile are held, not reused, until KVM's flush, so
	 * what KVM keeps is only ever what this root gave before.
	 */
	bool kvm_stale_guest;
	/* Set with kvm_stale when the stub's own region changed (relocation): the stub's code
	 * may not run there before the TLB is clean, so its TLB flush cannot do. */
	bool kvm_stale_stub;
	bool deferring;	    /* inside shadow_pte_written's zaps */
	uint64_t last_root; /* the root the guest last ran on (shadow_root, flush = false) */
	/* The last fill found the entry already as it would write it: a backend that does not
	 * honour the entry (kvm_pvm's first upper-half slot at CPL3) faults on it forever. */
	bool refilled_same;
	/* The guest's CR4.SMEP (set by the CR4 emulation, which flushes every root when it
	 * changes): guest user pages are not executable in kernel roots. */
	bool smep;
	/*
	 * A KVM without TDP (shadow_zap_enable): each removal is also logged (zap_log, pool
	 * slots) for the stub to write again where KVM sees it, instead of a flush of the
	 * whole memslot. Freed pages stay held until such a flush, which KVM's shadow of
	 * their old contents makes necessary before reuse (flush_kvm, when the pool is dry).
	 * zap_overflow: the log missed something; only a memslot flush will do.
	 */
	bool zap_in_stub, zap_overflow;
	uint32_t *zap_log, nr_zaps;
	uint64_t *zap_logged; /* per slot, one bit: in the log already */
	uint16_t *zap_window; /* per pool page: its window slot + 1, while it is logged */
	uint32_t zap_pages[STUB_POOL_SLOTS], nr_zap_pages; /* by window slot */
	int (*flush_kvm)(void *ctx);
	void *flush_ctx;
};

/*
 * pool_off/pool_pages: monitor memory for table pages; stub_pt_gpa, open_bus_gpa: pages
 * the caller owns (the stub's page table, the all-ones page), outside the pool. Returns 0,
 * -EINVAL for a pool outside monitor memory or a stub_base not 2 MiB-aligned and
 * canonical, or -ENOMEM.
 */
int shadow_init(struct shadow *s, struct guest_mem *mem, uint64_t pool_off, uint64_t pool_pages,
		uint64_t stub_base, uint64_t stub_pt_gpa, uint64_t open_bus_gpa);
void shadow_destroy(struct shadow *s);

/*
 * The root to load in the real CR3 for (guest_cr3, user). `flush` is a guest CR3 write:
 * roots are kept per guest CR3 and coherent with the guest's tables (write-protected),
 * so a flush drops only what changed unseen (PML4 entries, tables a guest write was let
 * through). Returns the root's guest-physical address, or 0 when no page can be had.
 */
uint64_t shadow_root(struct shadow *s, uint64_t guest_cr3, bool user, bool flush);

/* A guest CR3 write (or a Xen new base pointer): shadow_root(s, cr3, user, true). */
uint64_t shadow_switch_root(struct shadow *s, uint64_t guest_cr3, bool user);

/*
 * The guest's bytes [gpa, gpa + len) changed behind the shadow's back (lodger or a
 * hypercall wrote them, not the guest through a shadow mapping): the shadow entries
 * derived from the guest table entries there are dropped. Harmless for any other gpa.
 */
void shadow_pte_written(struct shadow *s, uint64_t gpa, uint64_t len);

/* True when guest frame `gpa` is a page table the shadow write-protects. */
bool shadow_is_protected(const struct shadow *s, uint64_t gpa);

/*
 * A shadow miss at linear `la` in root (guest_cr3, user_root). `access` holds the #PF
 * error-code bits of the guest's access (PFEC_W, PFEC_U for a guest user-mode access,
 * PFEC_I for a fetch). On SHADOW_GUEST_FAULT *pfec is the error code the guest sees.
 * When the pool is dry, roots of other guest CR3s are evicted first; roots of guest_cr3
 * (this one included) are only ever emptied, so their addresses stay valid.
 */
enum shadow_fill_result shadow_fill(struct shadow *s, uint64_t guest_cr3, bool user_root,
				    uint64_t la, uint32_t access,
				    const struct shadow_guest_mode *mode, uint32_t *pfec);

/*
 * Guest invlpg: the shadow of `la` in both roots of guest_cr3 is checked against the
 * guest's tables and dropped when it differs (la's 4 KiB entry, or all of the 2 MiB /
 * 1 GiB region when it was shadowed from a guest large page).
 */
void shadow_invlpg(struct shadow *s, uint64_t guest_cr3, uint64_t la);

/*
 * The guest was given a #PF for an access (access bits as for shadow_fill) at `la` in
 * root (guest_cr3, user_root). Its handler will fix its tables and retry the access:
 * shadow_prefill fills the entry first, so that the retry does not trap again.
 */
void shadow_note_fault(struct shadow *s, uint64_t guest_cr3, bool user_root, uint64_t la,
		       uint32_t access);

/*
 * Before the guest resumes in (guest_cr3, user_root): fills the noted fault's entry if
 * the guest's tables now allow the access (as a read: D is never set early). True when
 * it did. The note lapses after a few resumes.
 */
bool shadow_prefill(struct shadow *s, uint64_t guest_cr3, bool user_root,
		    const struct shadow_guest_mode *mode);

/* Moves the window standing in for monitor memory (before the first fill: once the CPU's
 * physical address width is known). -EINVAL when it would overlap RAM or monitor memory. */
int shadow_set_open_bus(struct shadow *s, uint64_t open_bus_gpa);

/* Drops every root's contents (a guest CR4 or CR0 change that affects translation). */
void shadow_flush_all(struct shadow *s);

/* Moves the stub region to a new 2 MiB-aligned base in every root (relocation). */
void shadow_set_stub_base(struct shadow *s, uint64_t stub_base);

/* A guest flush point that the calls above do not see (a Xen pin, whose type change
 * flushes writable translations of the frame on Xen): what the guest took away must be
 * gone from KVM before it runs again (kvm_stale_guest becomes kvm_stale). */
void shadow_flush_point(struct shadow *s);

/* KVM dropped what it derived from the tables (vm_flush_monitor): held pages are free. */
void shadow_kvm_flushed(struct shadow *s);

/*
 * For a KVM without TDP: removals reach KVM through the stub's writes (the zap log,
 * stub_abi.h) rather than a memslot flush. flush_kvm(ctx) must make KVM drop everything
 * derived from the pool (vm_flush_monitor) and return 0; the shadow calls it when the
 * pool is dry and freed pages wait for it. -ENOMEM when the log cannot be allocated.
 */
int shadow_zap_enable(struct shadow *s, int (*flush_kvm)(void *ctx), void *ctx);

/* Whether the zap log holds every removal KVM has not seen (else a memslot flush must). */
bool shadow_zap_ready(const struct shadow *s);

/*
 * Writes the log for the stub: window slot i onto a pool page (window_ptes[i], the stub
 * page table's entries for STUB_POOL_WINDOW; all zero before), and each logged entry as
 * its offset in the window. Only when shadow_zap_ready.
 */
void shadow_zap_export(struct shadow *s, struct stub_zap_log *log, uint64_t *window_ptes);

/* The stub wrote the exported log: KVM saw every removal; held pages stay held. */
void shadow_kvm_zapped(struct shadow *s);

#endif
