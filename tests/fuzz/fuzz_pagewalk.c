/*
 * fuzz_pagewalk.c - the guest page-table walker (src/shadow/pagewalk.c), guest linear
 * memory access (gmem.c) and the shadow tables built from the walks (shadow.c), on
 * random guest page tables.
 *
 * Input: settings, then entry writes into 32 pages of guest RAM (each entry either points
 * at a RAM page, a large-page frame, a monitor-memory frame, or is 64 raw bits, with
 * random flags), then up to 16 linear addresses to walk, read, write and shadow.
 *
 * Checked besides crashes and host accesses outside the two guarded memories:
 *  - a walk names only entries inside RAM, and a successful one keeps the page offset;
 *  - gmem_read and read_linear agree, and a supervisor read that read_linear can do
 *    gmem_read does too;
 *  - gmem_write changes nothing in RAM but the bytes written and the A/D bits of the
 *    entries its walks used;
 *  - every shadow entry lodger built: tables from its pool (or the stub's page table),
 *    no leaf inside the stub's region, no leaf frame in monitor memory (the open-bus
 *    window instead), and no more rights than the guest's own tables give.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "shadow/gmem.h"
#include "shadow/pagewalk.h"
#include "shadow/shadow.h"

#define PAGES	   32
#define RAM_SIZE   (PAGES * 0x1000ULL)
#define MON_GPA	   (4ULL << 30)
#define POOL_PAGES 48
#define MON_SIZE   ((1 + POOL_PAGES) * 0x1000ULL) /* the stub's page table, then the pool */
#define OPEN_BUS   (1ULL << 40)
#define STUB_SPAN  (2ULL << 20)
#define MAX_ADDRS  16
#define PTE_PAT_LG (1ULL << 12)

static struct guest_mem mem;
static uint8_t before[RAM_SIZE] __attribute__((aligned(8)));

static const unsigned phys_bits_choice[8] = {0, 36, 39, 40, 46, 48, 52, 0};

static uint64_t sign_extend(uint64_t la)
{
	return (uint64_t)((int64_t)(la << 16) >> 16);
}

/* One guest entry: mostly well-formed, so that walks go deep, sometimes anything. */
static uint64_t entry_value(struct fuzz_input *in)
{
	uint8_t kind = fin_u8(in);
	uint16_t fl = fin_u16(in);
	uint64_t flags = (fl & 0xfff) | (fl & 0x1000 ? PTE_NX : 0) |
			 (fl & 0x2000 ? 1ULL << 51 : 0) | (fl & 0x4000 ? 1ULL << 13 : 0) |
			 (fl & 0x8000 ? 1ULL << 40 : 0);

	switch (kind & 3) {
	case 0:
		return ((uint64_t)(fin_u8(in) % PAGES) << 12) | flags;
	case 1:
		return ((uint64_t)fin_u8(in) << 21) | flags;
	case 2:
		return (MON_GPA + (uint64_t)(fin_u8(in) % (MON_SIZE / 0x1000)) * 0x1000) | flags;
	default:
		return fin_u64(in);
	}
}

static uint64_t address(struct fuzz_input *in)
{
	uint8_t t = fin_u8(in);
	uint64_t la;

	if (t & 0x80)
		return fin_u64(in);
	la = (uint64_t)(fin_u16(in) & 511) << 39 | (uint64_t)(fin_u16(in) & 511) << 30 |
	     (uint64_t)(fin_u16(in) & 511) << 21 | (uint64_t)(fin_u16(in) & 511) << 12 |
	     (fin_u16(in) & 0xfff);
	return sign_extend(la);
}

static void check_walk(uint64_t cr3, uint64_t la, enum walk_status ws, const struct walk *w)
{
	FUZZ_CHECK(ws <= WALK_TABLE_OUTSIDE, "walk status %d", ws);
	FUZZ_CHECK(w->entries <= 4, "%u entries", w->entries);
	for (unsigned i = 0; i < w->entries; i++)
		FUZZ_CHECK(gpa_ok(&mem, w->entry_gpa[i], 8) && !(w->entry_gpa[i] & 7),
			   "entry %u at %#llx", i, (unsigned long long)w->entry_gpa[i]);
	if (ws != WALK_OK)
		return;
	FUZZ_CHECK(w->level >= 1 && w->level <= 3, "level %u", w->level);
	FUZZ_CHECK(w->entries == 5 - w->level, "%u entries for level %u", w->entries, w->level);
	uint64_t mask = (1ULL << (12 + 9 * (w->level - 1))) - 1;

	FUZZ_CHECK((w->gpa & mask) == (la & mask), "cr3 %#llx la %#llx gpa %#llx",
		   (unsigned long long)cr3, (unsigned long long)la, (unsigned long long)w->gpa);
}

/* Reads: gmem_read (with A/D updates) first, then read_linear sees the same bytes. */
static void check_read(const struct gview *v, uint64_t la, unsigned len, bool fetch)
{
	uint8_t a[64], b[64];
	struct gfault f;
	bool ok_g = gmem_read(v, la, a, len, fetch, &f);
	bool ok_l = read_linear(&mem, v->cr3, la, b, len);

	if (!ok_g)
		FUZZ_CHECK(f.vector == 13 || f.vector == 14, "fault vector %u", f.vector);
	if (ok_l && !v->user && !fetch)
		FUZZ_CHECK(ok_g, "supervisor read of %#llx+%u refused (vector %u error %#x)",
			   (unsigned long long)la, len, f.vector, f.error);
	if (ok_l && ok_g)
		FUZZ_CHECK(memcmp(a, b, len) == 0, "gmem_read and read_linear differ at %#llx",
			   (unsigned long long)la);
}

struct piece {
	uint64_t gpa, len;
	bool ok;
	struct walk w;
};

/* Byte b is the low byte of an entry walked, where A (bit 5) and D (bit 6) live. */
static bool entry_low_byte(const struct piece *p, unsigned n, uint64_t b)
{
	for (unsigned i = 0; i < n; i++)
		for (unsigned e = 0; e < p[i].w.entries; e++)
			if (b == p[i].w.entry_gpa[e])
				return true;
	return false;
}

/* A write changes the bytes written and A/D bits of the entries walked, nothing else. */
static void check_write(const struct gview *v, uint64_t la, unsigned len)
{
	struct piece p[3];
	unsigned n = 0;
	uint8_t data[64];
	struct gfault f;
	bool ok;

	for (unsigned i = 0; i < len; i++)
		data[i] = (uint8_t)(0x5a ^ i);
	for (uint64_t a = la, left = len; left && n < 3; n++) {
		uint64_t chunk = 0x1000 - (a & 0xfff);

		if (chunk > left)
			chunk = left;
		p[n].ok = pagewalk(&mem, v->cr3, a, &p[n].w) == WALK_OK;
		p[n].gpa = p[n].w.gpa;
		p[n].len = chunk;
		a += chunk;
		left -= chunk;
	}
	memcpy(before, mem.ram, RAM_SIZE);
	ok = gmem_write(v, la, data, len, &f);
	if (!memcmp(before, mem.ram, RAM_SIZE))
		return;
	for (uint64_t off = 0; off < RAM_SIZE; off += 64) {
		if (!memcmp(before + off, mem.ram + off, 64))
			continue;
		for (uint64_t b = off; b < off + 64; b++) {
			uint8_t diff = before[b] ^ mem.ram[b];
			bool written = false;

			for (unsigned i = 0; ok && i < n; i++)
				written |= p[i].ok && b - p[i].gpa < p[i].len;
			if (!diff || written || (entry_low_byte(p, n, b) && !(diff & ~0x60)))
				continue;
			FUZZ_CHECK(false, "write of %u bytes at %#llx (%s) changed RAM byte %#llx",
				   len, (unsigned long long)la, ok ? "done" : "faulted",
				   (unsigned long long)b);
		}
	}
}

/* Checks one shadow leaf of root r at linear la against the guest's walk. */
static void check_leaf(const struct shadow *s, const struct shadow_root *r, uint64_t la, uint64_t e,
		       const struct shadow_guest_mode *mode)
{
	uint64_t frame = e & PTE_ADDR_MASK, want;
	struct walk w;
	enum walk_status ws = pagewalk(&mem, r->guest_cr3, la, &w);

	FUZZ_CHECK(la - s->stub_base >= STUB_SPAN, "own leaf %#llx in the stub's region %#llx",
		   (unsigned long long)la, (unsigned long long)s->stub_base);
	FUZZ_CHECK(!ranges_overlap(frame, 0x1000, MON_GPA, MON_SIZE),
		   "leaf %#llx for %#llx reaches monitor memory", (unsigned long long)e,
		   (unsigned long long)la);
	FUZZ_CHECK(ws == WALK_OK, "leaf %#llx for %#llx the guest does not map (walk %d)",
		   (unsigned long long)e, (unsigned long long)la, ws);
	want = w.gpa & PTE_ADDR_MASK;
	if (!gpa_ok(&mem, want, 0x1000) && ranges_overlap(want, 0x1000, MON_GPA, MON_SIZE))
		want = OPEN_BUS + (want - MON_GPA);
	FUZZ_CHECK(frame == want, "leaf %#llx for %#llx, guest frame %#llx", (unsigned long long)e,
		   (unsigned long long)la, (unsigned long long)w.gpa);
	FUZZ_CHECK(!r->user || w.user, "user root maps supervisor page %#llx",
		   (unsigned long long)la);
	if (e & PTE_W) {
		uint64_t leaf;

		memcpy(&leaf, mem.ram + w.entry_gpa[0], 8);
		FUZZ_CHECK(w.writable || (!r->user && !mode->wp), "writable shadow of R/O %#llx",
			   (unsigned long long)la);
		FUZZ_CHECK(leaf & PTE_D, "writable shadow of %#llx before its D bit",
			   (unsigned long long)la);
	}
	FUZZ_CHECK(!mode->nxe || w.executable || (e & PTE_NX), "executable shadow of NX %#llx",
		   (unsigned long long)la);
}

static const uint64_t *mon_table(const struct shadow *s, uint64_t gpa)
{
	FUZZ_CHECK(gpa >= MON_GPA + 0x1000 && gpa < MON_GPA + MON_SIZE && !(gpa & 0xfff),
		   "shadow table %#llx outside the pool", (unsigned long long)gpa);
	(void)s;
	return (const uint64_t *)(mem.monitor + (gpa - MON_GPA));
}

static void check_table(const struct shadow *s, const struct shadow_root *r, uint64_t gpa,
			int level, uint64_t la, const struct shadow_guest_mode *mode)
{
	const uint64_t *t = mon_table(s, gpa);

	for (unsigned i = 0; i < 512; i++) {
		uint64_t e = t[i];
		uint64_t sub = sign_extend(la | (uint64_t)i << (12 + 9 * (level - 1)));

		if (!(e & PTE_P))
			continue;
		if (level == 1) {
			check_leaf(s, r, sub, e, mode);
			continue;
		}
		FUZZ_CHECK(!(e & PTE_PS), "large shadow entry %#llx", (unsigned long long)e);
		if (level == 2 && (e & PTE_ADDR_MASK) == MON_GPA) {
			FUZZ_CHECK(sub == s->stub_base, "stub page table at %#llx, stub at %#llx",
				   (unsigned long long)sub, (unsigned long long)s->stub_base);
			continue;
		}
		check_table(s, r, e & PTE_ADDR_MASK, level - 1, sub, mode);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_input in = {data, size};
	struct shadow sh;
	struct shadow_guest_mode mode;
	uint64_t la[MAX_ADDRS], cr3[2], stub_base;
	uint8_t acc[MAX_ADDRS], len[MAX_ADDRS];
	uint8_t flags;
	unsigned nwrites, naddr;

	if (!mem.ram) {
		mem.ram = fuzz_map_guarded(RAM_SIZE);
		mem.ram_size = RAM_SIZE;
		mem.monitor = fuzz_map_guarded(MON_SIZE);
		mem.monitor_gpa = MON_GPA;
		mem.monitor_size = MON_SIZE;
	}
	memset(mem.ram, 0, RAM_SIZE);
	memset(mem.monitor, 0, 0x1000); /* the stub's page table; pool pages are zeroed as taken */

	flags = fin_u8(&in);
	mem.phys_bits = phys_bits_choice[flags & 7];
	mode = (struct shadow_guest_mode){.wp = flags & 8, .nxe = flags & 16};
	for (int i = 0; i < 2; i++) {
		uint8_t c = fin_u8(&in);

		cr3[i] = c & 0x80 ? fin_u64(&in) : (uint64_t)(c % PAGES) << 12;
	}
	stub_base = (uint64_t)(fin_u32(&in) & 0x7ffffff) << 21;
	stub_base = sign_extend(stub_base);

	nwrites = fin_u8(&in) % 96;
	for (unsigned i = 0; i < nwrites; i++) {
		unsigned page = fin_u8(&in) % PAGES, index = fin_u16(&in) % 512;
		uint64_t v = entry_value(&in);

		memcpy(mem.ram + page * 0x1000ULL + index * 8, &v, 8);
	}
	naddr = fin_u8(&in) % MAX_ADDRS + 1;
	for (unsigned i = 0; i < naddr; i++) {
		la[i] = address(&in);
		len[i] = fin_u8(&in) % 64 + 1;
		acc[i] = fin_u8(&in);
	}

	/* Walks and reads, then one write. */
	for (unsigned i = 0; i < naddr; i++) {
		uint64_t c = cr3[(acc[i] >> 4) & 1];
		struct gview v = {.mem = &mem,
				  .cr3 = c,
				  .user = acc[i] & 4,
				  .wp = mode.wp,
				  .nxe = mode.nxe,
				  .monitor_lo = MON_GPA,
				  .monitor_hi = MON_GPA + MON_SIZE};
		struct walk w;
		enum walk_status ws = pagewalk(&mem, c, la[i], &w);

		check_walk(c, la[i], ws, &w);
		if (ws == WALK_OK)
			pagewalk_set_ad(&mem, &w, acc[i] & 1);
		check_read(&v, la[i], len[i], acc[i] & 2);
		if (i == 0)
			check_write(&v, la[i], len[i]);
	}

	/* Shadow fills for the same addresses, then every entry of every root. */
	if (shadow_init(&sh, &mem, 0x1000, POOL_PAGES, stub_base, MON_GPA, OPEN_BUS) < 0)
		abort();
	for (unsigned i = 0; i < naddr; i++) {
		uint32_t access = (acc[i] & 1 ? PFEC_W : 0) | (acc[i] & 2 ? PFEC_I : 0) |
				  (acc[i] & 4 ? PFEC_U : 0);
		uint32_t pfec;
		enum shadow_fill_result r;
		bool user_root = acc[i] & 8;
		uint64_t c = cr3[(acc[i] >> 4) & 1];

		if (acc[i] & 0x40)
			shadow_invlpg(&sh, c, la[(i + 1) % naddr]);
		if (acc[i] & 0x20) /* a CR3 load, with or without a flush; 0 when the pool is dry */
			shadow_root(&sh, c, user_root, acc[i] & 0x80);
		r = shadow_fill(&sh, c, user_root, la[i], access, &mode, &pfec);
		FUZZ_CHECK(r <= SHADOW_APIC_WRITE, "fill result %d", r);
		if (r == SHADOW_GUEST_FAULT)
			FUZZ_CHECK((pfec & ~0x1fu) == 0 && (pfec & PFEC_U) == (access & PFEC_U),
				   "pfec %#x for access %#x", pfec, access);
	}
	for (unsigned i = 0; i < SHADOW_MAX_ROOTS; i++)
		if (sh.roots[i].in_use)
			check_table(&sh, &sh.roots[i], sh.roots[i].pml4_gpa, 4, 0, &mode);
	shadow_destroy(&sh);
	return 0;
}
