/* pagewalk.c - the guest page-table walker (4-level paging, IA-32e). */
#include "shadow/pagewalk.h"

#include <string.h>

#include "arch/x86.h"

enum walk_status pagewalk(const struct guest_mem *mem, uint64_t cr3, uint64_t la, struct walk *w)
{
	uint64_t table = cr3 & PTE_ADDR_MASK;

	memset(w, 0, sizeof(*w));
	w->writable = w->user = w->executable = true;
	if (!canonical(la))
		return WALK_NONCANONICAL;
	for (int level = 4; level >= 1; level--) {
		unsigned index = (la >> (12 + 9 * (level - 1))) & 511;
		uint64_t entry_gpa = table + index * 8;
		const uint64_t *entry = gpa_ptr_guest(mem, entry_gpa, 8);
		uint64_t e;

		if (!entry)
			return WALK_TABLE_OUTSIDE;
		e = __atomic_load_n(entry, __ATOMIC_RELAXED);
		/* Leaf first in entry_gpa: shift the earlier ones up as we descend. */
		memmove(&w->entry_gpa[1], &w->entry_gpa[0], sizeof(uint64_t) * w->entries);
		w->entry_gpa[0] = entry_gpa;
		w->entries++;
		if (!(e & PTE_P))
			return WALK_NOT_PRESENT;
		w->writable &= !!(e & PTE_W);
		w->user &= !!(e & PTE_U);
		w->executable &= !(e & PTE_NX);
		if (level == 4 && (e & PTE_PS))
			return WALK_RESERVED;
		/* Address bits at or above MAXPHYADDR are reserved: the CPU faults on them. */
		if (mem->phys_bits && mem->phys_bits < 52 && (e & PTE_ADDR_MASK) >> mem->phys_bits)
			return WALK_RESERVED;
		/* A large page's address starts at bit 21 (2 MiB) or 30 (1 GiB): the bits
		 * between PAT (bit 12) and there are reserved. */
		if (level == 3 && (e & PTE_PS) && (e & 0x3fffe000ULL))
			return WALK_RESERVED;
		if (level == 2 && (e & PTE_PS) && (e & 0x1fe000ULL))
			return WALK_RESERVED;
		if ((level <= 3 && (e & PTE_PS)) || level == 1) {
			uint64_t page_mask = (1ULL << (12 + 9 * (level - 1))) - 1;

			w->level = level;
			w->gpa = (e & PTE_ADDR_MASK & ~page_mask) | (la & page_mask);
			return WALK_OK;
		}
		table = e & PTE_ADDR_MASK;
	}
	return WALK_NOT_PRESENT; /* not reached */
}

void pagewalk_set_ad(struct guest_mem *mem, const struct walk *w, bool write)
{
	for (unsigned i = 0; i < w->entries; i++) {
		uint64_t *entry = gpa_ptr_guest(mem, w->entry_gpa[i], 8);
		uint64_t bits = PTE_A | (write && i == 0 ? PTE_D : 0);

		if (entry)
			__atomic_fetch_or(entry, bits, __ATOMIC_RELAXED);
	}
}

bool read_linear(const struct guest_mem *mem, uint64_t cr3, uint64_t la, void *dst, unsigned len)
{
	uint8_t *out = dst;

	while (len) {
		struct walk w;
		unsigned chunk = 0x1000 - (la & 0xfff);
		const void *src;

		if (chunk > len)
			chunk = len;
		if (pagewalk(mem, cr3, la, &w) != WALK_OK)
			return false;
		src = gpa_ptr_guest(mem, w.gpa, chunk);
		if (!src)
			return false;
		memcpy(out, src, chunk);
		out += chunk;
		la += chunk;
		len -= chunk;
	}
	return true;
}
