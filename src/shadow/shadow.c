/*
 * shadow.c - shadow page tables (docs/shadow-mode.md), built lazily from the guest's own.
 *
 * A root is a PML4 page and the PDPT, PD and PT pages below it, all taken from the pool in
 * monitor memory. Shadow tables never use large pages, so every PD entry points to a page
 * table: one of the root's own, or the caller's stub page table, which is never freed,
 * filled or cleared here. Every table page belongs to exactly one root.
 *
 * The pool is small next to what a guest maps, so pressure is normal: a root that needs a
 * page frees the least recently used root of another guest CR3, and only then empties
 * roots of its own CR3. Those are emptied, never freed: their addresses may be loaded in
 * CR3 or held by the stub for a kernel/user switch.
 */
#include "shadow/shadow.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86.h"
#include "front/log.h"
#include "lodger/stub_abi.h"
#include "shadow/pagewalk.h"

#define PAGE_SIZE 4096ULL
#define ENTRIES	  512

/* Memory-type bits copied from the guest's leaf (PAT is bit 7 in a PTE, 12 in a large page). */
#define SPTE_PWT	(1ULL << 3)
#define SPTE_PCD	(1ULL << 4)
#define SPTE_PAT	(1ULL << 7)
#define GUEST_PAT_LARGE (1ULL << 12)

/*
 * Software bit (ignored by the CPU) in a shadow PDE or PDPTE: some page below it shadows a
 * guest 2 MiB (PDE) or 1 GiB (PDPTE) page, which the guest invalidates as one TLB entry.
 */
#define SPTE_FROM_LARGE (1ULL << 9)

/* Non-leaf shadow entries: the leaf decides; U=1 because the guest kernel runs at CPL3. */
#define TABLE_FLAGS (PTE_P | PTE_W | PTE_U)

/* What a fill needs at most: a PDPT, a PD and a PT; a new root: a PML4 and the stub's path. */
#define ROOT_PAGES 3

static __attribute__((noreturn, format(printf, 3, 4))) void shadow_bug(const char *file, int line,
								       const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pr_err("%s:%d: bug: %s", file, line, msg);
	abort();
}

#define SHADOW_BUG(...) shadow_bug(__FILE__, __LINE__, __VA_ARGS__)

static bool stub_base_ok(uint64_t base)
{
	return !(base & (STUB_REGION_SIZE - 1)) && canonical(base);
}

static bool in_stub(const struct shadow *s, uint64_t la)
{
	return la - s->stub_base < STUB_REGION_SIZE;
}

static unsigned table_index(uint64_t la, int level)
{
	return (la >> (12 + 9 * (level - 1))) & (ENTRIES - 1);
}

static bool is_stub_pde(const struct shadow *s, uint64_t pde)
{
	return (pde & PTE_P) && (pde & PTE_ADDR_MASK) == s->stub_pt_gpa;
}

/* The pool */

static uint64_t pool_gpa(const struct shadow *s)
{
	return s->mem->monitor_gpa + s->pool_off;
}

static bool in_pool(const struct shadow *s, uint64_t gpa)
{
	return gpa >= pool_gpa(s) && gpa - pool_gpa(s) < s->pool_pages * PAGE_SIZE;
}

/* Host view of one of our table pages; any other address is a lodger bug. */
static uint64_t *table(const struct shadow *s, uint64_t gpa)
{
	if (!in_pool(s, gpa) || (gpa & (PAGE_SIZE - 1)))
		SHADOW_BUG("shadow table %#llx outside the pool", (unsigned long long)gpa);
	return s->pool_host + (gpa - pool_gpa(s)) / 8;
}

static uint32_t page_index(const struct shadow *s, uint64_t gpa)
{
	table(s, gpa); /* checks it is a pool page */
	return (uint32_t)((gpa - pool_gpa(s)) / PAGE_SIZE);
}

static uint64_t page_gpa(const struct shadow *s, uint32_t p)
{
	return pool_gpa(s) + (uint64_t)p * PAGE_SIZE;
}

/* Pool slot of an entry (its page * 512 + index) and back. */
static uint32_t slot_of(const struct shadow *s, const uint64_t *e)
{
	return (uint32_t)(e - s->pool_host);
}

static uint64_t *slot_entry(const struct shadow *s, uint32_t slot)
{
	return s->pool_host + slot;
}

/* The linear address entry `i` of a level-`level` table covers, from the table's base. */
static uint64_t entry_la(uint64_t base, unsigned i, int level)
{
	uint64_t la = base + ((uint64_t)i << (12 + 9 * (level - 1)));

	return la & (1ULL << 47) ? la | 0xffff000000000000ULL : la;
}

/* Mirrors: pool pages by the guest table frame they were derived from. */

#define NO_SRC	  1ULL /* pg_gsrc: a root, or the stub's path before a fill adopts it */
#define SPLIT_SRC 2ULL /* pg_gsrc: part of a guest large page split into 4 KiB entries */

static bool real_src(uint64_t src)
{
	return !(src & (PAGE_SIZE - 1));
}

static uint32_t mhash(const struct shadow *s, uint64_t frame)
{
	return (uint32_t)((frame >> 12) * 0x9e3779b97f4a7c15ULL >> 32) & s->mhash_mask;
}

static uint32_t whash(const struct shadow *s, uint64_t frame)
{
	return (uint32_t)((frame >> 12) * 0x9e3779b97f4a7c15ULL >> 32) & s->whash_mask;
}

static bool is_unsync(const struct shadow *s, uint32_t p)
{
	return s->unsync_at[p] != 0;
}

static void unsync_add(struct shadow *s, uint32_t p)
{
	if (is_unsync(s, p))
		return;
	s->unsync_list[s->nr_unsync++] = p;
	s->unsync_at[p] = s->nr_unsync;
}

static void unsync_remove(struct shadow *s, uint32_t p)
{
	uint32_t at = s->unsync_at[p], last;

	if (!at)
		return;
	last = s->unsync_list[--s->nr_unsync];
	s->unsync_list[at - 1] = last;
	s->unsync_at[last] = at;
	s->unsync_at[p] = 0;
}

static void mirror_unlink(struct shadow *s, uint32_t p)
{
	uint64_t src = s->pg_gsrc[p];
	uint32_t next = s->pg_mnext[p], prev = s->pg_mprev[p];

	if (real_src(src)) {
		if (prev)
			s->pg_mnext[prev - 1] = next;
		else
			s->mhead[mhash(s, src)] = next;
		if (next)
			s->pg_mprev[next - 1] = prev;
	}
	unsync_remove(s, p);
	s->pg_mnext[p] = s->pg_mprev[p] = 0;
	s->pg_gsrc[p] = NO_SRC;
}

/* The first pool page mirroring guest table `frame` (+1), write-protecting or not. */
static uint32_t mirror_first(const struct shadow *s, uint64_t frame, bool protecting_only)
{
	for (uint32_t m = s->mhead[mhash(s, frame)]; m; m = s->pg_mnext[m - 1])
		if (s->pg_gsrc[m - 1] == frame && !(protecting_only && is_unsync(s, m - 1)))
			return m;
	return 0;
}

bool shadow_is_protected(const struct shadow *s, uint64_t gpa)
{
	return mirror_first(s, gpa & PTE_ADDR_MASK, true) != 0;
}

/* Writable leaves, by the frame they map: one list per frame of guest RAM, so that a
 * frame's protection walks only its own leaves however a guest maps its other frames (a
 * guest that knew the hash could otherwise pile millions of leaves onto one list). */

static uint32_t *wl_head(struct shadow *s, uint64_t frame)
{
	uint64_t pfn = frame >> 12;

	return &s->whead[pfn < s->ram_frames ? pfn : s->ram_frames + whash(s, frame)];
}

static void wl_link(struct shadow *s, uint32_t slot, uint64_t frame)
{
	uint32_t *head = wl_head(s, frame);

	s->wprev[slot] = 0;
	s->wnext[slot] = *head;
	if (*head)
		s->wprev[*head - 1] = slot + 1;
	*head = slot + 1;
}

static void wl_unlink(struct shadow *s, uint32_t slot, uint64_t frame)
{
	uint32_t next = s->wnext[slot], prev = s->wprev[slot];

	if (prev)
		s->wnext[prev - 1] = next;
	else
		*wl_head(s, frame) = next;
	if (next)
		s->wprev[next - 1] = prev;
	s->wnext[slot] = s->wprev[slot] = 0;
}

static bool leaf_writable(uint64_t e)
{
	return (e & (PTE_P | PTE_W)) == (PTE_P | PTE_W);
}

/*
 * Every leaf written goes through here. Isolation (docs/shadow-mode.md): no guest mapping
 * may reach monitor memory. A change that takes anything away (an entry dropped, made
 * read-only, or pointed elsewhere) must also reach KVM (kvm_stale).
 */
static void check_leaf(const struct shadow *s, uint64_t e, const char *file, int line)
{
	uint64_t frame = e & PTE_ADDR_MASK;
	const struct guest_mem *m = s->mem;

	if (!(e & PTE_P) || gpa_ok(m, frame, PAGE_SIZE))
		return;
	if (!ranges_overlap(frame, PAGE_SIZE, m->monitor_gpa, m->monitor_size))
		return;
	shadow_bug(file, line, "shadow leaf %#llx reaches monitor memory", (unsigned long long)e);
}

/*
 * Entry e held something KVM may have derived and no longer does: that must reach KVM
 * before the guest runs (kvm_stale), or by the guest's next flush point when the guest
 * took it away itself (kvm_stale_guest, inside shadow_pte_written). Where the stub
 * writes removals again (zap_in_stub), e is logged for it.
 */
static void note_removed(struct shadow *s, uint64_t *e)
{
	uint32_t slot = slot_of(s, e), page = slot / ENTRIES;

	if (s->deferring)
		s->kvm_stale_guest = true;
	else
		s->kvm_stale = true;
	if (!s->zap_in_stub || s->zap_overflow || (s->zap_logged[slot / 64] >> (slot % 64) & 1))
		return;
	if (s->nr_zaps == STUB_ZAP_MAX ||
	    (!s->zap_window[page] && s->nr_zap_pages == STUB_POOL_SLOTS)) {
		s->zap_overflow = true;
		return;
	}
	if (!s->zap_window[page]) {
		s->zap_pages[s->nr_zap_pages] = page;
		s->zap_window[page] = (uint16_t)++s->nr_zap_pages;
	}
	s->zap_logged[slot / 64] |= 1ULL << (slot % 64);
	s->zap_log[s->nr_zaps++] = slot;
}

static void zap_log_clear(struct shadow *s)
{
	if (!s->zap_in_stub)
		return;
	for (uint32_t i = 0; i < s->nr_zaps; i++)
		s->zap_logged[s->zap_log[i] / 64] = 0;
	for (uint32_t i = 0; i < s->nr_zap_pages; i++)
		s->zap_window[s->zap_pages[i]] = 0;
	s->nr_zaps = s->nr_zap_pages = 0;
	s->zap_overflow = false;
}

static void leaf_set_at(struct shadow *s, uint64_t *pte, uint64_t e, const char *file, int line)
{
	uint64_t old = *pte;
	uint32_t slot = slot_of(s, pte);

	check_leaf(s, e, file, line);
	if (old == e)
		return;
	if (leaf_writable(old))
		wl_unlink(s, slot, old & PTE_ADDR_MASK);
	/* A and D in a shadow leaf are the backend's (its walks set them), not a right. */
	if ((old & PTE_P) && ((old | PTE_W) & ~(PTE_A | PTE_D)) != (e & ~(PTE_A | PTE_D)))
		note_removed(s, pte);
	*pte = e;
	if (!(e & PTE_P))
		s->gval[slot] = 0;
	if (leaf_writable(e))
		wl_link(s, slot, e & PTE_ADDR_MASK);
}

#define SET_LEAF(s, pte, e) leaf_set_at(s, pte, e, __FILE__, __LINE__)

/* Guest frame `frame` became a page table: no shadow leaf may let the guest write it. */
static void protect_frame(struct shadow *s, uint64_t frame)
{
	uint32_t m = *wl_head(s, frame);

	/* A writable translation the guest took away may still be in KVM, unlisted */
	shadow_flush_point(s);
	s->stats.protects++;
	while (m) {
		uint32_t next = s->wnext[m - 1];
		uint64_t *e = slot_entry(s, m - 1);

		if ((*e & PTE_ADDR_MASK) == frame)
			SET_LEAF(s, e, *e & ~PTE_W);
		m = next;
	}
}

/* A zeroed table page, or 0 when the pool is empty. */
static uint64_t alloc_page(struct shadow *s, int level, uint64_t la)
{
	uint32_t index;
	uint64_t gpa;

	if (!s->nr_free)
		return 0;
	index = s->free_pages[--s->nr_free];
	s->page_busy[index] = true;
	gpa = page_gpa(s, index);
	memset(table(s, gpa), 0, PAGE_SIZE);
	memset(&s->gval[(uint64_t)index * ENTRIES], 0, ENTRIES * sizeof(*s->gval));
	s->pg_level[index] = (uint8_t)level;
	s->pg_la[index] = la & ~((1ULL << (12 + 9 * level)) - 1);
	s->pg_parent[index] = 0;
	s->pg_gsrc[index] = NO_SRC;
	return gpa;
}

static void free_page(struct shadow *s, uint64_t gpa)
{
	uint32_t index = page_index(s, gpa);
	uint64_t *t = table(s, gpa);

	/* A page freed twice would end up in two tables: one root's entries in another. */
	if (!s->page_busy[index])
		SHADOW_BUG("shadow table %#llx freed twice", (unsigned long long)gpa);
	if (s->pg_level[index] == 1)
		for (unsigned i = 0; i < ENTRIES; i++)
			if (leaf_writable(t[i]))
				wl_unlink(s, slot_of(s, &t[i]), t[i] & PTE_ADDR_MASK);
	mirror_unlink(s, index);
	s->pg_level[index] = 0;
	s->page_busy[index] = false;
	/* KVM may keep a shadow of the page's old contents, and would find it again by frame
	 * were the page reused (zap_in_stub): held until the next memslot flush. */
	if (s->zap_in_stub) {
		s->held_pages[s->nr_held++] = index;
		return;
	}
	if (s->deferring) {
		s->held_pages[s->nr_held++] = index;
		s->kvm_stale_guest = true;
		/* Not too many pages out of use: flush at the next resume. */
		if (s->nr_held > s->pool_pages / 8)
			s->kvm_stale = true;
		return;
	}
	s->free_pages[s->nr_free++] = index;
	s->kvm_stale = true;
}

/* Tables */

/* Whether the level-`level` entry covering `la` covers the stub's region. */
static bool covers_stub(const struct shadow *s, uint64_t la, int level)
{
	uint64_t size = 1ULL << (12 + 9 * (level - 1));

	return s->stub_base - (la & ~(size - 1)) < size;
}

/*
 * Frees the tables below `t` (level 4: a PML4 .. 2: a PD) and clears the entries that
 * pointed to them. The stub's page table belongs to the caller: its PDE stays.
 */
static void free_children(struct shadow *s, uint64_t t, int level)
{
	uint64_t *e = table(s, t);

	for (unsigned i = 0; i < ENTRIES; i++) {
		uint64_t child = e[i] & PTE_ADDR_MASK;

		if (!(e[i] & PTE_P) || (level == 2 && is_stub_pde(s, e[i])))
			continue;
		if (level > 2)
			free_children(s, child, level - 1);
		free_page(s, child);
		e[i] = 0;
		s->gval[slot_of(s, &e[i])] = 0;
	}
}

/*
 * Drops shadow entry `e` of a level-`level` table covering `la`, with everything below
 * it. The stub's PDE stays; a dropped entry above it is noted, and the stub's path
 * reinstalled before the guest runs (stub_repair).
 */
static void zap_entry(struct shadow *s, uint64_t *e, int level, uint64_t la)
{
	uint64_t child;

	if (!(*e & PTE_P))
		return;
	if (level == 1) {
		SET_LEAF(s, e, 0);
		return;
	}
	if (level == 2 && is_stub_pde(s, *e))
		return;
	child = *e & PTE_ADDR_MASK;
	if (level > 2)
		free_children(s, child, level - 1);
	free_page(s, child);
	note_removed(s, e);
	*e = 0;
	s->gval[slot_of(s, e)] = 0;
	if (covers_stub(s, la, level))
		s->stub_dirty = true;
}

/*
 * The guest writes its table `frame`: every mirror of it stops protecting it (unsync)
 * and keeps its entries, as a TLB keeps translations until the guest's next flush point,
 * where each entry is checked against the guest's (resync).
 */
static void unsync_mirrors(struct shadow *s, uint64_t frame)
{
	for (uint32_t m = s->mhead[mhash(s, frame)]; m; m = s->pg_mnext[m - 1])
		if (s->pg_gsrc[m - 1] == frame)
			unsync_add(s, m - 1);
}

/*
 * Whether a guest entry still says what `was` said when a shadow entry was derived from
 * it. Accessed or Dirty set since (by lodger's walks) takes nothing away; cleared, the
 * CPU would set it again on the next access, so the shadow must fault there.
 */
static bool entry_same(uint64_t now, uint64_t was)
{
	uint64_t ad = PTE_A | PTE_D;

	return (now & ~ad) == (was & ~ad) && (now & was & ad) == (was & ad);
}

/*
 * The entry for `la` in the level-`level` table (4: PML4E .. 1: PTE) of the root at
 * `pml4`, allocating the tables missing above it when `alloc` (they mirror no guest
 * table). NULL when a table is missing (or the pool is empty), and below the stub's PDE,
 * which is never descended.
 */
static uint64_t *shadow_entry(struct shadow *s, uint64_t pml4, uint64_t la, int level, bool alloc)
{
	uint64_t t = pml4;

	for (int l = 4;; l--) {
		uint64_t *e = &table(s, t)[table_index(la, l)];
		uint64_t page;

		if (l == level)
			return e;
		if (l == 2 && is_stub_pde(s, *e))
			return NULL;
		if (!(*e & PTE_P)) {
			if (!alloc || !(page = alloc_page(s, l - 1, la)))
				return NULL;
			s->pg_parent[page_index(s, page)] = slot_of(s, e) + 1;
			*e = page | TABLE_FLAGS;
		}
		t = *e & PTE_ADDR_MASK;
	}
}

/* Roots */

static struct shadow_root *root_find(struct shadow *s, uint64_t cr3, bool user)
{
	for (unsigned i = 0; i < SHADOW_MAX_ROOTS; i++) {
		struct shadow_root *r = &s->roots[i];

		if (r->in_use && r->guest_cr3 == cr3 && r->user == user)
			return r;
	}
	return NULL;
}

static void root_touch(struct shadow *s, struct shadow_root *r)
{
	r->last_used = ++s->clock;
}

/*
 * Points the PDE of stub_base at the stub's page table, supervisor-only (claims 5, 6),
 * dropping any guest mapping shadowed there. False when a table cannot be had.
 */
static bool install_stub(struct shadow *s, struct shadow_root *r)
{
	uint64_t *pde = shadow_entry(s, r->pml4_gpa, s->stub_base, 2, true);

	if (!pde)
		return false;
	if ((*pde & PTE_P) && !is_stub_pde(s, *pde))
		zap_entry(s, pde, 2, s->stub_base);
	*pde = s->stub_pt_gpa | PTE_P | PTE_W;
	return true;
}

static void remove_stub(struct shadow *s, struct shadow_root *r, uint64_t base)
{
	uint64_t *pde = shadow_entry(s, r->pml4_gpa, base, 2, false);

	if (pde && is_stub_pde(s, *pde)) {
		*pde = 0;
		s->kvm_stale = true;
	}
}

/*
 * Freed pages wait for KVM to forget them (zap_in_stub, free_page): when the pool needs
 * them, a memslot flush makes KVM drop everything, cheaper than evicting any root.
 */
static bool release_held(struct shadow *s)
{
	if (!s->nr_held || !s->flush_kvm)
		return false;
	s->stats.kvm_flushes++;
	s->stats.pool_flushes++;
	if (s->flush_kvm(s->flush_ctx))
		return false;
	shadow_kvm_flushed(s);
	return true;
}

/*
 * Empties a root down to its stub mapping, as a TLB flush would. Cannot fail: the root
 * held the stub's PDPT and PD, which freeing everything gives back (held pages, with
 * zap_in_stub, once KVM has forgotten them).
 */
static void root_reset(struct shadow *s, struct shadow_root *r)
{
	uint64_t *pml4 = table(s, r->pml4_gpa);

	/* The root stays: KVM must see its entries go (the freed tables below need not). */
	for (unsigned i = 0; i < ENTRIES; i++)
		if (pml4[i] & PTE_P)
			note_removed(s, &pml4[i]);
	free_children(s, r->pml4_gpa, 4);
	s->stats.root_flushes++;
	if (!install_stub(s, r) && !(release_held(s) && install_stub(s, r)))
		SHADOW_BUG("no page for the stub mapping of a root just emptied");
}

static void root_free(struct shadow *s, struct shadow_root *r)
{
	free_children(s, r->pml4_gpa, 4);
	free_page(s, r->pml4_gpa);
	memset(r, 0, sizeof(*r));
}

/* Frees the least recently used root of a guest CR3 other than `keep_cr3`. */
static bool evict_lru(struct shadow *s, uint64_t keep_cr3)
{
	struct shadow_root *lru = NULL;

	for (unsigned i = 0; i < SHADOW_MAX_ROOTS; i++) {
		struct shadow_root *r = &s->roots[i];

		if (r->in_use && r->guest_cr3 != keep_cr3 &&
		    (!lru || r->last_used < lru->last_used))
			lru = r;
	}
	if (!lru)
		return false;
	pr_debug(LOG_SHADOW, "evict root %#llx (%s)", (unsigned long long)lru->guest_cr3,
		 lru->user ? "user" : "kernel");
	root_free(s, lru);
	s->stats.evictions++;
	return true;
}

/*
 * Gives pages back for work on root (cr3, user): evicts another CR3's root or, once
 * (*sibling_done), empties the other root of cr3. False when there is nothing left to do.
 */
static bool reclaim(struct shadow *s, uint64_t cr3, bool user, bool *sibling_done)
{
	struct shadow_root *sibling;

	if (release_held(s))
		return true;
	if (evict_lru(s, cr3))
		return true;
	if (*sibling_done)
		return false;
	*sibling_done = true;
	sibling = root_find(s, cr3, !user);
	if (!sibling)
		return false;
	root_reset(s, sibling);
	return true;
}

/* A free slot in the root cache, evicting when it is full. */
static struct shadow_root *free_slot(struct shadow *s, uint64_t cr3)
{
	for (int pass = 0; pass < 2; pass++) {
		for (unsigned i = 0; i < SHADOW_MAX_ROOTS; i++)
			if (!s->roots[i].in_use)
				return &s->roots[i];
		/* At most two roots per CR3, so another CR3 holds one. */
		if (!evict_lru(s, cr3))
			break;
	}
	SHADOW_BUG("a full root cache with no root to evict");
}

static struct shadow_root *root_new(struct shadow *s, uint64_t cr3, bool user)
{
	struct shadow_root *slot = free_slot(s, cr3);
	bool sibling_done = false;

	while (s->nr_free < ROOT_PAGES && reclaim(s, cr3, user, &sibling_done))
		;
	if (s->nr_free < ROOT_PAGES)
		return NULL;
	slot->pml4_gpa = alloc_page(s, 4, 0);
	slot->guest_cr3 = cr3;
	slot->user = user;
	slot->in_use = true;
	if (!install_stub(s, slot))
		SHADOW_BUG("no page for a new root's stub mapping");
	return slot;
}

/* Puts the stub's path back in every root after an entry above it was dropped. */
static void stub_repair(struct shadow *s)
{
	if (!s->stub_dirty)
		return;
	s->stub_dirty = false;
	for (unsigned i = 0; i < SHADOW_MAX_ROOTS; i++) {
		struct shadow_root *r = &s->roots[i];
		uint64_t *pde;

		if (!r->in_use)
			continue;
		pde = shadow_entry(s, r->pml4_gpa, s->stub_base, 2, false);
		if (pde && is_stub_pde(s, *pde))
			continue;
		/* The path's pages were just freed, so there are pages to take; should there
		 * not be, an empty root is always correct. */
		if (!install_stub(s, r)) {
			root_reset(s, r);
		}
	}
}

/*
 * Drops the PML4 entries of r that the guest changed since a fill went through them
 * (the guest's PML4 is not write-protected), and the mirrors a guest write was let
 * through (unsync): what a guest flush point must make current.
 */
static void root_sync(struct shadow *s, struct shadow_root *r)
{
	const uint64_t *g4 = gpa_ptr_guest(s->mem, r->guest_cr3, PAGE_SIZE);
	uint64_t *pml4 = table(s, r->pml4_gpa);
	const uint64_t *was = &s->gval[(uint64_t)page_index(s, r->pml4_gpa) * ENTRIES];

	for (unsigned i = 0; i < ENTRIES; i++) {
		if (!(pml4[i] & PTE_P) || !was[i])
			continue;
		if (g4 && entry_same(__atomic_load_n(&g4[i], __ATOMIC_RELAXED), was[i]))
			continue;
		s->stats.pte_zaps++;
		zap_entry(s, &pml4[i], 4, entry_la(0, i, 4));
	}
}

#define UNSYNC_MAX 256 /* unsync mirrors checked at every flush point, at most */

/* Drops the entries of unsync mirror p whose guest entry changed since. */
static void resync_page(struct shadow *s, uint32_t p)
{
	const uint64_t *g = gpa_ptr_guest(s->mem, s->pg_gsrc[p], PAGE_SIZE);
	uint64_t *t = table(s, page_gpa(s, p));
	int level = s->pg_level[p];

	s->stats.resyncs++;
	for (unsigned i = 0; i < ENTRIES && s->pg_level[p]; i++) {
		uint64_t was = s->gval[(uint64_t)p * ENTRIES + i];

		/* Entries no guest entry gave (the stub's path) are not the guest's. */
		if (!(t[i] & PTE_P) || !was)
			continue;
		if (g && entry_same(__atomic_load_n(&g[i], __ATOMIC_RELAXED), was))
			continue;
		s->stats.pte_zaps++;
		zap_entry(s, &t[i], level, entry_la(s->pg_la[p], i, level));
	}
}

/*
 * A guest flush point: every unsync mirror is brought up to date. Past UNSYNC_MAX they
 * are write-protected again, so that a flush point stays cheap.
 */
static void unsync_flush(struct shadow *s)
{
	bool reprotect = s->nr_unsync > UNSYNC_MAX;
	uint32_t n = s->nr_unsync;

	/* A resync may free pages (and so unlist them): walk a copy of the list. */
	memcpy(s->unsync_scratch, s->unsync_list, n * sizeof(*s->unsync_list));
	for (uint32_t i = 0; i < n; i++) {
		uint32_t p = s->unsync_scratch[i];

		if (!s->pg_level[p] || !is_unsync(s, p))
			continue;
		resync_page(s, p);
		if (reprotect && s->pg_level[p] && is_unsync(s, p)) {
			/* a frame with a protecting mirror has no writable leaf: once a frame */
			bool protected_already = mirror_first(s, s->pg_gsrc[p], true);

			unsync_remove(s, p);
			if (!protected_already)
				protect_frame(s, s->pg_gsrc[p]);
		}
	}
}

/* Timing (phase.h): only when the caller gave a table. */
static uint64_t time_start(const struct shadow *s)
{
	return s->phases ? phase_now() : 0;
}

static void time_end(const struct shadow *s, enum phase p, uint64_t start)
{
	if (s->phases)
		phase_end(s->phases, p, start);
}

/* Public: setup */

static uint32_t pow2_at_least(uint64_t n)
{
	uint32_t v = 1;

	while (v < n)
		v <<= 1;
	return v;
}

int shadow_set_open_bus(struct shadow *s, uint64_t open_bus_gpa)
{
	const struct guest_mem *mem = s->mem;

	if ((open_bus_gpa & (PAGE_SIZE - 1)) ||
	    ranges_overlap(open_bus_gpa, mem->monitor_size, 0, mem->ram_size) ||
	    ranges_overlap(open_bus_gpa, mem->monitor_size, mem->monitor_gpa, mem->monitor_size))
		return -EINVAL;
	s->open_bus_gpa = open_bus_gpa;
	return 0;
}

int shadow_init(struct shadow *s, struct guest_mem *mem, uint64_t pool_off, uint64_t pool_pages,
		uint64_t stub_base, uint64_t stub_pt_gpa, uint64_t open_bus_gpa)
{
	uint64_t slots;

	memset(s, 0, sizeof(*s));
	s->mem = mem;
	s->pool_off = pool_off;
	s->pool_pages = pool_pages;
	s->stub_base = stub_base;
	s->stub_pt_gpa = stub_pt_gpa;
	/* Slots (page * 512 + index) + 1 must fit in 32 bits. */
	if (!mem->monitor || (mem->monitor_gpa & (PAGE_SIZE - 1)) || (pool_off & (PAGE_SIZE - 1)) ||
	    !pool_pages || pool_pages >= (UINT32_MAX / ENTRIES) ||
	    !range_within(pool_off, pool_pages * PAGE_SIZE, mem->monitor_size) ||
	    !stub_base_ok(stub_base) || (stub_pt_gpa & (PAGE_SIZE - 1)) ||
	    in_pool(s, stub_pt_gpa) || shadow_set_open_bus(s, open_bus_gpa))
		return -EINVAL;
	slots = pool_pages * ENTRIES;
	s->mhash_mask = pow2_at_least(pool_pages) - 1;
	s->whash_mask = pow2_at_least(pool_pages * 4) - 1;
	s->free_pages = calloc(pool_pages, sizeof(*s->free_pages));
	s->held_pages = calloc(pool_pages, sizeof(*s->held_pages));
	s->page_busy = calloc(pool_pages, sizeof(*s->page_busy));
	s->pg_level = calloc(pool_pages, 1);
	s->unsync_list = calloc(pool_pages, sizeof(*s->unsync_list));
	s->unsync_at = calloc(pool_pages, sizeof(*s->unsync_at));
	s->unsync_scratch = calloc(pool_pages, sizeof(*s->unsync_scratch));
	s->gval = calloc(slots, sizeof(*s->gval));
	s->pg_la = calloc(pool_pages, sizeof(*s->pg_la));
	s->pg_gsrc = calloc(pool_pages, sizeof(*s->pg_gsrc));
	s->pg_parent = calloc(pool_pages, sizeof(*s->pg_parent));
	s->pg_mnext = calloc(pool_pages, sizeof(*s->pg_mnext));
	s->pg_mprev = calloc(pool_pages, sizeof(*s->pg_mprev));
	s->mhead = calloc((uint64_t)s->mhash_mask + 1, sizeof(*s->mhead));
	s->wnext = calloc(slots, sizeof(*s->wnext));
	s->wprev = calloc(slots, sizeof(*s->wprev));
	s->ram_frames = mem->ram_size / PAGE_SIZE;
	s->whead = calloc(s->ram_frames + s->whash_mask + 1, sizeof(*s->whead));
	if (!s->free_pages || !s->held_pages || !s->page_busy || !s->pg_level || !s->unsync_list ||
	    !s->unsync_at || !s->unsync_scratch || !s->pg_la || !s->pg_gsrc || !s->pg_parent ||
	    !s->pg_mnext || !s->pg_mprev || !s->mhead || !s->wnext || !s->wprev || !s->whead ||
	    !s->gval) {
		shadow_destroy(s);
		return -ENOMEM;
	}
	s->pool_host = MON_PTR(mem, pool_off, pool_pages * PAGE_SIZE);
	/* Top of the stack is page 0: the pool fills from its start. */
	for (uint64_t i = 0; i < pool_pages; i++) {
		s->free_pages[i] = (uint32_t)(pool_pages - 1 - i);
		s->pg_gsrc[i] = NO_SRC;
	}
	s->nr_free = (uint32_t)pool_pages;
	return 0;
}

void shadow_destroy(struct shadow *s)
{
	free(s->free_pages);
	free(s->held_pages);
	free(s->zap_log);
	free(s->zap_logged);
	free(s->zap_window);
	free(s->page_busy);
	free(s->pg_level);
	free(s->unsync_list);
	free(s->unsync_at);
	free(s->unsync_scratch);
	free(s->gval);
	free(s->pg_la);
	free(s->pg_gsrc);
	free(s->pg_parent);
	free(s->pg_mnext);
	free(s->pg_mprev);
	free(s->mhead);
	free(s->wnext);
	free(s->wprev);
	free(s->whead);
	memset(s, 0, sizeof(*s));
}

uint64_t shadow_root(struct shadow *s, uint64_t guest_cr3, bool user, bool flush)
{
	uint64_t cr3 = guest_cr3 & PTE_ADDR_MASK;
	struct shadow_root *r = root_find(s, cr3, user);

	s->stats.root_switches++;
	if (flush)
		shadow_flush_point(s);
	if (r) {
		s->stats.root_hits++;
		if (flush) {
			uint64_t t0 = time_start(s);

			unsync_flush(s);
			root_sync(s, r);
			stub_repair(s);
			time_end(s, PHASE_FLUSH, t0);
		}
	} else if (!(r = root_new(s, cr3, user))) {
		return 0;
	}
	root_touch(s, r);
	/* Another root runs: as a CR3 load, it must not find what this one's guest took away
	 * (KVM may keep translations per root, but the CPU's TLB does not). */
	if (!flush) {
		if (r->pml4_gpa != s->last_root)
			shadow_flush_point(s);
		s->last_root = r->pml4_gpa;
	}
	return r->pml4_gpa;
}

uint64_t shadow_switch_root(struct shadow *s, uint64_t guest_cr3, bool user)
{
	return shadow_root(s, guest_cr3, user, true);
}

/* Public: fills */

/*
 * Decides the guest's access as its CPU would. True, with the #PF error code in *pfec,
 * when the guest must see a fault. The user root shadows user pages only, so any access
 * in it is checked as a user one.
 */
static bool guest_denies(enum walk_status st, const struct walk *w, bool user_root, uint32_t access,
			 const struct shadow_guest_mode *mode, bool smep, uint32_t *pfec)
{
	bool user = (access & PFEC_U) || user_root;
	bool write = access & PFEC_W;
	bool fetch = access & PFEC_I;
	uint32_t code = (access & (PFEC_W | PFEC_U)) | (fetch && (mode->nxe || smep) ? PFEC_I : 0);

	/* With EFER.NXE clear, bit 63 of any present entry read is a reserved bit. */
	if (!mode->nxe && !w->executable)
		st = WALK_RESERVED;
	switch (st) {
	case WALK_OK:
		break;
	case WALK_RESERVED:
		*pfec = code | PFEC_P | PFEC_RSVD;
		return true;
	default: /* not present, or a table frame outside RAM */
		*pfec = code;
		return true;
	}
	if ((user && !w->user) || (write && !w->writable && (user || mode->wp)) ||
	    (fetch && mode->nxe && !w->executable) || (fetch && !user && smep && w->user)) {
		*pfec = code | PFEC_P;
		return true;
	}
	return false;
}

/*
 * The shadow leaf for the 4 KiB page of a successful walk. `guest_leaf` is the guest's
 * leaf entry after its A/D update. A guest page table is never writable (it is
 * write-protected: the guest's writes to it trap).
 */
static uint64_t shadow_leaf(const struct shadow *s, const struct walk *w, uint64_t guest_leaf,
			    bool user_root, const struct shadow_guest_mode *mode)
{
	uint64_t frame = w->gpa & PTE_ADDR_MASK;
	uint64_t pat = w->level == 1 ? SPTE_PAT : GUEST_PAT_LARGE;
	uint64_t e = PTE_P | PTE_U | (guest_leaf & (SPTE_PWT | SPTE_PCD));
	/* Read-only until the guest's D is set, so its first write comes here to set it. */
	bool writable = (w->writable || (!user_root && !mode->wp)) && (guest_leaf & PTE_D) &&
			!mirror_first(s, frame, true);

	if (guest_leaf & pat)
		e |= SPTE_PAT;
	if (mode->nxe && !w->executable)
		e |= PTE_NX;
	/* SMEP: the guest kernel may read its user pages but not run them; the real CPU
	 * (the kernel runs at CPL3) sees an NX page, and the fetch comes here to be denied. */
	if (!user_root && s->smep && w->user)
		e |= PTE_NX;
	/* Monitor memory is never the guest's: the same offset of the unbacked window. */
	if (!gpa_ok(s->mem, frame, PAGE_SIZE) &&
	    ranges_overlap(frame, PAGE_SIZE, s->mem->monitor_gpa, s->mem->monitor_size))
		frame = s->open_bus_gpa + (frame - s->mem->monitor_gpa);
	/* The xAPIC page is read-only: every write comes to lodger, which filters it. */
	if (frame == APIC_MMIO_GPA)
		writable = false;
	/* Frames neither in RAM nor in monitor memory are mapped as they are: KVM sees MMIO. */
	return e | frame | (writable ? PTE_W : 0);
}

/* The guest table the level-`level` shadow table on a walk's path mirrors (entry_gpa is
 * leaf first). */
static uint64_t path_src(const struct walk *w, int level)
{
	if (level < (int)w->level)
		return SPLIT_SRC;
	return w->entry_gpa[level - (int)w->level] & PTE_ADDR_MASK;
}

/*
 * Pool page p now mirrors `src`. A guest frame that was no page table before becomes
 * write-protected; a table the guest writes freely (`no_track`, the one a guest write is
 * being let through to, or one whose mirrors are all unsync) is mirrored unsync.
 */
static void mirror_set(struct shadow *s, uint32_t p, uint64_t src, uint64_t no_track)
{
	uint32_t *head;
	bool protected, unsync;

	mirror_unlink(s, p);
	s->pg_gsrc[p] = src;
	if (!real_src(src))
		return;
	protected = mirror_first(s, src, true);
	unsync = src == no_track || (!protected && mirror_first(s, src, false));
	head = &s->mhead[mhash(s, src)];
	s->pg_mnext[p] = *head;
	s->pg_mprev[p] = 0;
	if (*head)
		s->pg_mprev[*head - 1] = p + 1;
	*head = p + 1;
	if (unsync)
		unsync_add(s, p);
	else if (!protected)
		protect_frame(s, src);
}

/* The guest entry a level-`level` shadow entry on w's path derives from (inside a split
 * large page: the large page's entry); 0 when it cannot be read. */
static uint64_t guest_value(const struct shadow *s, const struct walk *w, int level)
{
	unsigned i = level >= (int)w->level ? (unsigned)level - w->level : 0;
	const uint64_t *e = gpa_ptr_guest(s->mem, w->entry_gpa[i], 8);

	return e ? __atomic_load_n(e, __ATOMIC_RELAXED) : 0;
}

/*
 * The PTE slot for `la` in root r, building its path as walk w found the guest's: each
 * shadow table mirrors the guest table at its level and each entry remembers the guest
 * entry it came from; one that no longer matches (the guest changed it unseen) is
 * dropped and built again. NULL when the pool is empty.
 */
static uint64_t *fill_path(struct shadow *s, struct shadow_root *r, uint64_t la,
			   const struct walk *w, uint64_t no_track)
{
	uint64_t t = r->pml4_gpa;

	for (int l = 4; l > 1; l--) {
		uint64_t *e = &table(s, t)[table_index(la, l)];
		uint64_t want = path_src(w, l - 1), gv = guest_value(s, w, l), page;
		uint32_t slot = slot_of(s, e), c;

		if (l == 2 && is_stub_pde(s, *e))
			return NULL;
		if (*e & PTE_P) {
			c = page_index(s, *e & PTE_ADDR_MASK);
			/* A table made for the stub's path alone: it takes the guest's side. */
			if (s->pg_gsrc[c] == NO_SRC) {
				mirror_set(s, c, want, no_track);
				s->gval[slot] = gv;
				t = *e & PTE_ADDR_MASK;
				continue;
			}
			if (s->pg_gsrc[c] == want && s->gval[slot] &&
			    entry_same(gv, s->gval[slot])) {
				t = *e & PTE_ADDR_MASK;
				continue;
			}
			s->stats.pte_zaps++;
			zap_entry(s, e, l, la);
		}
		page = alloc_page(s, l - 1, la);
		if (!page)
			return NULL;
		c = page_index(s, page);
		s->pg_parent[c] = slot + 1;
		*e = page | TABLE_FLAGS;
		s->gval[slot] = gv;
		mirror_set(s, c, want, no_track);
		t = page;
	}
	return &table(s, t)[table_index(la, 1)];
}

/*
 * fill_path, making room when the pool is dry: other CR3s' roots go first, then r's
 * sibling is emptied, then r itself (the TLB may drop anything).
 */
static uint64_t *leaf_slot(struct shadow *s, struct shadow_root *r, uint64_t la,
			   const struct walk *w, uint64_t no_track)
{
	bool sibling_done = false, self_done = false;

	for (;;) {
		uint64_t *pte = fill_path(s, r, la, w, no_track);

		if (pte)
			return pte;
		if (reclaim(s, r->guest_cr3, r->user, &sibling_done))
			continue;
		if (self_done)
			return NULL;
		pr_debug(LOG_SHADOW, "pool dry: flush root %#llx (%s)",
			 (unsigned long long)r->guest_cr3, r->user ? "user" : "kernel");
		root_reset(s, r);
		self_done = true;
	}
}

#define PREFETCH_SPAN 8 /* neighbours on each side of a miss, in the same guest page table */

/*
 * Fills the empty shadow leaf *e for `la` from the guest entry `ge` at `ge_gpa`, as a miss
 * there would, where that changes nothing of the guest's (Accessed already set, so no
 * A/D bit to set) and the walk of r's tables reaches that very entry. Returns whether it
 * did.
 */
static bool fill_ahead(struct shadow *s, const struct shadow_root *r, uint64_t *e, uint64_t la,
		       uint64_t ge_gpa, uint64_t ge, const struct shadow_guest_mode *mode)
{
	struct walk w;

	if ((*e & PTE_P) || (ge & (PTE_P | PTE_A)) != (PTE_P | PTE_A) || in_stub(s, la))
		return false;
	if (pagewalk(s->mem, r->guest_cr3, la, &w) != WALK_OK || w.level != 1 ||
	    w.entry_gpa[0] != ge_gpa || (!mode->nxe && !w.executable) || (r->user && !w.user))
		return false;
	SET_LEAF(s, e, shadow_leaf(s, &w, ge, r->user, mode));
	s->gval[slot_of(s, e)] = ge;
	return true;
}

/*
 * Fills the neighbours of the entry just filled at `pte` that the guest has used before,
 * as their own misses would: each is a trap saved when the guest touches it again.
 */
static void prefetch(struct shadow *s, const struct shadow_root *r, uint64_t *pte, uint64_t la,
		     const struct walk *w, const struct shadow_guest_mode *mode)
{
	uint64_t gpt = w->entry_gpa[0] & PTE_ADDR_MASK;
	const uint64_t *g = gpa_ptr_guest(s->mem, gpt, PAGE_SIZE);
	unsigned at = table_index(la, 1);
	unsigned lo = at > PREFETCH_SPAN ? at - PREFETCH_SPAN : 0;
	unsigned hi = at + PREFETCH_SPAN < ENTRIES ? at + PREFETCH_SPAN : ENTRIES - 1;
	uint64_t *spt = pte - at;

	if (w->level != 1 || !g)
		return;
	for (unsigned j = lo; j <= hi; j++) {
		uint64_t lj = (la & ~0x1fffffULL) | (uint64_t)j << 12;

		if (j != at && fill_ahead(s, r, &spt[j], lj, gpt + j * 8,
					  __atomic_load_n(&g[j], __ATOMIC_RELAXED), mode))
			s->stats.prefetched++;
	}
}

/* The root whose tables hold pool page p: up its parents to a PML4. */
static const struct shadow_root *root_of_page(const struct shadow *s, uint32_t p)
{
	for (int up = 0; up < 3 && s->pg_parent[p]; up++)
		p = (s->pg_parent[p] - 1) / ENTRIES;
	if (s->pg_level[p] != 4)
		return NULL;
	for (unsigned k = 0; k < SHADOW_MAX_ROOTS; k++)
		if (s->roots[k].in_use && s->roots[k].pml4_gpa == page_gpa(s, p))
			return &s->roots[k];
	return NULL;
}

/*
 * The guest wrote entry i of the leaf table that mirror p was made from (mmu_update,
 * ptwr): where the new entry is one a miss would take as it is, it goes in now, as a
 * prefetch would put it, and the guest's first access through it does not trap. A Xen
 * guest maps a page this way and uses it at once (text_poke, a fork's copy, a fault's
 * fix).
 */
static void refill_written(struct shadow *s, uint32_t p, unsigned i)
{
	uint64_t frame = s->pg_gsrc[p];
	const uint64_t *g = gpa_ptr_guest(s->mem, frame, PAGE_SIZE);
	const struct shadow_root *r = root_of_page(s, p);
	uint64_t *t = table(s, page_gpa(s, p));

	if (g && r &&
	    fill_ahead(s, r, &t[i], entry_la(s->pg_la[p], i, 1), frame + i * 8,
		       __atomic_load_n(&g[i], __ATOMIC_RELAXED), &s->mode))
		s->stats.refilled++;
}

enum shadow_fill_result shadow_fill(struct shadow *s, uint64_t guest_cr3, bool user_root,
				    uint64_t la, uint32_t access,
				    const struct shadow_guest_mode *mode, uint32_t *pfec)
{
	uint64_t cr3 = guest_cr3 & PTE_ADDR_MASK, no_track = NO_SRC, t0;
	struct shadow_root *r;
	const uint64_t *guest_leaf;
	uint64_t *pte, leaf, frame;
	enum walk_status st;
	struct walk w;

	*pfec = 0;
	if (!canonical(la))
		return SHADOW_NONCANONICAL;
	if (in_stub(s, la))
		return SHADOW_STUB_CONFLICT;
	t0 = time_start(s);
	st = pagewalk(s->mem, cr3, la, &w);
	time_end(s, PHASE_WALK, t0);
	if (guest_denies(st, &w, user_root, access, mode, s->smep, pfec)) {
		s->stats.guest_faults++;
		return SHADOW_GUEST_FAULT;
	}
	t0 = time_start(s);
	pagewalk_set_ad(s->mem, &w, access & PFEC_W);
	if ((access & PFEC_W) && (w.gpa & PTE_ADDR_MASK) == APIC_MMIO_GPA) {
		time_end(s, PHASE_FILL, t0);
		return SHADOW_APIC_WRITE;
	}
	s->mode = *mode;
	frame = w.gpa & PTE_ADDR_MASK;
	/* The guest writes one of its own page tables, which the shadow write-protects: the
	 * write is let through, and the table checked at the guest's flush points (docs). */
	if ((access & PFEC_W) && mirror_first(s, frame, true)) {
		s->stats.unprotects++;
		unsync_mirrors(s, frame);
		no_track = frame;
	}
	/* The caller loaded this root; should it be gone, make it again rather than fail. */
	r = root_find(s, cr3, user_root);
	if (!r && !(r = root_new(s, cr3, user_root))) {
		time_end(s, PHASE_FILL, t0);
		return SHADOW_NO_MEMORY;
	}
	root_touch(s, r);
	pte = leaf_slot(s, r, la, &w, no_track);
	if (!pte) {
		stub_repair(s);
		time_end(s, PHASE_FILL, t0);
		return SHADOW_NO_MEMORY;
	}
	/* The walk read this entry from RAM just now. */
	guest_leaf = gpa_ptr_guest(s->mem, w.entry_gpa[0], 8);
	leaf = shadow_leaf(s, &w, guest_leaf ? __atomic_load_n(guest_leaf, __ATOMIC_RELAXED) : 0,
			   user_root, mode);
	/* The entry was already just this: the CPU faulted on a mapping it has (shadow.h). */
	s->refilled_same = *pte == leaf;
	SET_LEAF(s, pte, leaf);
	s->gval[slot_of(s, pte)] = guest_leaf ? __atomic_load_n(guest_leaf, __ATOMIC_RELAXED) : 0;
	if (w.level > 1)
		*shadow_entry(s, r->pml4_gpa, la, (int)w.level, false) |= SPTE_FROM_LARGE;
	else
		prefetch(s, r, pte, la, &w, mode);
	stub_repair(s);
	s->stats.fills++;
	time_end(s, PHASE_FILL, t0);
	return SHADOW_FILLED;
}

#define PREFILL_RESUMES 8 /* resumes a noted fault waits for its fix */

void shadow_note_fault(struct shadow *s, uint64_t guest_cr3, bool user_root, uint64_t la,
		       uint32_t access)
{
	s->pending.valid = true;
	s->pending.cr3 = guest_cr3 & PTE_ADDR_MASK;
	s->pending.user = user_root;
	s->pending.la = la;
	s->pending.access = access & ~PFEC_W;
	s->pending.resumes = 0;
}

bool shadow_prefill(struct shadow *s, uint64_t guest_cr3, bool user_root,
		    const struct shadow_guest_mode *mode)
{
	uint32_t pfec;
	struct walk w;

	if (!s->pending.valid || s->pending.cr3 != (guest_cr3 & PTE_ADDR_MASK) ||
	    s->pending.user != user_root) {
		if (s->pending.valid && ++s->pending.resumes > PREFILL_RESUMES)
			s->pending.valid = false;
		return false;
	}
	/* Probe first: a fault the guest still must see is not counted or delivered here. */
	if (guest_denies(pagewalk(s->mem, s->pending.cr3, s->pending.la, &w), &w, user_root,
			 s->pending.access, mode, s->smep, &pfec)) {
		if (++s->pending.resumes > PREFILL_RESUMES)
			s->pending.valid = false;
		return false;
	}
	s->pending.valid = false;
	if (shadow_fill(s, guest_cr3, user_root, s->pending.la, s->pending.access, mode, &pfec) !=
	    SHADOW_FILLED)
		return false;
	s->stats.prefilled++;
	return true;
}

/* Public: invalidation */

/*
 * Drops what a guest TLB entry for `la` could hold: la's own 4 KiB entry, or, when the
 * shadow there came from a guest large page (one TLB entry for all of it), every entry
 * in that 2 MiB or 1 GiB region.
 */
static void drop_la(struct shadow *s, struct shadow_root *r, uint64_t la)
{
	uint64_t *pdpte = shadow_entry(s, r->pml4_gpa, la, 3, false), *pde, *pte;

	if (!pdpte || !(*pdpte & PTE_P))
		return;
	if (*pdpte & SPTE_FROM_LARGE) {
		zap_entry(s, pdpte, 3, la);
		return;
	}
	pde = shadow_entry(s, r->pml4_gpa, la, 2, false);
	if (!pde || !(*pde & PTE_P) || is_stub_pde(s, *pde))
		return;
	if (*pde & SPTE_FROM_LARGE) {
		zap_entry(s, pde, 2, la);
		return;
	}
	pte = shadow_entry(s, r->pml4_gpa, la, 1, false);
	if (pte)
		SET_LEAF(s, pte, 0);
}

/*
 * Whether r's entry for `la` grants what the guest's tables no longer do: they changed
 * where the shadow could not see it (memory written by a device or by lodger itself).
 */
static bool leaf_stale(struct shadow *s, const struct shadow_root *r, uint64_t la)
{
	uint64_t *pte = shadow_entry(s, r->pml4_gpa, la, 1, false), cur, want;
	const uint64_t *gl;
	struct walk w;

	if (!pte || !(*pte & PTE_P))
		return false;
	cur = *pte;
	if (pagewalk(s->mem, r->guest_cr3, la, &w) != WALK_OK || (r->user && !w.user) ||
	    (!s->mode.nxe && !w.executable) || !(gl = gpa_ptr_guest(s->mem, w.entry_gpa[0], 8)))
		return true;
	want = shadow_leaf(s, &w, __atomic_load_n(gl, __ATOMIC_RELAXED), r->user, &s->mode);
	return (cur & PTE_ADDR_MASK) != (want & PTE_ADDR_MASK) ||
	       ((cur & PTE_W) && !(want & PTE_W)) || (!(cur & PTE_NX) && (want & PTE_NX)) ||
	       ((cur ^ want) & (SPTE_PWT | SPTE_PCD | SPTE_PAT));
}

void shadow_invlpg(struct shadow *s, uint64_t guest_cr3, uint64_t la)
{
	uint64_t cr3 = guest_cr3 & PTE_ADDR_MASK, t0;

	s->stats.invlpgs++;
	if (!canonical(la)) /* invlpg of a non-canonical address is a no-op */
		return;
	shadow_flush_point(s);
	t0 = time_start(s);
	unsync_flush(s);
	for (int user = 0; user < 2; user++) {
		struct shadow_root *r = root_find(s, cr3, user);

		if (!r)
			continue;
		root_sync(s, r);
		if (leaf_stale(s, r, la))
			drop_la(s, r, la);
	}
	stub_repair(s);
	time_end(s, PHASE_FLUSH, t0);
}

void shadow_pte_written(struct shadow *s, uint64_t gpa, uint64_t len)
{
	uint64_t t0 = time_start(s);

	while (len) {
		uint64_t frame = gpa & PTE_ADDR_MASK, off = gpa & (PAGE_SIZE - 1);
		uint64_t n = len < PAGE_SIZE - off ? len : PAGE_SIZE - off;
		unsigned first = (unsigned)(off / 8), last = (unsigned)((off + n - 1) / 8);
		bool again = true;

		/* A zap above the leaves may free other mirrors of this frame: start over. */
		while (again) {
			again = false;
			for (uint32_t m = s->mhead[mhash(s, frame)]; m && !again;
			     m = s->pg_mnext[m - 1]) {
				uint32_t p = m - 1;
				uint64_t *t = table(s, page_gpa(s, p));
				int level = s->pg_level[p];

				if (s->pg_gsrc[p] != frame)
					continue;
				for (unsigned i = first; i <= last; i++) {
					if ((t[i] & PTE_P) &&
					    !(level == 2 && is_stub_pde(s, t[i]))) {
						s->stats.pte_zaps++;
						/* the guest's own change: KVM may keep the
						 * old translation until its flush point, as
						 * a TLB would */
						s->deferring = true;
						zap_entry(s, &t[i], level,
							  entry_la(s->pg_la[p], i, level));
						s->deferring = false;
						again |= level > 1;
					}
					if (level == 1)
						refill_written(s, p, i);
				}
			}
		}
		for (unsigned k = 0; k < SHADOW_MAX_ROOTS; k++) {
			struct shadow_root *r = &s->roots[k];
			uint64_t *pml4;

			if (!r->in_use || r->guest_cr3 != frame)
				continue;
			pml4 = table(s, r->pml4_gpa);
			for (unsigned i = first; i <= last; i++) {
				if (!(pml4[i] & PTE_P) || !s->gval[slot_of(s, &pml4[i])])
					continue;
				s->stats.pte_zaps++;
				zap_entry(s, &pml4[i], 4, entry_la(0, i, 4));
			}
		}
		gpa += n;
		len -= n;
	}
	stub_repair(s);
	time_end(s, PHASE_FLUSH, t0);
}

void shadow_flush_all(struct shadow *s)
{
	uint64_t t0 = time_start(s);

	shadow_flush_point(s);
	for (unsigned i = 0; i < SHADOW_MAX_ROOTS; i++)
		if (s->roots[i].in_use)
			root_reset(s, &s->roots[i]);
	time_end(s, PHASE_FLUSH, t0);
}

void shadow_set_stub_base(struct shadow *s, uint64_t stub_base)
{
	uint64_t old = s->stub_base;

	if (!stub_base_ok(stub_base))
		SHADOW_BUG("stub base %#llx not 2 MiB-aligned and canonical",
			   (unsigned long long)stub_base);
	s->stub_base = stub_base;
	s->kvm_stale = s->kvm_stale_stub = true;
	for (unsigned i = 0; i < SHADOW_MAX_ROOTS; i++) {
		struct shadow_root *r = &s->roots[i];

		if (!r->in_use)
			continue;
		remove_stub(s, r, old);
		/* No eviction here: any root may be the one loaded. Emptying r is always safe. */
		if (!install_stub(s, r))
			root_reset(s, r);
	}
}

void shadow_flush_point(struct shadow *s)
{
	if (s->kvm_stale_guest)
		s->kvm_stale = true;
}

void shadow_kvm_flushed(struct shadow *s)
{
	s->kvm_stale = false;
	s->kvm_stale_guest = false;
	s->kvm_stale_stub = false;
	zap_log_clear(s);
	while (s->nr_held)
		s->free_pages[s->nr_free++] = s->held_pages[--s->nr_held];
}

int shadow_zap_enable(struct shadow *s, int (*flush_kvm)(void *ctx), void *ctx)
{
	uint64_t slots = s->pool_pages * ENTRIES;

	s->zap_log = calloc(STUB_ZAP_MAX, sizeof(*s->zap_log));
	s->zap_logged = calloc((slots + 63) / 64, sizeof(*s->zap_logged));
	s->zap_window = calloc(s->pool_pages, sizeof(*s->zap_window));
	if (!s->zap_log || !s->zap_logged || !s->zap_window)
		return -ENOMEM;
	s->flush_kvm = flush_kvm;
	s->flush_ctx = ctx;
	s->zap_in_stub = true;
	/* What was removed before is not in the log. */
	s->zap_overflow = s->kvm_stale || s->kvm_stale_guest;
	return 0;
}

bool shadow_zap_ready(const struct shadow *s)
{
	return s->zap_in_stub && !s->zap_overflow && !s->kvm_stale_stub;
}

void shadow_zap_export(struct shadow *s, struct stub_zap_log *log, uint64_t *window_ptes)
{
	if (!shadow_zap_ready(s))
		SHADOW_BUG("a zap log exported with removals missing from it");
	for (uint32_t i = 0; i < s->nr_zap_pages; i++)
		window_ptes[i] = page_gpa(s, s->zap_pages[i]) | PTE_P | PTE_W | PTE_NX;
	for (uint32_t i = 0; i < s->nr_zaps; i++) {
		uint32_t slot = s->zap_log[i];

		log->writes[i] = (uint32_t)(s->zap_window[slot / ENTRIES] - 1) * PAGE_SIZE +
				 slot % ENTRIES * 8;
	}
	log->nr_writes = s->nr_zaps;
	log->nr_slots = s->nr_zap_pages;
	s->stats.zap_writes += s->nr_zaps;
}

void shadow_kvm_zapped(struct shadow *s)
{
	s->kvm_stale = false;
	s->kvm_stale_guest = false;
	zap_log_clear(s);
}
