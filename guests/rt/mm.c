/*
 * mm.c - physical pages (a bump allocator) and 4-level page tables.
 *
 * Free RAM is what lies between the end of the image (_end) and the first range the
 * device tree reserves (lodger's boot page tables, GDT, TSS and the tree itself) or the
 * end of /memory. Pages are never freed: a test guest lives for a few seconds.
 * All RAM stays identity-mapped in every address space the runtime builds, so a table's
 * physical address is also a pointer to it.
 */
#include "rt.h"

extern char _end[];

uint64_t *rt_kernel_root;
static uint64_t next_free, free_end;

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static void exclude(uint64_t *start, uint64_t *end, uint64_t addr, uint64_t size)
{
	if (addr + size <= *start || addr >= *end)
		return;
	if (addr <= *start)
		*start = align_up(addr + size, PAGE_SIZE);
	else
		*end = addr;
}

void rt_mem_init(void)
{
	uint64_t start = align_up((uint64_t)_end, PAGE_SIZE), end = rt_boot.ram_size;
	uint64_t addr, size;
	int n = rt_boot.fdt ? rt_fdt_num_mem_rsv(rt_boot.fdt) : 0;

	for (int i = 0; i < n; i++)
		if (rt_fdt_get_mem_rsv(rt_boot.fdt, i, &addr, &size))
			exclude(&start, &end, addr, size);
	/* The tree must be reserved too; do not trust that it is. (PVH boots have none.) */
	if (rt_boot.fdt)
		exclude(&start, &end, (uint64_t)rt_boot.fdt, rt_fdt_totalsize(rt_boot.fdt));
	next_free = start;
	free_end = end & ~(PAGE_SIZE - 1);
}

void *rt_alloc_page(void)
{
	uint64_t p = next_free, n = PAGE_SIZE / 8;
	void *d = (void *)p;

	if (p + PAGE_SIZE > free_end)
		rt_fail("out of free RAM (next page 0x%lx, end 0x%lx)", p, free_end);
	next_free += PAGE_SIZE;
	__asm__ volatile("rep stosq" : "+D"(d), "+c"(n) : "a"(0ULL) : "memory");
	return (void *)p;
}

void *rt_alloc_pages(uint64_t n, uint64_t align)
{
	uint64_t p = align_up(next_free, align);

	if (p + n * PAGE_SIZE > free_end || p + n * PAGE_SIZE < p)
		rt_fail("out of free RAM (%lu pages aligned to 0x%lx)", n, align);
	next_free = p + n * PAGE_SIZE;
	return (void *)p;
}

/* ---- page tables ------------------------------------------------------------------------ */

#define NONLEAF (PTE_P | PTE_W | PTE_U) /* intermediate entries allow all: the leaf decides */

static unsigned pt_index(uint64_t va, int level)
{
	return (unsigned)(va >> (12 + 9 * (level - 1))) & 511;
}

static uint64_t level_size(int level)
{
	return 1ULL << (12 + 9 * (level - 1));
}

enum walk_mode { WALK_LOOKUP, WALK_SPLIT, WALK_CREATE };

/*
 * The table an entry at `level` points to. WALK_SPLIT breaks a large page into 512
 * smaller ones with the same translation and permissions; WALK_CREATE also allocates an
 * absent table.
 */
static uint64_t *next_table(uint64_t *e, int level, enum walk_mode mode)
{
	uint64_t *t;

	if (!(*e & PTE_P)) {
		if (mode != WALK_CREATE)
			return NULL;
		t = rt_alloc_page();
		*e = (uint64_t)t | NONLEAF;
		return t;
	}
	if (*e & PTE_PS) {
		uint64_t base = *e & PTE_ADDR & ~(level_size(level) - 1);
		uint64_t flags = *e & ~PTE_ADDR;

		if (mode == WALK_LOOKUP)
			return NULL;
		if (level == 2)
			flags &= ~PTE_PS; /* 4 KiB pages have no PS bit (it is PAT there) */
		t = rt_alloc_page();
		for (unsigned i = 0; i < 512; i++)
			t[i] = (base + i * level_size(level - 1)) | flags;
		*e = (uint64_t)t | NONLEAF;
		return t;
	}
	return (uint64_t *)(*e & PTE_ADDR);
}

uint64_t *pt_entry(uint64_t *root, uint64_t va, int level)
{
	uint64_t *t = root;

	for (int l = 4; l > level; l--) {
		t = next_table(&t[pt_index(va, l)], l, WALK_LOOKUP);
		if (!t)
			return NULL;
	}
	return &t[pt_index(va, level)];
}

uint64_t *pt_walk(uint64_t *root, uint64_t va, int *level)
{
	uint64_t *t = root;

	for (int l = 4; l >= 1; l--) {
		uint64_t *e = &t[pt_index(va, l)];
		if (!(*e & PTE_P))
			return NULL;
		if (l == 1 || (*e & PTE_PS)) {
			if (level)
				*level = l;
			return e;
		}
		t = (uint64_t *)(*e & PTE_ADDR);
	}
	return NULL;
}

static uint64_t *leaf_table(uint64_t *root, uint64_t va, int leaf_level, enum walk_mode mode)
{
	uint64_t *t = root;

	for (int l = 4; l > leaf_level && t; l--)
		t = next_table(&t[pt_index(va, l)], l, mode);
	return t;
}

void pt_map(uint64_t *root, uint64_t va, uint64_t pa, uint64_t flags)
{
	uint64_t *t = leaf_table(root, va, 1, WALK_CREATE);

	t[pt_index(va, 1)] = (pa & PTE_ADDR) | flags | PTE_P;
}

uint64_t pt_unmap(uint64_t *root, uint64_t va)
{
	uint64_t *t = leaf_table(root, va, 1, WALK_SPLIT), old;

	if (!t)
		return 0;
	old = t[pt_index(va, 1)];
	t[pt_index(va, 1)] = 0;
	return old;
}

static void map_2m(uint64_t *root, uint64_t va, uint64_t pa, uint64_t flags)
{
	uint64_t *t = leaf_table(root, va, 2, WALK_CREATE);

	t[pt_index(va, 2)] = (pa & PTE_ADDR) | flags | PTE_P | PTE_PS;
}

void pt_map_large(uint64_t *root, uint64_t va, uint64_t pa, uint64_t flags)
{
	uint64_t *t = leaf_table(root, va, 2, WALK_CREATE);
	uint64_t *e = &t[pt_index(va, 2)];

	if ((*e & PTE_P) && !(*e & PTE_PS))
		rt_fail("pt_map_large: 0x%lx is mapped by a page table", va);
	map_2m(root, va, pa, flags);
}

uint64_t *pt_new_kernel_space(void)
{
	uint64_t *root = rt_alloc_page();
	const uint64_t big = level_size(2);

	for (uint64_t pa = 0; pa < rt_boot.ram_size; pa += big)
		map_2m(root, pa, pa, PTE_W);
	/* The interrupt controllers' registers: uncached, as for any MMIO. */
	map_2m(root, LODGER_IOAPIC_BASE & ~(big - 1), LODGER_IOAPIC_BASE & ~(big - 1),
	       PTE_W | PTE_PCD | PTE_PWT);
	map_2m(root, LODGER_LAPIC_BASE & ~(big - 1), LODGER_LAPIC_BASE & ~(big - 1),
	       PTE_W | PTE_PCD | PTE_PWT);
	/* virtio-mmio devices */
	map_2m(root, LODGER_VIRTIO_MMIO_BASE & ~(big - 1), LODGER_VIRTIO_MMIO_BASE & ~(big - 1),
	       PTE_W | PTE_PCD | PTE_PWT);
	return root;
}

void rt_paging_init(void)
{
	rt_kernel_root = pt_new_kernel_space();
	write_cr3((uint64_t)rt_kernel_root);
}

void rt_map_user_pages(uint64_t *root)
{
	for (uint64_t p = (uint64_t)__user_start; p < (uint64_t)__user_end; p += PAGE_SIZE) {
		bool text = p < (uint64_t)__user_text_end;
		pt_map(root, p, p, PTE_U | (text ? 0 : PTE_W | PTE_NX));
		invlpg(p);
	}
}
