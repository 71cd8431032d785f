/*
 * relocate.h - moving the monitor stub out of the guest's way (the patent's claims 1, 9).
 *
 * When the guest touches the linear region the stub occupies, lodger gives the guest that
 * region: it finds a stub-sized region the guest's tables leave unmapped and that has not
 * conflicted recently, moves the stub there, and lets the guest's access complete as if
 * the stub had never been there.
 */
#ifndef LODGER_RELOCATE_H
#define LODGER_RELOCATE_H

#include <stdbool.h>
#include <stdint.h>

#include "kvm/mem.h"

#define RELOC_RECENT 16 /* regions remembered as conflicted, so the stub does not return */

struct reloc_stats {
	uint64_t conflicts;	/* guest accesses to the stub's region */
	uint64_t to_unused;	/* moves to a region the guest does not map (claim 9) */
	uint64_t to_random;	/* moves to a random region the guest maps (claims 10, 12) */
	uint64_t hot_moves;	/* moves away from a hot region (claim 12) */
	uint64_t displaced;	/* guest accesses to displaced content served (claim 11) */
	uint64_t refused;	/* conflicts with relocation off */
	uint64_t ns;		/* time spent choosing, moving and serving */
	uint64_t search_tables; /* guest tables read looking for unused regions */
};

/* The policy's parameters (-machine reloc-hot=, reloc-window-ms=). */
/*
 * The policy's clock is the guest's, not the host's: it advances RELOC_TICK_NS for each
 * trap lodger handles (about what one costs on kvm_pvm), so the same guest gets the same
 * decisions however loaded the host is. The window is in these nanoseconds.
 */
#define RELOC_TICK_NS		10000ULL
#define RELOC_DEFAULT_HOT	16  /* displaced accesses ... */
#define RELOC_DEFAULT_WINDOW_MS 100 /* ... within this long make a region hot */

struct reloc {
	bool enabled;
	unsigned hot; /* displaced accesses per window that make the region hot */
	uint64_t window_ns;
	bool displacing;	  /* the stub sits in a region the guest maps (claims 10, 11) */
	uint64_t window_start_ns; /* the policy's current window, and the hits in it */
	unsigned window_hits;
	uint64_t seed;
	uint64_t rng;		       /* xorshift64* state */
	uint64_t recent[RELOC_RECENT]; /* bases that conflicted, most recent last */
	unsigned nrecent;
	struct reloc_stats stats;
};

void reloc_init(struct reloc *r, bool enabled, uint64_t seed);

/* A random canonical 2 MiB-aligned region, neither `current` nor recently conflicted. */
uint64_t reloc_random_region(struct reloc *r, uint64_t current);

/*
 * Claim 12's policy: a displaced access was served at time now_ns (the guest's clock,
 * RELOC_TICK_NS per trap); true when the region has become hot (more than r->hot in one
 * window) and the stub should move on.
 */
bool reloc_hot(struct reloc *r, uint64_t now_ns);

/* The next pseudo-random number of the seeded sequence. */
uint64_t reloc_random(struct reloc *r);

/* Remembers a region that conflicted. */
void reloc_note_conflict(struct reloc *r, uint64_t base);
bool reloc_recently_conflicted(const struct reloc *r, uint64_t base);

/*
 * An unused 2 MiB-aligned region: nothing in it is mapped by the guest's tables at `cr3`
 * (some entry on the way down, PML4E to PDE, is not present), it is canonical, it is not
 * `current`, and it has not conflicted recently. The search starts at a random place of
 * the address space and goes round it once; tables shared by several entries (aliases)
 * are looked at once. False when the guest maps every region.
 */
bool reloc_find_unused(struct reloc *r, const struct guest_mem *mem, uint64_t cr3, uint64_t current,
		       uint64_t *base);

#endif
