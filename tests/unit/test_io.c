/*
 * test_io.c - the port-I/O / MMIO bus: registration and dispatch (src/kvm/io.c).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "kvm/io.h"

/* What the last handler call saw. */
struct seen {
	unsigned calls;
	uint64_t offset;
	uint8_t data[8];
	unsigned len;
	bool is_write;
};

static void record(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct seen *s = opaque;

	s->calls++;
	s->offset = offset;
	s->len = len;
	s->is_write = is_write;
	memcpy(s->data, data, len < sizeof(s->data) ? len : sizeof(s->data));
	if (!is_write)
		for (unsigned i = 0; i < len; i++)
			data[i] = (uint8_t)(0x10 + i);
}

static struct io_bus bus;
static struct seen dev_a, dev_b;

static void setup(void)
{
	memset(&bus, 0, sizeof(bus));
	bus.name = "port";
	memset(&dev_a, 0, sizeof(dev_a));
	memset(&dev_b, 0, sizeof(dev_b));
}

TestSuite(io_register, .init = setup);
TestSuite(io_dispatch, .init = setup);

Test(io_register, accepts_a_range_and_counts_it)
{
	int r = io_register(&bus, 0x3f8, 8, record, &dev_a, "a");

	cr_assert_eq(r, 0, "expected 0, got %d", r);
	cr_assert_eq(bus.count, 1, "expected 1 range, got %u", bus.count);
}

Test(io_register, refuses_a_zero_length_range)
{
	int r = io_register(&bus, 0x3f8, 0, record, &dev_a, "a");

	cr_assert_eq(r, -EINVAL, "expected -EINVAL (%d), got %d", -EINVAL, r);
	cr_assert_eq(bus.count, 0, "expected no range registered, got %u", bus.count);
}

Test(io_register, refuses_a_range_without_a_handler)
{
	int r = io_register(&bus, 0x3f8, 8, NULL, &dev_a, "a");

	cr_assert_eq(r, -EINVAL, "expected -EINVAL (%d), got %d", -EINVAL, r);
}

Test(io_register, refuses_a_range_that_wraps_past_two_to_the_64)
{
	int r = io_register(&bus, UINT64_MAX - 3, 8, record, &dev_a, "a");

	cr_assert_eq(r, -EINVAL, "expected -EINVAL (%d), got %d", -EINVAL, r);
	cr_assert_eq(bus.count, 0, "expected no range registered, got %u", bus.count);
}

Test(io_register, refuses_a_range_overlapping_a_registered_one)
{
	int r;

	cr_assert_eq(io_register(&bus, 0x100, 0x10, record, &dev_a, "a"), 0, "setup failed");
	r = io_register(&bus, 0x10f, 2, record, &dev_b, "b");
	cr_assert_eq(r, -EINVAL, "expected -EINVAL (%d) for a one-byte overlap at the end, got %d",
		     -EINVAL, r);
	r = io_register(&bus, 0xff, 2, record, &dev_b, "b");
	cr_assert_eq(r, -EINVAL,
		     "expected -EINVAL (%d) for a one-byte overlap at the start, got %d", -EINVAL,
		     r);
	r = io_register(&bus, 0x0, 0x1000, record, &dev_b, "b");
	cr_assert_eq(r, -EINVAL, "expected -EINVAL (%d) for a range containing it, got %d", -EINVAL,
		     r);
	cr_assert_eq(bus.count, 1, "expected 1 range, got %u", bus.count);
}

Test(io_register, accepts_adjacent_ranges)
{
	cr_assert_eq(io_register(&bus, 0x100, 0x10, record, &dev_a, "a"), 0, "setup failed");
	cr_assert_eq(io_register(&bus, 0x110, 0x10, record, &dev_b, "b"), 0,
		     "expected a range right above to be accepted");
	cr_assert_eq(io_register(&bus, 0xf0, 0x10, record, &dev_b, "c"), 0,
		     "expected a range right below to be accepted");
}

Test(io_register, refuses_a_range_when_the_bus_is_full)
{
	int r;

	for (unsigned i = 0; i < IO_BUS_MAX_RANGES; i++) {
		r = io_register(&bus, 0x1000 + i * 0x10, 0x10, record, &dev_a, "a");
		cr_assert_eq(r, 0, "expected range %u to be accepted, got %d", i, r);
	}
	r = io_register(&bus, 0x9000, 0x10, record, &dev_b, "b");
	cr_assert_eq(r, -ENOSPC, "expected -ENOSPC (%d) on a full bus, got %d", -ENOSPC, r);
	cr_assert_eq(bus.count, IO_BUS_MAX_RANGES, "expected %d ranges, got %u", IO_BUS_MAX_RANGES,
		     bus.count);
}

Test(io_dispatch, passes_a_write_with_the_offset_from_the_base_and_the_data)
{
	uint8_t data[2] = {0x34, 0x12};
	bool claimed;

	io_register(&bus, 0x3f8, 8, record, &dev_a, "a");
	claimed = io_dispatch(&bus, 0x3fd, data, 2, true);
	cr_assert(claimed, "expected the write to be claimed");
	cr_assert_eq(dev_a.calls, 1, "expected 1 handler call, got %u", dev_a.calls);
	cr_assert_eq(dev_a.offset, 5, "expected offset 5, got %llu",
		     (unsigned long long)dev_a.offset);
	cr_assert_eq(dev_a.len, 2, "expected len 2, got %u", dev_a.len);
	cr_assert(dev_a.is_write, "expected is_write");
	cr_assert(dev_a.data[0] == 0x34 && dev_a.data[1] == 0x12,
		  "expected data 34 12, got %02x %02x", dev_a.data[0], dev_a.data[1]);
}

Test(io_dispatch, returns_the_handlers_data_on_a_read)
{
	uint8_t data[4] = {0};
	bool claimed;

	io_register(&bus, 0x600, 8, record, &dev_a, "a");
	claimed = io_dispatch(&bus, 0x604, data, 4, false);
	cr_assert(claimed, "expected the read to be claimed");
	cr_assert_eq(dev_a.offset, 4, "expected offset 4, got %llu",
		     (unsigned long long)dev_a.offset);
	cr_assert_not(dev_a.is_write, "expected a read");
	for (unsigned i = 0; i < 4; i++)
		cr_assert_eq(data[i], 0x10 + i, "expected byte %u = %#x, got %#x", i, 0x10 + i,
			     data[i]);
}

Test(io_dispatch, routes_each_access_to_the_device_that_owns_it)
{
	uint8_t data = 0x5a;

	io_register(&bus, 0x100, 0x10, record, &dev_a, "a");
	io_register(&bus, 0x110, 0x10, record, &dev_b, "b");
	io_dispatch(&bus, 0x110, &data, 1, true);
	cr_assert_eq(dev_a.calls, 0, "expected device a untouched, got %u calls", dev_a.calls);
	cr_assert_eq(dev_b.calls, 1, "expected 1 call to device b, got %u", dev_b.calls);
	cr_assert_eq(dev_b.offset, 0, "expected offset 0, got %llu",
		     (unsigned long long)dev_b.offset);
}

Test(io_dispatch, claims_an_access_ending_exactly_at_the_end_of_a_range)
{
	uint8_t data[4] = {0};
	bool claimed;

	io_register(&bus, 0x100, 8, record, &dev_a, "a");
	claimed = io_dispatch(&bus, 0x104, data, 4, false);
	cr_assert(claimed, "expected [0x104, 0x108) inside [0x100, 0x108) to be claimed");
	cr_assert_eq(dev_a.offset, 4, "expected offset 4, got %llu",
		     (unsigned long long)dev_a.offset);
}

Test(io_dispatch, does_not_claim_an_access_running_past_the_end_of_a_range)
{
	uint8_t data[4] = {1, 2, 3, 4};
	bool claimed;

	io_register(&bus, 0x100, 8, record, &dev_a, "a");
	claimed = io_dispatch(&bus, 0x106, data, 4, true);
	cr_assert_not(claimed, "expected [0x106, 0x10a) not to be claimed by [0x100, 0x108)");
	cr_assert_eq(dev_a.calls, 0, "expected no handler call, got %u", dev_a.calls);
}

Test(io_dispatch, does_not_claim_an_access_starting_below_a_range)
{
	uint8_t data[4] = {0};
	bool claimed;

	io_register(&bus, 0x100, 8, record, &dev_a, "a");
	claimed = io_dispatch(&bus, 0xfe, data, 4, false);
	cr_assert_not(claimed, "expected [0xfe, 0x102) not to be claimed by [0x100, 0x108)");
	cr_assert_eq(dev_a.calls, 0, "expected no handler call, got %u", dev_a.calls);
}

Test(io_dispatch, an_unclaimed_read_returns_all_ones)
{
	uint8_t data[8] = {0};
	bool claimed;

	io_register(&bus, 0x100, 8, record, &dev_a, "a");
	claimed = io_dispatch(&bus, 0x80, data, 8, false);
	cr_assert_not(claimed, "expected a read of port 0x80 not to be claimed");
	for (unsigned i = 0; i < 8; i++)
		cr_assert_eq(data[i], 0xff, "expected byte %u = 0xff (open bus), got %#x", i,
			     data[i]);
}

Test(io_dispatch, an_unclaimed_write_returns_false_and_calls_nobody)
{
	uint8_t data[2] = {0xaa, 0xbb};
	bool claimed;

	io_register(&bus, 0x100, 8, record, &dev_a, "a");
	claimed = io_dispatch(&bus, 0x200, data, 2, true);
	cr_assert_not(claimed, "expected a write to port 0x200 not to be claimed");
	cr_assert_eq(dev_a.calls, 0, "expected no handler call, got %u", dev_a.calls);
	cr_assert(data[0] == 0xaa && data[1] == 0xbb, "expected the data unchanged, got %02x %02x",
		  data[0], data[1]);
}

Test(io_dispatch, an_empty_bus_claims_nothing)
{
	uint8_t data = 0;
	bool claimed = io_dispatch(&bus, 0, &data, 1, false);

	cr_assert_not(claimed, "expected an empty bus to claim nothing");
	cr_assert_eq(data, 0xff, "expected 0xff, got %#x", data);
}
