/*
 * bench - the guest events whose cost lodger's design is about, and a process-like
 * workload, each timed per operation. The same image boots under lodger (its own boot
 * protocol) and under QEMU (`-kernel bench.elf`: the PVH entry, guests/rt/pvh.S), so that
 * bench/run.py can set lodger's modes beside QEMU's. Not a test: the numbers depend on
 * the machine and the mode.
 *
 * Each event runs `rounds` samples, each timed with rdtsc; the median of an empty sample
 * (the timing itself, interpreted in direct mode on kvm_pvm) is taken off. One line each:
 *	bench: NAME MEDIAN p99=P99 ops=K   TSC cycles per operation; K operations per sample
 *	bench: NAME cannot: REASON         the platform does not offer the event
 * Bootargs: rounds=N (default 200, at most BENCH_MAX_ROUNDS); events=a,b,... runs only
 * those (events=none: only the setup). bench/run.py counts an event's traps from two runs
 * with different rounds, so that setup and output cancel out.
 */
#include "bench.h"
#include "rt.h"

GUEST("bench");

#define DEFAULT_ROUNDS	   200
#define COMPUTE_PER_SAMPLE 100 /* loop iterations timed together */
#define BENCH_CANNOT	   0xdeadULL

/* Linear regions of their own, clear of RAM's identity map. */
#define PF_VA	 0x0000030000000000ULL /* the page #PF maps and the event unmaps */
#define FRESH_VA 0x0000031000000000ULL /* BENCH_MAX_ROUNDS pages, mapped, never touched */
#define SLICE_VA 0x0000032000000000ULL /* the slices' fresh user pages */

static uint64_t samples[BENCH_MAX_ROUNDS];
static unsigned rounds = DEFAULT_ROUNDS;
static uint64_t timer_cycles; /* median of an empty sample */
static char events[256];      /* bootarg events=; "" for all */
static uint64_t space_a, space_b;

/* bench_entry.S */
uint64_t *bench_pf_pte; /* the PTE bench_pf_entry fills, and its value */
uint64_t bench_pf_val;
extern char bench_ud_entry[], bench_pf_entry[], bench_syscall_entry[], bench_sysret[];
extern char bench_user_syscalls[], bench_user_nosyscalls[], bench_user_slice[];
extern uint64_t bench_user_rounds, bench_user_samples[BENCH_MAX_ROUNDS];

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

/* ---- samples to figures ----------------------------------------------------------------- */

static void sort(uint64_t *a, unsigned n)
{
	static const unsigned gaps[] = {701, 301, 132, 57, 23, 10, 4, 1}; /* Ciura */

	for (unsigned g = 0; g < sizeof(gaps) / sizeof(gaps[0]); g++)
		for (unsigned i = gaps[g]; i < n; i++) {
			uint64_t t = a[i];
			unsigned j = i;

			for (; j >= gaps[g] && a[j - gaps[g]] > t; j -= gaps[g])
				a[j] = a[j - gaps[g]];
			a[j] = t;
		}
}

static uint64_t minus(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

static uint64_t median(uint64_t *a, unsigned n)
{
	sort(a, n);
	return a[n / 2];
}

static void report(const char *name, uint64_t *s, unsigned ops, uint64_t timer)
{
	uint64_t med = median(s, rounds), p99 = s[(rounds - 1) * 99 / 100];

	rt_printf("bench: %s %lu p99=%lu ops=%u\n", name, minus(med, timer) / ops,
		  minus(p99, timer) / ops, ops);
}

static bool wanted(const char *name)
{
	const char *p = events;

	if (!events[0])
		return true;
	while (*p) {
		const char *n = name;

		while (*n && *p == *n) {
			p++;
			n++;
		}
		if (!*n && (*p == ',' || !*p))
			return true;
		while (*p && *p != ',')
			p++;
		if (*p)
			p++;
	}
	return false;
}

typedef void (*op_fn)(unsigned i);

static void sample(op_fn op)
{
	for (unsigned i = 0; i < rounds; i++) {
		uint64_t t = rdtsc();

		op(i);
		samples[i] = rdtsc() - t;
	}
}

static void measure(const char *name, op_fn op, unsigned ops)
{
	if (!wanted(name))
		return;
	sample(op);
	report(name, samples, ops, timer_cycles);
}

/* ---- the events ------------------------------------------------------------------------- */

static void op_nothing(unsigned i)
{
	(void)i;
}

/* Guest kernel code that traps nothing: interpreted at CPL0 in direct mode on kvm_pvm,
 * native at CPL3 in shadow mode - the reason shadow mode exists here. */
static void op_compute(unsigned i)
{
	uint64_t x = i;

	for (unsigned k = 0; k < COMPUTE_PER_SAMPLE; k++)
		__asm__ volatile("imul $3, %0, %0\n\tadd $7, %0" : "+r"(x));
}

static void op_ud2(unsigned i)
{
	(void)i;
	__asm__ volatile("ud2" : : : "memory");
}

/* The access faults, the handler maps the page, the access completes; then unmap. */
static void op_pf(unsigned i)
{
	(void)i;
	(void)peek(PF_VA);
	*bench_pf_pte = 0;
	invlpg(PF_VA);
}

static void op_fresh_write(unsigned i)
{
	poke(FRESH_VA + i * PAGE_SIZE, i);
}

static void op_out(unsigned i)
{
	outb(LODGER_UART_PORT + 7, (uint8_t)i); /* the 16550's scratch register */
}

static void op_cr3_reload(unsigned i)
{
	(void)i;
	write_cr3(space_a);
}

static void op_cr3_switch(unsigned i)
{
	write_cr3(i & 1 ? space_b : space_a);
}

static void op_sti_cli(unsigned i)
{
	(void)i;
	sti();
	cli();
}

static void op_invlpg(unsigned i)
{
	(void)i;
	invlpg(FRESH_VA);
}

/* One time slice of a process: the kernel switches to its address space and maps it
 * fresh pages, the process computes and writes them, and traps back (rt_user_exit). */
static void op_slice(unsigned i)
{
	uint64_t root = i & 1 ? space_b : space_a;
	uint64_t va = SLICE_VA + (uint64_t)i * BENCH_SLICE_FRESH * PAGE_SIZE;

	write_cr3(root);
	for (unsigned k = 0; k < BENCH_SLICE_FRESH; k++)
		pt_map((uint64_t *)root, va + k * PAGE_SIZE, (uint64_t)rt_alloc_page(),
		       PTE_W | PTE_U);
	rt_user_call((void (*)(void))bench_user_slice, va);
}

/* ---- events that need setting up ------------------------------------------------------ */

static void bench_pf(void)
{
	if (!wanted("pf-map-unmap"))
		return;
	pt_map(rt_kernel_root, PF_VA, (uint64_t)rt_alloc_page(), PTE_W);
	bench_pf_pte = pt_entry(rt_kernel_root, PF_VA, 1);
	bench_pf_val = *bench_pf_pte;
	*bench_pf_pte = 0;
	invlpg(PF_VA);
	rt_set_gate_entry(VEC_PF, bench_pf_entry);
	measure("pf-map-unmap", op_pf, 1);
	rt_set_gate_entry(VEC_PF, NULL);
}

static void bench_fresh_write(void)
{
	if (!wanted("fresh-write"))
		return;
	for (unsigned i = 0; i < rounds; i++)
		pt_map(rt_kernel_root, FRESH_VA + i * PAGE_SIZE, (uint64_t)rt_alloc_page(), PTE_W);
	measure("fresh-write", op_fresh_write, 1);
}

/* Where `syscall` does not reach CPL0 (kvm_pvm's CPL0 is not where it lands), the entry
 * is fetched at CPL3 from a kernel page (#PF), or sysretq runs at CPL3 (#GP). */
static void syscall_refused(struct rt_frame *f)
{
	if (f->rip == (uint64_t)bench_syscall_entry || f->rip == (uint64_t)bench_sysret)
		rt_user_return(BENCH_CANNOT);
	rt_unexpected(f);
}

static void bench_syscall(void)
{
	uint64_t timer;

	if (!wanted("syscall"))
		return;
	wrmsr(MSR_STAR, (uint64_t)rt_boot.user32_cs << 48 | (uint64_t)rt_boot.kernel_cs << 32);
	wrmsr(MSR_LSTAR, (uint64_t)bench_syscall_entry);
	wrmsr(MSR_FMASK, RFLAGS_IF | RFLAGS_DF);
	bench_user_rounds = rounds;
	rt_user_call((void (*)(void))bench_user_nosyscalls, 0);
	timer = median(bench_user_samples, rounds);
	rt_set_handler(VEC_PF, syscall_refused);
	rt_set_handler(VEC_GP, syscall_refused);
	if (rt_user_call((void (*)(void))bench_user_syscalls, 0) == BENCH_CANNOT)
		rt_printf("bench: syscall cannot: syscall from CPL3 does not reach CPL0 here\n");
	else
		report("syscall", bench_user_samples, 1, timer);
	rt_set_handler(VEC_PF, NULL);
	rt_set_handler(VEC_GP, NULL);
}

static unsigned parse_rounds(void)
{
	char buf[16];
	unsigned n = 0;

	if (!rt_bootarg("rounds", buf, sizeof(buf)))
		return DEFAULT_ROUNDS;
	for (const char *p = buf; *p; p++) {
		if (*p < '0' || *p > '9' || n > BENCH_MAX_ROUNDS)
			rt_fail("rounds=%s is not a number from 1 to %d", buf, BENCH_MAX_ROUNDS);
		n = n * 10 + (unsigned)(*p - '0');
	}
	if (n < 1 || n > BENCH_MAX_ROUNDS)
		rt_fail("rounds=%s is not a number from 1 to %d", buf, BENCH_MAX_ROUNDS);
	return n;
}

void guest_main(void)
{
	rounds = parse_rounds();
	if (!rt_bootarg("events", events, sizeof(events)))
		events[0] = 0;
	rt_paging_init();
	/* Two address spaces, each with the user pages: what the CR3 events and slices use. */
	space_a = (uint64_t)rt_kernel_root;
	space_b = (uint64_t)pt_new_kernel_space();
	rt_map_user_pages(rt_kernel_root);
	rt_map_user_pages((uint64_t *)space_b);

	sample(op_nothing);
	timer_cycles = median(samples, rounds);

	measure("compute", op_compute, COMPUTE_PER_SAMPLE);
	if (wanted("ud2")) {
		rt_set_gate_entry(VEC_UD, bench_ud_entry);
		measure("ud2", op_ud2, 1);
		rt_set_gate_entry(VEC_UD, NULL);
	}
	bench_pf();
	bench_fresh_write();
	measure("out", op_out, 1);
	measure("cr3-reload", op_cr3_reload, 1);
	measure("cr3-switch", op_cr3_switch, 1);
	write_cr3(space_a);
	measure("sti-cli", op_sti_cli, 1);
	measure("invlpg", op_invlpg, 1);
	bench_syscall();
	measure("slice", op_slice, 1);
	write_cr3(space_a);
	DONE();
}
