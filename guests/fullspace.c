/*
 * fullspace - the guest maps its entire linear space, so no region is left for the
 * monitor stub: every PML4 slot, every PDPT and PD entry, through shared (aliased) tables,
 * all the 2 MiB regions onto one 2 MiB chunk of RAM. The stub must then take a region the
 * guest maps (the patent's claim 10) and serve every guest access to the content it
 * displaced, exactly (claim 11).
 *
 * Bootargs: region=X is the stub's initial base (the test passes -machine stub-base=X); the
 * guest touches it first, which makes the stub move to a random region R. target=R, which
 * the test learns from a first run with the same seed (-d reloc), makes the guest use R
 * with every instruction form: loads, stores, read-modify-write, locked operations, rep
 * string operations, push/pop, call/ret, instruction fetch, and accesses that cross into
 * and out of the region. With hammer=N as well (the hotspot test), it stores and loads N
 * times in R instead, and lodger's policy must move the stub away from the hot region
 * (claim 12). In direct mode there is no stub: the same transcript is the oracle. Must
 * behave identically in both modes.
 */
#include "rt.h"

GUEST("fullspace");

#define REGION	(2ULL << 20)
#define PATTERN 0x5a5a0000f00d0000ULL

static uint8_t *chunk; /* the 2 MiB of RAM that every alias maps */

static uint64_t canonical(uint64_t la)
{
	return (uint64_t)((int64_t)(la << 16) >> 16);
}

/* Every entry the runtime left empty, at every level, now leads to the chunk. */
static void map_everything(void)
{
	uint64_t *pd = rt_alloc_page(), *pdpt = rt_alloc_page();
	uint64_t *root = rt_kernel_root;

	for (unsigned i = 0; i < 512; i++) {
		pd[i] = (uint64_t)chunk | PTE_P | PTE_W | PTE_PS;
		pdpt[i] = (uint64_t)pd | PTE_P | PTE_W;
	}
	for (unsigned i = 0; i < 512; i++) {
		uint64_t *own_pdpt;

		if (!(root[i] & PTE_P)) {
			root[i] = (uint64_t)pdpt | PTE_P | PTE_W;
			continue;
		}
		own_pdpt = (uint64_t *)(root[i] & PTE_ADDR);
		for (unsigned j = 0; j < 512; j++) {
			uint64_t *own_pd;

			if (!(own_pdpt[j] & PTE_P)) {
				own_pdpt[j] = (uint64_t)pd | PTE_P | PTE_W;
				continue;
			}
			if (own_pdpt[j] & PTE_PS)
				continue;
			own_pd = (uint64_t *)(own_pdpt[j] & PTE_ADDR);
			for (unsigned k = 0; k < 512; k++)
				if (!(own_pd[k] & PTE_P))
					own_pd[k] = (uint64_t)chunk | PTE_P | PTE_W | PTE_PS;
		}
	}
	write_cr3(read_cr3());
}

/* The chunk's byte at `off`, through the identity mapping. */
static volatile uint64_t *in_chunk(uint64_t off)
{
	return (volatile uint64_t *)(chunk + off);
}

static uint64_t sum_on_stack(uint64_t n)
{
	volatile uint64_t words[32];
	uint64_t sum = 0;

	for (unsigned i = 0; i < 32; i++)
		words[i] = n + i;
	for (unsigned i = 0; i < 32; i++)
		sum += words[i];
	return sum;
}

/* mov %rdi,%rax; add $0x22,%rax; ret */
static const uint8_t add_0x22[] = {0x48, 0x89, 0xf8, 0x48, 0x83, 0xc0, 0x22, 0xc3};

static void every_form_at(uint64_t r)
{
	volatile uint64_t *q = (volatile uint64_t *)(r + 0x3000);
	uint64_t v, old;

	STEP("load and store");
	*q = PATTERN | 1;
	CHECK_EQ(*in_chunk(0x3000), PATTERN | 1);
	*in_chunk(0x3008) = PATTERN | 2;
	CHECK_EQ(q[1], PATTERN | 2);

	STEP("read-modify-write and locked operations");
	__asm__ volatile("addq $5, %0" : "+m"(*q));
	CHECK_EQ(*in_chunk(0x3000), PATTERN | 6);
	v = 10;
	__asm__ volatile("lock xaddq %0, %1" : "+r"(v), "+m"(*q));
	CHECK_EQ(v, PATTERN | 6);
	CHECK_EQ(*in_chunk(0x3000), (PATTERN | 6) + 10);
	v = 0x1234;
	__asm__ volatile("xchgq %0, %1" : "+r"(v), "+m"(*q));
	CHECK_EQ(v, (PATTERN | 6) + 10);
	CHECK_EQ(*in_chunk(0x3000), 0x1234);
	old = 0x1234;
	__asm__ volatile("lock cmpxchgq %2, %1" : "+a"(old), "+m"(*q) : "r"(0x5678ULL) : "cc");
	CHECK_EQ(*in_chunk(0x3000), 0x5678);
	old = 0x1111;
	__asm__ volatile("lock cmpxchgq %2, %1" : "+a"(old), "+m"(*q) : "r"(0x9999ULL) : "cc");
	CHECK_EQ(old, 0x5678);
	CHECK_EQ(*in_chunk(0x3000), 0x5678);

	STEP("rep stos and rep movs");
	{
		uint64_t *dst = (uint64_t *)(r + 0x3100), n = 16;

		__asm__ volatile("rep stosq" : "+D"(dst), "+c"(n) : "a"(PATTERN | 7) : "memory");
		for (unsigned i = 0; i < 16; i++)
			CHECK_EQ(*in_chunk(0x3100 + 8 * i), PATTERN | 7);
		for (unsigned i = 0; i < 64; i++)
			chunk[0x800 + i] = (uint8_t)(i * 3);
		uint8_t *from = chunk + 0x800, *to = (uint8_t *)(r + 0x3900);

		n = 64;
		__asm__ volatile("rep movsb" : "+S"(from), "+D"(to), "+c"(n) : : "memory");
		for (unsigned i = 0; i < 64; i++)
			CHECK_EQ(chunk[0x3900 + i], (uint8_t)(i * 3));
	}

	STEP("a stack in it: push, pop, call and ret");
	CHECK_EQ(rt_call_on_stack(sum_on_stack, 100, r + 0x6000), 32 * 100 + 31 * 32 / 2);

	STEP("code in it: instruction fetch");
	for (unsigned i = 0; i < sizeof(add_0x22); i++)
		chunk[0x5000 + i] = add_0x22[i];
	CHECK_EQ(((uint64_t(*)(uint64_t))(r + 0x5000))(0x100), 0x122);

	STEP("accesses that cross into and out of it");
	*(volatile uint64_t *)(r - 4) = 0x1122334455667788ULL;
	CHECK_EQ(*(volatile uint32_t *)(chunk + REGION - 4), 0x55667788);
	CHECK_EQ(*(volatile uint32_t *)chunk, 0x11223344);
	*(volatile uint64_t *)(r + REGION - 4) = 0x99aabbccddeeff00ULL;
	CHECK_EQ(*(volatile uint32_t *)(chunk + REGION - 4), 0xddeeff00);
	CHECK_EQ(*(volatile uint32_t *)chunk, 0x99aabbcc);
}

void guest_main(void)
{
	uint64_t region = rt_bootarg_hex("region"), target = rt_bootarg_hex("target"),
		 hammer = rt_bootarg_hex("hammer");

	STEP("map the whole linear space onto one 2 MiB chunk, through shared tables");
	rt_paging_init();
	chunk = rt_alloc_pages(REGION / PAGE_SIZE, REGION);
	CHECK(chunk != NULL);
	map_everything();

	STEP("a pattern written once reads back through aliases across the space");
	*in_chunk(0x1238) = PATTERN;
	/* Not PML4 slot 256: kvm_pvm cannot map it for CPL3 code (docs/platform.md). */
	for (uint64_t slot = 1; slot < 512; slot += slot == 251 ? 6 : 5) {
		uint64_t la = canonical(slot << 39 | (slot % 512) << 30 | (slot % 7) << 21);

		CHECK_EQ(*(volatile uint64_t *)(la + 0x1238), PATTERN);
	}

	STEP("use the stub's initial region");
	CHECK(region != 0);
	*(volatile uint64_t *)(region + 0x100) = PATTERN | 0x100;
	CHECK_EQ(*in_chunk(0x100), PATTERN | 0x100);

	if (target && hammer) {
		/* hotspot: the displaced region is hot; lodger's policy must move the stub on
		 * (claim 12), and every value must stay right throughout. */
		STEP("hammer the region the stub moved to");
		for (uint64_t i = 0; i < hammer; i++) {
			volatile uint64_t *q =
				(volatile uint64_t *)(target + 0x4000 + (i % 64) * 8);

			*q = PATTERN ^ i;
			CHECK_EQ(*in_chunk(0x4000 + (i % 64) * 8), PATTERN ^ i);
			CHECK_EQ(*q, PATTERN ^ i);
		}
	} else if (target) {
		STEP("use the region the stub moved to, with every instruction form");
		every_form_at(target);
	}
	DONE();
}
