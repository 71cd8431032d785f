/*
 * relocate.c - choosing where the stub goes when the guest wants its region.
 *
 * The relocation reads in the order it runs (conflict.c runs the steps):
 *   detect  a guest access in the stub's region: shadow_fill says SHADOW_STUB_CONFLICT
 *           (claims 1, 13, 25, 28), whether a load, a store, a fetch or an access the CPU
 *           makes for the guest (a stack push, a descriptor read);
 *   choose  an unused region of the guest's linear space (claims 9, 21, 29) - this file;
 *   move    stub_place() rewrites every absolute address in the stub (stub.c lists them),
 *           shadow_set_stub_base() moves its mapping in every shadow root, and the vCPU's
 *           LSTAR/CSTAR and descriptor-table registers follow (conflict_move_stub,
 *           conflict.c);
 *   resume  the guest re-executes its access, which now fills a shadow entry like any
 *           other;
 *   record  -d reloc logs it, the statistics count it.
 */
#include "shadow/relocate.h"

#include <string.h>

#include "arch/x86.h"
#include "shadow/pagewalk.h"

#define REGION_SHIFT 21
#define MEMO_SLOTS   1024
/* Tables one search reads at most: a guest whose tables alias each other past what the
 * memo holds gets a random region (displaced content) instead of a long search. */
#define SEARCH_TABLES 4096

void reloc_init(struct reloc *r, bool enabled, uint64_t seed)
{
	memset(r, 0, sizeof(*r));
	r->enabled = enabled;
	r->hot = RELOC_DEFAULT_HOT;
	r->window_ns = RELOC_DEFAULT_WINDOW_MS * 1000000ULL;
	r->seed = seed;
	r->rng = seed ? seed : 0x9e3779b97f4a7c15ULL; /* xorshift state must not be 0 */
}

uint64_t reloc_random(struct reloc *r)
{
	r->rng ^= r->rng >> 12;
	r->rng ^= r->rng << 25;
	r->rng ^= r->rng >> 27;
	return r->rng * 0x2545f4914f6cdd1dULL;
}

void reloc_note_conflict(struct reloc *r, uint64_t base)
{
	if (r->nrecent == RELOC_RECENT) {
		memmove(r->recent, r->recent + 1, sizeof(r->recent[0]) * (RELOC_RECENT - 1));
		r->nrecent--;
	}
	r->recent[r->nrecent++] = base;
}

bool reloc_recently_conflicted(const struct reloc *r, uint64_t base)
{
	for (unsigned i = 0; i < r->nrecent; i++)
		if (r->recent[i] == base)
			return true;
	return false;
}

/* Search state: the guest's tables are untrusted, aliased, possibly huge. */
struct search {
	struct reloc *r;
	const struct guest_mem *mem;
	uint64_t current;
	unsigned tables; /* read so far, up to SEARCH_TABLES */
	/* Tables (by guest-physical address and level) known to have no usable region. */
	uint64_t full[MEMO_SLOTS];
};

static bool usable(const struct search *s, uint64_t base)
{
	return base != s->current && !reloc_recently_conflicted(s->r, base);
}

static uint64_t *memo_slot(struct search *s, uint64_t table, int level)
{
	uint64_t key = (table & PTE_ADDR_MASK) | (uint64_t)level;

	return &s->full[(key >> 12 ^ key * 0x9e3779b1u) % MEMO_SLOTS];
}

/*
 * A usable unmapped region below the table at `table` (level 4: PML4 .. 2: PD), which
 * maps linear addresses from `la_base`; starting at entry `start`, going round once.
 */
static bool search_table(struct search *s, uint64_t table, int level, uint64_t la_base,
			 unsigned start, uint64_t *found)
{
	const uint64_t *t = gpa_ptr_guest(s->mem, table & PTE_ADDR_MASK, 4096);
	unsigned shift = 12 + 9 * (level - 1);
	uint64_t *memo = memo_slot(s, table, level);
	bool passed_over = false; /* a free region turned down for its address, not its table */

	if (!t) /* a table outside RAM reads as all ones: everything "present", nothing usable */
		return false;
	if (*memo == ((table & PTE_ADDR_MASK) | (uint64_t)level))
		return false; /* an alias of a table already searched in full */
	if (s->tables == SEARCH_TABLES)
		return false; /* searched enough (and never memoized as full from here) */
	s->tables++;
	s->r->stats.search_tables++;
	for (unsigned n = 0; n < 512; n++) {
		unsigned i = (start + n) % 512;
		uint64_t la = x86_canonicalize(la_base | ((uint64_t)i << shift));
		uint64_t e = t[i];

		if (level == 2 && (e & PTE_P))
			continue; /* a PDE: the 2 MiB region is (partly) mapped */
		if (!(e & PTE_P)) {
			/* The whole span is free; any 2 MiB region in it will do. At most
			 * RELOC_RECENT + 1 of them can be turned down, so this ends quickly. */
			for (uint64_t off = 0; off < (1ULL << shift); off += 1ULL << REGION_SHIFT) {
				if (usable(s, la + off)) {
					*found = la + off;
					return true;
				}
				passed_over = true;
			}
			continue;
		}
		if (e & PTE_PS)
			continue; /* a large page maps the whole span */
		if (search_table(s, e, level - 1, la, 0, found))
			return true;
	}
	/* Only a table with no free region at all is the same for every alias of it (one
	 * the budget cut short is not known to be full). */
	if (!passed_over && s->tables < SEARCH_TABLES)
		*memo = (table & PTE_ADDR_MASK) | (uint64_t)level;
	return false;
}

uint64_t reloc_random_region(struct reloc *r, uint64_t current)
{
	for (;;) {
		/* 48-bit linear space, sign-extended: both halves, any 2 MiB region. */
		uint64_t base = x86_canonicalize(reloc_random(r) & 0x0000ffffffe00000ULL);

		/* Not the first slot of the upper half: kvm_pvm cannot map it for CPL3 code, and
		 * displaced accesses there could not be served (docs/platform.md). */
		if ((base >> 39 & 511) == 256)
			continue;
		if (base != current && !reloc_recently_conflicted(r, base))
			return base; /* at most RELOC_RECENT + 1 of 2^27 regions are refused */
	}
}

bool reloc_hot(struct reloc *r, uint64_t now_ns)
{
	if (!r->window_hits || now_ns - r->window_start_ns > r->window_ns) {
		r->window_start_ns = now_ns;
		r->window_hits = 0;
	}
	return ++r->window_hits > r->hot;
}

bool reloc_find_unused(struct reloc *r, const struct guest_mem *mem, uint64_t cr3, uint64_t current,
		       uint64_t *base)
{
	struct search s = {.r = r, .mem = mem, .current = current};

	memset(s.full, 0xff, sizeof(s.full));
	return search_table(&s, cr3, 4, 0, reloc_random(r) % 512, base);
}
