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
	return MON_PTR(s->mem, gpa - s->mem->monitor_gpa, PAGE_SIZE);
}

/* A zeroed table page, or 0 when the pool is empty. */
static uint64_t alloc_page(struct shadow *s)
{
	uint32_t index;
	uint64_t gpa;

	if (!s->nr_free)
		return 0;
	index = s->free_pages[--s->nr_free];
	s->page_busy[index] = true;
	gpa = pool_gpa(s) + (uint64_t)index * PAGE_SIZE;
	memset(table(s, gpa), 0, PAGE_SIZE);
	return gpa;
}

static void free_page(struct shadow *s, uint64_t gpa)
{
	uint64_t index;

	table(s, gpa); /* checks it is a pool page */
	index = (gpa - pool_gpa(s)) / PAGE_SIZE;
	/* A page freed twice would end up in two tables: one root's entries in another. */
	if (!s->page_busy[index])
		SHADOW_BUG("shadow table %#llx freed twice", (unsigned long long)gpa);
	s->page_busy[index] = false;
	s->free_pages[s->nr_free++] = (uint32_t)index;
	s->kvm_stale = true;
}

/* Tables */

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
	}
}

/*
 * The entry for `la` in the level-`level` table (4: PML4E .. 1: PTE) of the root at
 * `pml4`, allocating the tables missing above it when `alloc`. NULL when a table is
 * missing (or the pool is empty), and below the stub's PDE, which is never descended.
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
			if (!alloc || !(page = alloc_page(s)))
				return NULL;
			*e = page | TABLE_FLAGS;
		}
		t = *e & PTE_ADDR_MASK;
	}
}

/*
 * Every leaf written goes through here. Isolation (docs/shadow-mode.md): no guest mapping
 * may reach monitor memory.
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

#define SET_LEAF(s, pte, e)                                                                        \
	do {                                                                                       \
		check_leaf(s, e, __FILE__, __LINE__);                                              \
		*(pte) = (e);                                                                      \
	} while (0)

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
		free_page(s, *pde & PTE_ADDR_MASK);
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
 * Empties a root down to its stub mapping, as a TLB flush would. Cannot fail: the root
 * held the stub's PDPT and PD, which freeing everything gives back.
 */
static void root_reset(struct shadow *s, struct shadow_root *r)
{
	free_children(s, r->pml4_gpa, 4);
	s->stats.root_flushes++;
	if (!install_stub(s, r))
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
	slot->pml4_gpa = alloc_page(s);
	slot->guest_cr3 = cr3;
	slot->user = user;
	slot->in_use = true;
	if (!install_stub(s, slot))
		SHADOW_BUG("no page for a new root's stub mapping");
	return slot;
}

/* Public: setup */

int shadow_init(struct shadow *s, struct guest_mem *mem, uint64_t pool_off, uint64_t pool_pages,
		uint64_t stub_base, uint64_t stub_pt_gpa, uint64_t open_bus_gpa)
{
	memset(s, 0, sizeof(*s));
	s->mem = mem;
	s->pool_off = pool_off;
	s->pool_pages = pool_pages;
	s->stub_base = stub_base;
	s->stub_pt_gpa = stub_pt_gpa;
	s->open_bus_gpa = open_bus_gpa;
	if (!mem->monitor || (mem->monitor_gpa & (PAGE_SIZE - 1)) || (pool_off & (PAGE_SIZE - 1)) ||
	    !pool_pages || pool_pages > UINT32_MAX ||
	    !range_within(pool_off, pool_pages * PAGE_SIZE, mem->monitor_size) ||
	    !stub_base_ok(stub_base) || (stub_pt_gpa & (PAGE_SIZE - 1)) ||
	    in_pool(s, stub_pt_gpa) || (open_bus_gpa & (PAGE_SIZE - 1)) ||
	    ranges_overlap(open_bus_gpa, mem->monitor_size, 0, mem->ram_size) ||
	    ranges_overlap(open_bus_gpa, mem->monitor_size, mem->monitor_gpa, mem->monitor_size))
		return -EINVAL;
	s->free_pages = calloc(pool_pages, sizeof(*s->free_pages));
	s->page_busy = calloc(pool_pages, sizeof(*s->page_busy));
	if (!s->free_pages || !s->page_busy) {
		shadow_destroy(s);
		return -ENOMEM;
	}
	/* Top of the stack is page 0: the pool fills from its start. */
	for (uint64_t i = 0; i < pool_pages; i++)
		s->free_pages[i] = (uint32_t)(pool_pages - 1 - i);
	s->nr_free = (uint32_t)pool_pages;
	return 0;
}

void shadow_destroy(struct shadow *s)
{
	free(s->free_pages);
	free(s->page_busy);
	memset(s, 0, sizeof(*s));
}

uint64_t shadow_root(struct shadow *s, uint64_t guest_cr3, bool user, bool flush)
{
	uint64_t cr3 = guest_cr3 & PTE_ADDR_MASK;
	struct shadow_root *r = root_find(s, cr3, user);

	s->stats.root_switches++;
	if (r && flush)
		root_reset(s, r);
	else if (!r && !(r = root_new(s, cr3, user)))
		return 0;
	root_touch(s, r);
	return r->pml4_gpa;
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
 * leaf entry after its A/D update.
 */
static uint64_t shadow_leaf(const struct shadow *s, const struct walk *w, uint64_t guest_leaf,
			    bool user_root, const struct shadow_guest_mode *mode)
{
	uint64_t frame = w->gpa & PTE_ADDR_MASK;
	uint64_t pat = w->level == 1 ? SPTE_PAT : GUEST_PAT_LARGE;
	uint64_t e = PTE_P | PTE_U | (guest_leaf & (SPTE_PWT | SPTE_PCD));
	/* Read-only until the guest's D is set, so its first write comes here to set it. */
	bool writable = (w->writable || (!user_root && !mode->wp)) && (guest_leaf & PTE_D);

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

/*
 * The PTE slot for `la` in root r, building its path. When the pool is dry: other CR3s'
 * roots go first, then r's sibling is emptied, then r itself (the TLB may drop anything).
 */
static uint64_t *leaf_slot(struct shadow *s, struct shadow_root *r, uint64_t la)
{
	bool sibling_done = false, self_done = false;

	for (;;) {
		uint64_t *pte = shadow_entry(s, r->pml4_gpa, la, 1, true);

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

enum shadow_fill_result shadow_fill(struct shadow *s, uint64_t guest_cr3, bool user_root,
				    uint64_t la, uint32_t access,
				    const struct shadow_guest_mode *mode, uint32_t *pfec)
{
	uint64_t cr3 = guest_cr3 & PTE_ADDR_MASK;
	struct shadow_root *r;
	const uint64_t *guest_leaf;
	uint64_t *pte, leaf;
	enum walk_status st;
	struct walk w;

	*pfec = 0;
	if (!canonical(la))
		return SHADOW_NONCANONICAL;
	if (in_stub(s, la))
		return SHADOW_STUB_CONFLICT;
	st = pagewalk(s->mem, cr3, la, &w);
	if (guest_denies(st, &w, user_root, access, mode, s->smep, pfec)) {
		s->stats.guest_faults++;
		return SHADOW_GUEST_FAULT;
	}
	pagewalk_set_ad(s->mem, &w, access & PFEC_W);
	if ((access & PFEC_W) && (w.gpa & PTE_ADDR_MASK) == APIC_MMIO_GPA)
		return SHADOW_APIC_WRITE;
	/* The caller loaded this root; should it be gone, make it again rather than fail. */
	r = root_find(s, cr3, user_root);
	if (!r && !(r = root_new(s, cr3, user_root)))
		return SHADOW_NO_MEMORY;
	root_touch(s, r);
	pte = leaf_slot(s, r, la);
	if (!pte)
		return SHADOW_NO_MEMORY;
	/* The walk read this entry from RAM just now. */
	guest_leaf = gpa_ptr_guest(s->mem, w.entry_gpa[0], 8);
	leaf = shadow_leaf(s, &w, guest_leaf ? __atomic_load_n(guest_leaf, __ATOMIC_RELAXED) : 0,
			   user_root, mode);
	/* The entry was already just this: the CPU faulted on a mapping it has (shadow.h). */
	s->refilled_same = *pte == leaf;
	SET_LEAF(s, pte, leaf);
	if (w.level > 1)
		*shadow_entry(s, r->pml4_gpa, la, (int)w.level, false) |= SPTE_FROM_LARGE;
	s->stats.fills++;
	return SHADOW_FILLED;
}

/* Public: invalidation */

/*
 * Drops what a guest TLB entry for `la` could hold: la's own 4 KiB entry, or, when the
 * shadow there came from a guest large page (one TLB entry for all of it), every entry
 * in that 2 MiB or 1 GiB region. Entries of neighbouring 4 KiB pages stay: a TLB may keep
 * them too, and each would cost a shadow miss (a trap) to refill.
 */
static void drop_la(struct shadow *s, struct shadow_root *r, uint64_t la)
{
	uint64_t *pdpte = shadow_entry(s, r->pml4_gpa, la, 3, false), *pde, *pt;

	if (!pdpte || !(*pdpte & PTE_P))
		return;
	if (*pdpte & SPTE_FROM_LARGE) {
		free_children(s, *pdpte & PTE_ADDR_MASK, 2);
		*pdpte &= ~SPTE_FROM_LARGE;
		return;
	}
	pde = shadow_entry(s, r->pml4_gpa, la, 2, false);
	if (!(*pde & PTE_P) || is_stub_pde(s, *pde))
		return;
	pt = table(s, *pde & PTE_ADDR_MASK);
	s->kvm_stale = true;
	if (*pde & SPTE_FROM_LARGE) {
		memset(pt, 0, PAGE_SIZE);
		*pde &= ~SPTE_FROM_LARGE;
	} else {
		pt[table_index(la, 1)] = 0;
	}
}

void shadow_invlpg(struct shadow *s, uint64_t guest_cr3, uint64_t la)
{
	uint64_t cr3 = guest_cr3 & PTE_ADDR_MASK;

	s->stats.invlpgs++;
	if (!canonical(la)) /* invlpg of a non-canonical address is a no-op */
		return;
	for (int user = 0; user < 2; user++) {
		struct shadow_root *r = root_find(s, cr3, user);

		if (r)
			drop_la(s, r, la);
	}
}

void shadow_flush_all(struct shadow *s)
{
	for (unsigned i = 0; i < SHADOW_MAX_ROOTS; i++)
		if (s->roots[i].in_use)
			root_reset(s, &s->roots[i]);
}

void shadow_set_stub_base(struct shadow *s, uint64_t stub_base)
{
	uint64_t old = s->stub_base;

	if (!stub_base_ok(stub_base))
		SHADOW_BUG("stub base %#llx not 2 MiB-aligned and canonical",
			   (unsigned long long)stub_base);
	s->stub_base = stub_base;
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
