/*
 * exceptions - CPU exceptions raised by guest kernel code reach the guest's own IDT with
 * an architectural frame: #DE, #UD, #BP, #GP and #PF, with the right vector, error code,
 * RIP (the faulting instruction for faults, the next one for the #BP trap), CS (the
 * kernel-cs lodger gave), RFLAGS, RSP and SS, and for #PF the exact CR2 and P/W/U/I bits.
 * Each handler resumes the guest past the instruction (an exception table, as in Linux).
 *
 * Must behave identically in direct mode (kernel at CPL0, the CPU delivers) and in shadow
 * mode (kernel at CPL3, lodger's monitor reflects the exception into the guest's IDT with
 * a native-format frame: docs/shadow-mode.md).
 */
#include "rt.h"

GUEST("exceptions");

/* Our own 4 KiB mappings, far from the identity map of RAM (1 TiB and up). */
#define TEST_VA		0x0000010000000000ULL
#define NEVER_MAPPED_VA (TEST_VA + 0x200000)
#define NX_VA		(TEST_VA + 0x400000)
#define NON_CANONICAL	0x8000000000000000ULL
#define BOGUS_MSR	0x4c4f4447 /* "LODG": no CPU or hypervisor defines this index */

/* The last exception, as the handler saw it. */
static struct {
	unsigned count;
	struct rt_frame f;
	uint64_t cr2;
} seen;
static unsigned expected_count;

static void record(struct rt_frame *f)
{
	seen.count++;
	seen.f = *f;
	seen.cr2 = read_cr2();
	if (rt_fixup(f)) /* a fault at a probe: resume after the instruction */
		return;
	if (f->vector == VEC_BP) /* a trap: RIP is already past the int3 */
		return;
	if (f->vector == VEC_PF && (f->error & PF_I)) {
		/* A fetch from a page we may not run: go back to the probe's call. */
		f->rip = *(uint64_t *)f->rsp;
		f->rsp += 8;
		return;
	}
	rt_unexpected(f);
}

/*
 * A probe runs one instruction that must trap, at label 1, with CF set so that RFLAGS
 * carries something to compare; it records where that instruction is, and RSP and
 * RFLAGS just before it. The exception table resumes a fault at label 2.
 */
struct probe {
	uint64_t site, rsp, rflags;
};
#define PROBE_BEGIN                                                                                \
	"stc\n\t"                                                                                  \
	"pushfq\n\t"                                                                               \
	"popq %[fl]\n\t"                                                                           \
	"movq %%rsp, %[sp]\n\t"                                                                    \
	"leaq 1f(%%rip), %[site]\n"                                                                \
	"1:\t"
#define PROBE_END    "\n2:\n" RT_EXTABLE("1b", "2b")
#define PROBE_OUT(p) [site] "=&r"((p).site), [sp] "=&r"((p).rsp), [fl] "=&r"((p).rflags)

/* The frame every exception here must show: same privilege, same stack, kernel-cs. */
static void check_frame(const struct probe *p, unsigned vector, uint64_t error, uint64_t rip,
			uint64_t rsp)
{
	CHECK_EQ(seen.count, ++expected_count);
	CHECK_EQ(seen.f.vector, vector);
	CHECK_EQ(seen.f.error, error);
	CHECK_EQ(seen.f.rip, rip);
	CHECK_EQ(seen.f.cs & 0xffff, rt_boot.kernel_cs);
	CHECK_EQ(seen.f.rflags & RFLAGS_STATUS, p->rflags & RFLAGS_STATUS);
	CHECK_EQ(seen.f.rflags & RFLAGS_CF, RFLAGS_CF);
	CHECK_EQ(seen.f.rflags & RFLAGS_IF, 0);
	CHECK_EQ(seen.f.rsp, rsp);
	CHECK_EQ(seen.f.ss & 0xffff, rt_boot.kernel_ds);
}

static void check_fault(const struct probe *p, unsigned vector, uint64_t error)
{
	check_frame(p, vector, error, p->site, p->rsp);
}

static void check_page_fault(const struct probe *p, uint64_t error, uint64_t cr2)
{
	check_fault(p, VEC_PF, error);
	CHECK_EQ(seen.cr2, cr2);
}

void guest_main(void)
{
	struct probe p;
	uint64_t *root, page, nx_page, v;
	const uint64_t off = 0x18; /* not page-aligned, so CR2 must be exact */

	for (unsigned vec = 0; vec < 32; vec++)
		rt_set_handler((uint8_t)vec, record);

	STEP("divide by zero: #DE at the div");
	{
		uint32_t zero = 0;
		__asm__ volatile(PROBE_BEGIN "divl %[z]" PROBE_END
				 : PROBE_OUT(p)
				 : [z] "r"(zero), "a"(7), "d"(0)
				 : "memory");
	}
	check_fault(&p, VEC_DE, 0);

	STEP("ud2: #UD at the ud2");
	__asm__ volatile(PROBE_BEGIN "ud2" PROBE_END : PROBE_OUT(p) : : "memory");
	check_fault(&p, VEC_UD, 0);

	STEP("int3: #BP, a trap, with RIP after the int3");
	__asm__ volatile(PROBE_BEGIN "int3" PROBE_END : PROBE_OUT(p) : : "memory");
	check_frame(&p, VEC_BP, 0, p.site + 1, p.rsp);

	STEP("a load from a non-canonical address: #GP(0)");
	__asm__ volatile(PROBE_BEGIN "movq (%[a]), %[a]" PROBE_END
			 : PROBE_OUT(p), [a] "=r"(v)
			 : "[a]"(NON_CANONICAL)
			 : "memory");
	check_fault(&p, VEC_GP, 0);

	STEP("wrmsr to an MSR that does not exist: #GP(0)");
	__asm__ volatile(PROBE_BEGIN "wrmsr" PROBE_END
			 : PROBE_OUT(p)
			 : "c"(BOGUS_MSR), "a"(0), "d"(0)
			 : "memory");
	check_fault(&p, VEC_GP, 0);

	STEP("build our own page tables and map a test page");
	rt_paging_init();
	root = rt_kernel_root;
	page = (uint64_t)rt_alloc_page();
	pt_map(root, TEST_VA, page, PTE_W);
	invlpg(TEST_VA);
	*(volatile uint64_t *)(TEST_VA + off) = 0x5eed;
	CHECK_EQ(*(volatile uint64_t *)(page + off), 0x5eed);

	STEP("unmap it: a read faults with P=0 W=0, CR2 the address");
	pt_unmap(root, TEST_VA);
	invlpg(TEST_VA);
	__asm__ volatile(PROBE_BEGIN "movq (%[a]), %[a]" PROBE_END
			 : PROBE_OUT(p), [a] "=r"(v)
			 : "[a]"(TEST_VA + off)
			 : "memory");
	check_page_fault(&p, 0, TEST_VA + off);

	STEP("a write to it faults with P=0 W=1");
	__asm__ volatile(PROBE_BEGIN "movq %[v], (%[a])" PROBE_END
			 : PROBE_OUT(p)
			 : [a] "r"(TEST_VA + off), [v] "r"((uint64_t)0xbad)
			 : "memory");
	check_page_fault(&p, PF_W, TEST_VA + off);

	STEP("map it read-only: reads work, a write faults with P=1 W=1 (CR0.WP)");
	CHECK(read_cr0() & CR0_WP);
	pt_map(root, TEST_VA, page, 0);
	invlpg(TEST_VA);
	CHECK_EQ(*(volatile uint64_t *)(TEST_VA + off), 0x5eed);
	__asm__ volatile(PROBE_BEGIN "movq %[v], (%[a])" PROBE_END
			 : PROBE_OUT(p)
			 : [a] "r"(TEST_VA + off), [v] "r"((uint64_t)0xbad)
			 : "memory");
	check_page_fault(&p, PF_P | PF_W, TEST_VA + off);
	CHECK_EQ(*(volatile uint64_t *)(page + off), 0x5eed);

	STEP("a call into a page never mapped faults on the fetch: P=0 I=1");
	__asm__ volatile(PROBE_BEGIN "call *%[t]" PROBE_END
			 : PROBE_OUT(p)
			 : [t] "r"(NEVER_MAPPED_VA)
			 : "memory");
	check_frame(&p, VEC_PF, PF_I, NEVER_MAPPED_VA, p.rsp - 8);
	CHECK_EQ(seen.cr2, NEVER_MAPPED_VA);

	STEP("a call into a no-execute page faults on the fetch: P=1 I=1");
	nx_page = (uint64_t)rt_alloc_page();
	*(volatile uint8_t *)nx_page = 0xc3; /* ret: would run if NX were ignored */
	pt_map(root, NX_VA, nx_page, PTE_NX);
	invlpg(NX_VA);
	__asm__ volatile(PROBE_BEGIN "call *%[t]" PROBE_END
			 : PROBE_OUT(p)
			 : [t] "r"(NX_VA)
			 : "memory");
	check_frame(&p, VEC_PF, PF_P | PF_I, NX_VA, p.rsp - 8);
	CHECK_EQ(seen.cr2, NX_VA);

	STEP("every exception was seen exactly once");
	CHECK_EQ(seen.count, expected_count);
	CHECK_EQ(expected_count, 10);

	DONE();
}
