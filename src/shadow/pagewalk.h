/*
 * pagewalk.h - walking the guest's own 4-level page tables (guest memory is untrusted).
 *
 * Used to read what the guest sees at a linear address (the instruction KVM could not
 * emulate, an operand) and, later, by the shadow-table builder. Every table frame is
 * checked to lie in guest RAM; a frame that does not ends the walk as a fault.
 */
#ifndef LODGER_PAGEWALK_H
#define LODGER_PAGEWALK_H

#include <stdbool.h>
#include <stdint.h>

#include "kvm/mem.h"

#define PTE_P	      (1ULL << 0)
#define PTE_W	      (1ULL << 1)
#define PTE_U	      (1ULL << 2)
#define PTE_A	      (1ULL << 5)
#define PTE_D	      (1ULL << 6)
#define PTE_PS	      (1ULL << 7)
#define PTE_NX	      (1ULL << 63)
#define PTE_ADDR_MASK 0x000ffffffffff000ULL

/* #PF error code bits. */
#define PFEC_P	  (1u << 0)
#define PFEC_W	  (1u << 1)
#define PFEC_U	  (1u << 2)
#define PFEC_RSVD (1u << 3)
#define PFEC_I	  (1u << 4)

enum walk_status {
	WALK_OK,
	WALK_NONCANONICAL,  /* a #GP, not a #PF */
	WALK_NOT_PRESENT,   /* #PF with P = 0 */
	WALK_RESERVED,	    /* a reserved bit (PS in a PML4E, ...), #PF with RSVD */
	WALK_TABLE_OUTSIDE, /* a table frame outside RAM: the guest's walk reads open bus */
};

struct walk {
	uint64_t gpa;			 /* translation of the address walked */
	unsigned level;			 /* 1: 4 KiB page, 2: 2 MiB, 3: 1 GiB */
	bool writable, user, executable; /* combined over every level */
	uint64_t entry_gpa[4];		 /* entries used, leaf first; [level-1 .. 3] valid */
	unsigned entries;		 /* how many of entry_gpa are valid */
};

enum walk_status pagewalk(const struct guest_mem *mem, uint64_t cr3, uint64_t la, struct walk *w);

/* Sets Accessed (and Dirty, for a write) in the entries of a successful walk. */
void pagewalk_set_ad(struct guest_mem *mem, const struct walk *w, bool write);

/* Copies `len` bytes at linear `la` out of guest memory; false if any page is not mapped. */
bool read_linear(const struct guest_mem *mem, uint64_t cr3, uint64_t la, void *dst, unsigned len);

#endif
