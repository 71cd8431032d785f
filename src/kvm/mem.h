/*
 * mem.h - guest RAM and monitor memory, and the only checked way into them.
 *
 * Guest RAM is one KVM memslot at guest-physical 0. Monitor memory (the stub's pages and
 * shadow tables, docs/architecture.md) is a second slot above every guest-visible range,
 * never described to the guest. No other file computes `ram + gpa` itself: GPA_PTR is
 * for addresses the VMM chose (a bad one is a lodger bug and aborts with file:line);
 * gpa_ptr_guest is for addresses the guest chose (NULL when out of range, and the caller
 * turns that into something the guest sees).
 */
#ifndef LODGER_MEM_H
#define LODGER_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mem_range {
	uint64_t start;
	uint64_t size;
};

struct guest_mem {
	uint8_t *ram;	      /* host mapping of guest RAM */
	uint64_t ram_size;    /* bytes at guest-physical 0 */
	uint8_t *monitor;     /* host mapping of monitor memory, NULL when absent */
	uint64_t monitor_gpa; /* where KVM sees it */
	uint64_t monitor_size;
	unsigned phys_bits; /* the guest's MAXPHYADDR (CPUID 0x80000008); 0: not checked */
};

/* Maps `size` bytes of zeroed host memory for each region; -errno on failure. */
int mem_alloc_ram(struct guest_mem *mem, uint64_t size);
int mem_alloc_monitor(struct guest_mem *mem, uint64_t gpa, uint64_t size);
void mem_free(struct guest_mem *mem);

/* [start, start + size) lies inside [0, limit) without wrapping. */
bool range_within(uint64_t start, uint64_t size, uint64_t limit);
bool ranges_overlap(uint64_t a, uint64_t a_size, uint64_t b, uint64_t b_size);

/* True when [gpa, gpa + len) is guest RAM. */
bool gpa_ok(const struct guest_mem *mem, uint64_t gpa, uint64_t len);

/* Host pointer for a guest-chosen range, or NULL if it is not all RAM. */
void *gpa_ptr_guest(const struct guest_mem *mem, uint64_t gpa, uint64_t len);

void *gpa_ptr_checked(const struct guest_mem *mem, uint64_t gpa, uint64_t len, const char *file,
		      int line);
void *mon_ptr_checked(const struct guest_mem *mem, uint64_t off, uint64_t len, const char *file,
		      int line);
#define GPA_PTR(mem, gpa, len) gpa_ptr_checked(mem, gpa, len, __FILE__, __LINE__)
#define MON_PTR(mem, off, len) mon_ptr_checked(mem, off, len, __FILE__, __LINE__)

#endif
