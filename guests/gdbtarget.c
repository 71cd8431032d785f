/*
 * gdbtarget - a guest for the GDB stub's test (tests/guest/gdb_test.py): a function to
 * break at, a variable to read, a loop to step through. Prints the same in both modes.
 */
#include "rt.h"

GUEST("gdbtarget");

volatile uint64_t gdb_counter = 5;

__attribute__((noinline)) uint64_t gdb_add(uint64_t a, uint64_t b)
{
	uint64_t sum = a + b;

	gdb_counter += sum;
	return sum;
}

void guest_main(void)
{
	uint64_t total = 0;

	for (uint64_t i = 1; i <= 3; i++)
		total += gdb_add(i, 10);
	rt_printf("gdbtarget: total %llu counter %llu\n", (unsigned long long)total,
		  (unsigned long long)gdb_counter);
	rt_done();
}
