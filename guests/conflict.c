/*
 * conflict - the guest maps and uses a linear region that the monitor stub occupies, and
 * gets it (the patent's claims 1 and 9): code runs from it, data is stored in it, a stack
 * lives in it, and none of it can tell that the stub was ever there.
 *
 * The region comes from the bootargs (region=0x...); the guest test gives lodger the same
 * address as the stub's initial base (-machine stub-base=), so in shadow mode the first
 * touch is a conflict and the stub must move to an unused region. In direct mode there is
 * no stub: the same transcript is the oracle. Must behave identically in both modes.
 */
#include "rt.h"

GUEST("conflict");

#define PAGES 8

/* mov %rdi,%rax; add $0x11,%rax; ret */
static const uint8_t add_0x11[] = {0x48, 0x89, 0xf8, 0x48, 0x83, 0xc0, 0x11, 0xc3};

static uint64_t sum_on_stack(uint64_t n)
{
	volatile uint64_t words[64];
	uint64_t sum = 0;

	for (unsigned i = 0; i < 64; i++)
		words[i] = n + i;
	for (unsigned i = 0; i < 64; i++)
		sum += words[i];
	return sum;
}

void guest_main(void)
{
	uint64_t region = rt_bootarg_hex("region");
	uint64_t *data;

	STEP("the region comes from the bootargs and is 2 MiB-aligned");
	CHECK(region != 0);
	CHECK_EQ(region & 0x1fffff, 0);

	STEP("map eight pages of the region: code, data and stack");
	rt_paging_init();
	for (unsigned i = 0; i < PAGES; i++) {
		uint64_t *page = rt_alloc_page();

		pt_map(rt_kernel_root, region + i * PAGE_SIZE, (uint64_t)page, PTE_W);
		invlpg(region + i * PAGE_SIZE);
	}

	STEP("store a pattern in every page of it and read it back");
	for (unsigned i = 0; i < PAGES; i++) {
		data = (uint64_t *)(region + i * PAGE_SIZE);
		for (unsigned w = 0; w < 512; w += 64)
			data[w] = region + i * PAGE_SIZE + w * 8;
	}
	for (unsigned i = 0; i < PAGES; i++) {
		data = (uint64_t *)(region + i * PAGE_SIZE);
		for (unsigned w = 0; w < 512; w += 64)
			CHECK_EQ(data[w], region + i * PAGE_SIZE + w * 8);
	}

	STEP("run code from its first page and from offset 0x200 of it");
	for (unsigned i = 0; i < sizeof(add_0x11); i++) {
		((volatile uint8_t *)region)[i] = add_0x11[i];
		((volatile uint8_t *)region + 0x200)[i] = add_0x11[i];
	}
	CHECK_EQ(((uint64_t(*)(uint64_t))region)(0x100), 0x111);
	CHECK_EQ(((uint64_t(*)(uint64_t))(region + 0x200))(0x200), 0x211);

	STEP("use its last page as a stack");
	CHECK_EQ(rt_call_on_stack(sum_on_stack, 1000, region + PAGES * PAGE_SIZE),
		 64 * 1000 + 63 * 64 / 2);

	STEP("the data is still there");
	for (unsigned i = 1; i < PAGES - 1; i++)
		CHECK_EQ(*(uint64_t *)(region + i * PAGE_SIZE), region + i * PAGE_SIZE);
	DONE();
}
