/*
 * bench - times the guest events whose cost lodger's design is about: each is repeated
 * and reported as TSC cycles per event ("bench: NAME CYCLES"). Not a test (the numbers
 * differ by mode and machine): bench/run.py boots it in each mode and prints the table.
 */
#include "rt.h"

GUEST("bench");

#define ROUNDS 200

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static void report(const char *name, uint64_t cycles, unsigned n)
{
	rt_printf("bench: %s %lu\n", name, (unsigned long)(cycles / n));
}

static void breakpoint(struct rt_frame *f)
{
	(void)f; /* int3 is a trap: returning resumes after it */
}

#define BENCH_REGION 0x0000030000000000ULL

void guest_main(void)
{
	uint64_t t;

	rt_paging_init();
	rt_set_handler(VEC_BP, breakpoint);

	/* Guest kernel code that traps nothing: interpreted at CPL0 in direct mode on
	 * kvm_pvm, native at CPL3 in shadow mode - the reason shadow mode exists here. */
	t = rdtsc();
	{
		uint64_t x = 1;

		for (unsigned i = 0; i < 20000; i++)
			__asm__ volatile("imul $3, %0, %0\n\tadd $7, %0" : "+r"(x));
		__asm__ volatile("" : : "r"(x));
	}
	report("compute-iteration", rdtsc() - t, 20000);

	t = rdtsc();
	for (unsigned i = 0; i < ROUNDS; i++) {
		cli();
		sti();
	}
	report("cli+sti", rdtsc() - t, 2 * ROUNDS);

	t = rdtsc();
	for (unsigned i = 0; i < ROUNDS; i++)
		outb(LODGER_UART_PORT + 7, (uint8_t)i); /* scratch register: lodger's own device */
	report("out-uart", rdtsc() - t, ROUNDS);

	t = rdtsc();
	for (unsigned i = 0; i < ROUNDS; i++)
		(void)inb(0x61); /* KVM's in-kernel PIT/speaker port */
	report("in-kvm-device", rdtsc() - t, ROUNDS);

	t = rdtsc();
	for (unsigned i = 0; i < ROUNDS; i++)
		__asm__ volatile("int3" : : : "memory");
	report("int3-to-handler-and-back", rdtsc() - t, ROUNDS);

	for (unsigned i = 0; i < ROUNDS; i++)
		pt_map(rt_kernel_root, BENCH_REGION + i * PAGE_SIZE, (uint64_t)rt_alloc_page(),
		       PTE_W);
	t = rdtsc();
	for (unsigned i = 0; i < ROUNDS; i++)
		(void)*(volatile uint64_t *)(BENCH_REGION + i * PAGE_SIZE);
	report("first-touch-read", rdtsc() - t, ROUNDS);

	t = rdtsc();
	for (unsigned i = 0; i < ROUNDS; i++)
		write_cr3(read_cr3());
	report("cr3-reload", rdtsc() - t, ROUNDS);

	t = rdtsc();
	for (unsigned i = 0; i < ROUNDS; i++)
		invlpg(BENCH_REGION);
	report("invlpg", rdtsc() - t, ROUNDS);
	DONE();
}
