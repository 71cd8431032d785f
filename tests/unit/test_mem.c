/*
 * test_mem.c - range arithmetic and the checked ways into guest RAM (src/kvm/mem.c).
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>

#include "kvm/mem.h"

#define RAM_SIZE 0x10000ULL

static uint8_t ram_buf[RAM_SIZE];
static struct guest_mem mem = {.ram = ram_buf, .ram_size = RAM_SIZE};

/* range_within */

Test(range_within, accepts_a_range_inside_the_limit)
{
	cr_assert(range_within(0x10, 0x20, 0x100), "expected [0x10, +0x20) inside 0x100");
}

Test(range_within, accepts_a_range_ending_exactly_at_the_limit)
{
	cr_assert(range_within(0xf0, 0x10, 0x100), "expected [0xf0, 0x100) inside 0x100");
}

Test(range_within, refuses_a_range_ending_one_past_the_limit)
{
	cr_assert_not(range_within(0xf0, 0x11, 0x100), "expected [0xf0, 0x101) outside 0x100");
}

Test(range_within, refuses_a_range_starting_past_the_limit)
{
	cr_assert_not(range_within(0x101, 0, 0x100), "expected an empty range at 0x101 outside");
}

Test(range_within, accepts_a_zero_size_range_at_the_limit)
{
	cr_assert(range_within(0x100, 0, 0x100), "expected an empty range at the limit inside");
}

Test(range_within, refuses_a_range_that_wraps_past_two_to_the_64)
{
	cr_assert_not(range_within(UINT64_MAX - 0xf, 0x20, UINT64_MAX),
		      "expected a range wrapping 2^64 to be refused");
	cr_assert_not(range_within(2, UINT64_MAX, UINT64_MAX),
		      "expected start 2 + size 2^64-1 (wraps to 1) to be refused");
}

Test(range_within, accepts_the_whole_space_below_a_limit_of_uint64_max)
{
	cr_assert(range_within(0, UINT64_MAX, UINT64_MAX),
		  "expected [0, 2^64-1) inside a limit of 2^64-1");
}

/* ranges_overlap */

Test(ranges_overlap, adjacent_ranges_do_not_overlap)
{
	cr_assert_not(ranges_overlap(0x1000, 0x1000, 0x2000, 0x1000),
		      "expected [0x1000,0x2000) and [0x2000,0x3000) not to overlap");
	cr_assert_not(ranges_overlap(0x2000, 0x1000, 0x1000, 0x1000),
		      "expected the same answer with the arguments swapped");
}

Test(ranges_overlap, ranges_sharing_one_byte_overlap)
{
	cr_assert(ranges_overlap(0x1000, 0x1001, 0x2000, 0x1000),
		  "expected [0x1000,0x2001) and [0x2000,0x3000) to overlap");
	cr_assert(ranges_overlap(0x2000, 0x1000, 0x1000, 0x1001),
		  "expected the same answer with the arguments swapped");
}

Test(ranges_overlap, a_contained_range_overlaps)
{
	cr_assert(ranges_overlap(0x1000, 0x10000, 0x2000, 0x10),
		  "expected a range inside another to overlap it");
	cr_assert(ranges_overlap(0x2000, 0x10, 0x1000, 0x10000),
		  "expected the same answer with the arguments swapped");
}

Test(ranges_overlap, identical_ranges_overlap)
{
	cr_assert(ranges_overlap(0x5000, 1, 0x5000, 1), "expected a byte to overlap itself");
}

Test(ranges_overlap, an_empty_range_overlaps_nothing)
{
	cr_assert_not(ranges_overlap(0x1000, 0, 0x0, 0x10000),
		      "expected an empty range inside another not to overlap it");
	cr_assert_not(ranges_overlap(0x0, 0x10000, 0x1000, 0),
		      "expected the same answer with the arguments swapped");
}

Test(ranges_overlap, ranges_ending_at_two_to_the_64_are_compared_without_wrapping)
{
	uint64_t top = UINT64_MAX - 0xfff; /* [top, 2^64) */

	cr_assert(ranges_overlap(top, 0x1000, UINT64_MAX, 1),
		  "expected [2^64-0x1000, 2^64) to overlap the last byte");
	cr_assert(ranges_overlap(top, 0x1000, top - 0x10, 0x11),
		  "expected [2^64-0x1000, 2^64) to overlap a range ending at its first byte");
	cr_assert_not(ranges_overlap(top, 0x1000, 0, 0x1000),
		      "expected [2^64-0x1000, 2^64) not to overlap [0, 0x1000)");
	cr_assert_not(ranges_overlap(top, 0x1000, top - 0x1000, 0x1000),
		      "expected [2^64-0x1000, 2^64) not to overlap the adjacent range below");
}

/* gpa_ok and gpa_ptr_guest */

Test(gpa_ok, accepts_a_range_inside_ram)
{
	cr_assert(gpa_ok(&mem, 0x1000, 0x100), "expected [0x1000, +0x100) in 64 KiB of RAM");
}

Test(gpa_ok, accepts_a_range_ending_exactly_at_the_end_of_ram)
{
	cr_assert(gpa_ok(&mem, RAM_SIZE - 8, 8), "expected the last 8 bytes of RAM to be RAM");
}

Test(gpa_ok, refuses_a_range_ending_one_byte_past_ram)
{
	cr_assert_not(gpa_ok(&mem, RAM_SIZE - 8, 9), "expected one byte past RAM to be refused");
	cr_assert_not(gpa_ok(&mem, RAM_SIZE, 1), "expected the byte at ram_size to be refused");
}

Test(gpa_ok, refuses_a_range_that_wraps)
{
	cr_assert_not(gpa_ok(&mem, 0x1000, UINT64_MAX),
		      "expected [0x1000, +2^64-1) (wraps to 0xfff) to be refused");
	cr_assert_not(gpa_ok(&mem, UINT64_MAX, 2), "expected [2^64-1, +2) to be refused");
}

Test(gpa_ok, refuses_everything_when_there_is_no_ram)
{
	struct guest_mem none = {0};

	cr_assert_not(gpa_ok(&none, 0, 1), "expected no RAM to refuse gpa 0");
}

Test(gpa_ptr_guest, returns_the_host_address_inside_ram)
{
	void *p = gpa_ptr_guest(&mem, 0x1234, 4);

	cr_assert_eq(p, ram_buf + 0x1234, "expected %p, got %p", (void *)(ram_buf + 0x1234), p);
}

Test(gpa_ptr_guest, returns_the_host_address_for_a_range_ending_at_the_end_of_ram)
{
	void *p = gpa_ptr_guest(&mem, RAM_SIZE - 1, 1);

	cr_assert_eq(p, ram_buf + RAM_SIZE - 1, "expected %p, got %p",
		     (void *)(ram_buf + RAM_SIZE - 1), p);
}

Test(gpa_ptr_guest, returns_null_one_byte_past_ram)
{
	void *p = gpa_ptr_guest(&mem, RAM_SIZE - 1, 2);

	cr_assert_null(p, "expected NULL for [end-1, end+1), got %p", p);
}

Test(gpa_ptr_guest, returns_null_for_a_wrapping_range)
{
	void *p = gpa_ptr_guest(&mem, UINT64_MAX - 3, 8);

	cr_assert_null(p, "expected NULL for a range wrapping 2^64, got %p", p);
}

/* GPA_PTR and mem_alloc_ram */

Test(gpa_ptr_checked, returns_the_host_address_for_a_good_range)
{
	void *p = GPA_PTR(&mem, 0x100, 0x100);

	cr_assert_eq(p, ram_buf + 0x100, "expected %p, got %p", (void *)(ram_buf + 0x100), p);
}

Test(gpa_ptr_checked, aborts_on_a_range_outside_ram, .signal = SIGABRT)
{
	volatile void *p = GPA_PTR(&mem, RAM_SIZE - 4, 8);

	(void)p;
	cr_assert_fail("expected GPA_PTR on [end-4, end+4) to abort, but it returned");
}

Test(gpa_ptr_checked, aborts_on_a_wrapping_range, .signal = SIGABRT)
{
	volatile void *p = GPA_PTR(&mem, UINT64_MAX, 2);

	(void)p;
	cr_assert_fail("expected GPA_PTR on a wrapping range to abort, but it returned");
}

Test(mem_alloc_ram, gives_zeroed_memory_of_the_size_asked)
{
	struct guest_mem m = {0};
	uint64_t size = 4ULL << 20;
	int r = mem_alloc_ram(&m, size);

	cr_assert_eq(r, 0, "expected 0, got %d", r);
	cr_assert_not_null(m.ram, "expected a mapping");
	cr_assert_eq(m.ram_size, size, "expected ram_size %#llx, got %#llx",
		     (unsigned long long)size, (unsigned long long)m.ram_size);
	for (uint64_t i = 0; i < size; i++)
		if (m.ram[i])
			cr_assert_fail("expected zeroed RAM, byte %#llx is %#x",
				       (unsigned long long)i, m.ram[i]);
	m.ram[size - 1] = 0xaa; /* writable to the last byte */
	mem_free(&m);
	cr_assert_null(m.ram, "expected mem_free to clear ram");
	cr_assert_eq(m.ram_size, 0, "expected ram_size 0 after mem_free, got %llu",
		     (unsigned long long)m.ram_size);
}
