/*
 * addrspace - context switches between address spaces, as an OS does between processes:
 * ten page-table roots that all link the same kernel tables (RAM 1:1, the APICs, the
 * shared user text and stack) into their PML4, and each map private pages of their own at
 * the same virtual addresses: kernel data, user data and user code. CR3 goes round-robin
 * through them 200 times; each time the space must see its own private data (kernel and
 * user mode, through its own code) and the kernel data all spaces share. A write in one
 * space is not seen in another; a page mapped in one space only faults (not present) in
 * every other; a change made to the shared kernel tables in one space is seen in all of
 * them after their CR3 loads; a private page unmapped in one space faults there only.
 *
 * Must behave identically in direct mode (the CPU walks each root) and in shadow mode
 * (lodger keeps shadow roots per guest CR3, for kernel and user mode, and must never let
 * one space see through another's shadow, however many spaces it caches or evicts).
 */
#include "rt.h"

GUEST("addrspace");

#define SPACES	 10
#define SWITCHES 200

/* Private pages: the same addresses in every space, a fresh PML4 slot (512 GiB). */
#define PRIV	   0x0000008000000000ULL
#define PRIV_KDATA (PRIV + 0x0000)   /* supervisor data */
#define PRIV_UDATA (PRIV + 0x1000)   /* user data */
#define PRIV_UCODE (PRIV + 0x2000)   /* user code */
#define ONLY_IN_0  (PRIV + 0x200000) /* a user page mapped in space 0 only */
/* Shared: in the kernel tables (PML4 slot 0, linked into every space), past RAM's map. */
#define SHARED_VA  0x0000000040000000ULL
#define SHARED_VA2 0x0000000040001000ULL

#define KTAG(i) (0x6b65726e00000000ULL | (i))	   /* word 0 of space i's kernel page */
#define UTAG(i) (0x7573657200000000ULL | (i) << 8) /* word 0 of its user page */
#define CTAG(i) (0xc0de0000ULL + (i))		   /* the constant in its user code */

/*
 * The user code of each space, copied into a page of its own and mapped at PRIV_UCODE:
 * it counts its runs in word 1 of the space's user page and returns word 0 of that page
 * plus a constant patched in per space (at space_code_tag + 2).
 */
__asm__(".pushsection .rodata\n"
	".globl space_code, space_code_tag, space_code_end\n"
	"space_code:\n\t"
	"movabsq $0x0000008000001000, %rcx\n\t" /* PRIV_UDATA */
	"incq 8(%rcx)\n\t"
	"movq (%rcx), %rax\n"
	"space_code_tag:\n\t"
	"movabsq $0, %rdx\n\t"
	"addq %rdx, %rax\n\t"
	"movabsq $rt_user_exit, %rcx\n\t"
	"jmp *%rcx\n"
	"space_code_end:\n"
	".popsection\n");
extern const uint8_t space_code[], space_code_tag[], space_code_end[];

/* Shared CPL3 code: RAX = *RDI, or 0 if the read faults. */
__asm__(".pushsection .user.text, \"ax\"\n"
	".globl as_user_read\n"
	"as_user_read:\n"
	"1:\tmovq (%rdi), %rax\n"
	"2:\tjmp rt_user_exit\n" RT_EXTABLE("1b", "2b") ".popsection\n");
extern char as_user_read[];

static uint64_t *kernel, *roots[SPACES];
static uint64_t kdata[SPACES], udata[SPACES], ucode[SPACES];
static unsigned visits[SPACES], user_runs[SPACES];
static volatile uint64_t shared_counter; /* kernel .data: one copy for all spaces */

/* The last #PF. */
static struct {
	unsigned count;
	uint64_t error, cr2;
} pf;
static unsigned expected_faults;

static void page_fault(struct rt_frame *f)
{
	pf.count++;
	pf.error = f->error;
	pf.cr2 = read_cr2();
	if (!rt_fixup(f))
		rt_unexpected(f);
}

#define CHECK_PF(err, addr)                                                                        \
	do {                                                                                       \
		CHECK_EQ(pf.count, ++expected_faults);                                             \
		CHECK_EQ(pf.error, (err));                                                         \
		CHECK_EQ(pf.cr2, (addr));                                                          \
	} while (0)

static uint64_t user_read(uint64_t va)
{
	return rt_user_call((void (*)(void))as_user_read, va);
}

static uint64_t run_space_code(void)
{
	return rt_user_call((void (*)(void))PRIV_UCODE, 0);
}

static void switch_to(unsigned i)
{
	write_cr3((uint64_t)roots[i]);
	CHECK_EQ(read_cr3(), (uint64_t)roots[i]);
}

void guest_main(void)
{
	const uint64_t code_len = (uint64_t)(space_code_end - space_code);
	const uint64_t tag_off = (uint64_t)(space_code_tag - space_code) + 2;
	uint64_t only_frame, shared_frame, shared_frame2;

	rt_set_handler(VEC_PF, page_fault);

	STEP("kernel tables: RAM 1:1, the APICs and the shared user pages, in PML4 slot 0");
	kernel = pt_new_kernel_space();
	rt_map_user_pages(kernel);
	CHECK(kernel[0] & PTE_P);
	for (unsigned s = 1; s < 512; s++)
		CHECK_EQ(kernel[s], 0);

	STEP("ten spaces link the kernel tables and map private pages at the same addresses");
	for (unsigned i = 0; i < SPACES; i++) {
		uint8_t *code;

		roots[i] = rt_alloc_page();
		roots[i][0] = kernel[0];
		kdata[i] = (uint64_t)rt_alloc_page();
		udata[i] = (uint64_t)rt_alloc_page();
		ucode[i] = (uint64_t)rt_alloc_page();
		poke(kdata[i], KTAG(i));
		poke(udata[i], UTAG(i));
		code = (uint8_t *)ucode[i];
		for (uint64_t b = 0; b < code_len; b++)
			code[b] = space_code[b];
		poke(ucode[i] + tag_off, CTAG(i)); /* unaligned: the imm64 of movabsq */
		pt_map(roots[i], PRIV_KDATA, kdata[i], PTE_W | PTE_NX);
		pt_map(roots[i], PRIV_UDATA, udata[i], PTE_U | PTE_W | PTE_NX);
		pt_map(roots[i], PRIV_UCODE, ucode[i], PTE_U);
	}
	only_frame = (uint64_t)rt_alloc_page();
	poke(only_frame, 0x0a1e);
	pt_map(roots[0], ONLY_IN_0, only_frame, PTE_U | PTE_W | PTE_NX);

	STEP("a shared page mapped once in the kernel tables appears in every space");
	shared_frame = (uint64_t)rt_alloc_page();
	pt_map(kernel, SHARED_VA, shared_frame, PTE_W | PTE_NX);
	for (unsigned i = 0; i < SPACES; i++) {
		CHECK_EQ(roots[i][0], kernel[0]);
		CHECK_EQ(roots[i][1] & PTE_P, PTE_P);
		CHECK(roots[i][1] != roots[(i + 1) % SPACES][1]);
	}

	STEP("200 switches round-robin: each space sees its own data, kernel and user");
	for (unsigned n = 0; n < SWITCHES; n++) {
		unsigned i = n % SPACES;

		switch_to(i);
		/* Its own private kernel page, with the count of our earlier visits. */
		CHECK_EQ(peek(PRIV_KDATA), KTAG(i));
		CHECK_EQ(peek(PRIV_KDATA + 8), visits[i]);
		poke(PRIV_KDATA + 8, ++visits[i]);
		/* The kernel data every space shares: .data and the shared page. */
		CHECK_EQ(shared_counter, n);
		shared_counter = n + 1;
		CHECK_EQ(peek(SHARED_VA), n);
		poke(SHARED_VA, n + 1);
		/* Its own user code, reading and counting in its own user page. */
		CHECK_EQ(run_space_code(), UTAG(i) + CTAG(i));
		CHECK_EQ(peek(PRIV_UDATA + 8), ++user_runs[i]);
	}
	for (unsigned i = 0; i < SPACES; i++) {
		CHECK_EQ(peek(kdata[i] + 8), SWITCHES / SPACES);
		CHECK_EQ(peek(udata[i] + 8), SWITCHES / SPACES);
	}
	CHECK_EQ(peek(shared_frame), SWITCHES);
	CHECK_EQ(pf.count, 0);

	STEP("a write in space 0 (kernel and user pages) is not seen in any other space");
	switch_to(0);
	poke(PRIV_KDATA + 16, 0x5ec2e7);
	poke(PRIV_UDATA + 16, 0x5ec2e7);
	for (unsigned i = 1; i < SPACES; i++) {
		switch_to(i);
		CHECK_EQ(peek(PRIV_KDATA + 16), 0);
		CHECK_EQ(peek(PRIV_UDATA + 16), 0);
		CHECK_EQ(user_read(PRIV_UDATA + 16), 0);
		CHECK_EQ(user_read(PRIV_UDATA), UTAG(i));
	}
	switch_to(0);
	CHECK_EQ(peek(PRIV_KDATA + 16), 0x5ec2e7);
	CHECK_EQ(user_read(PRIV_UDATA + 16), 0x5ec2e7);
	CHECK_EQ(pf.count, 0);

	STEP("the private kernel page is supervisor-only: user code faults P=1 U=1 in each space");
	for (unsigned i = 0; i < SPACES; i += 3) {
		switch_to(i);
		CHECK_EQ(user_read(PRIV_KDATA + 8), 0);
		CHECK_PF(PF_P | PF_U, PRIV_KDATA + 8);
	}

	STEP("a page mapped in space 0 only: read there, not present in every other space");
	switch_to(0);
	CHECK_EQ(peek(ONLY_IN_0), 0x0a1e);
	CHECK_EQ(user_read(ONLY_IN_0), 0x0a1e);
	for (unsigned i = 1; i < SPACES; i++) {
		switch_to(i);
		CHECK_EQ(rt_probe_read(ONLY_IN_0), 0);
		CHECK_PF(0, ONLY_IN_0);
		CHECK_EQ(user_read(ONLY_IN_0 + 8), 0);
		CHECK_PF(PF_U, ONLY_IN_0 + 8);
	}
	switch_to(0);
	CHECK_EQ(user_read(ONLY_IN_0), 0x0a1e);

	STEP("remap the shared page in space 2 (invlpg there): every space sees the new frame");
	shared_frame2 = (uint64_t)rt_alloc_page();
	poke(shared_frame2, 0x2a2a);
	switch_to(2);
	CHECK_EQ(peek(SHARED_VA), SWITCHES);
	pt_map(kernel, SHARED_VA, shared_frame2, PTE_W | PTE_NX);
	invlpg(SHARED_VA);
	CHECK_EQ(peek(SHARED_VA), 0x2a2a);
	for (unsigned i = 0; i < SPACES; i++) {
		switch_to(i);
		CHECK_EQ(peek(SHARED_VA), 0x2a2a);
	}

	STEP("add a shared user page in space 5: user code in every space reads it");
	switch_to(5);
	pt_map(kernel, SHARED_VA2, shared_frame2, PTE_U | PTE_NX);
	invlpg(SHARED_VA2);
	for (unsigned i = 0; i < SPACES; i++) {
		switch_to((i + 5) % SPACES);
		CHECK_EQ(user_read(SHARED_VA2), 0x2a2a);
	}

	STEP("unmap space 3's private pages (invlpg): they fault there, the others keep theirs");
	switch_to(3);
	pt_unmap(roots[3], PRIV_KDATA);
	pt_unmap(roots[3], PRIV_UDATA);
	invlpg(PRIV_KDATA);
	invlpg(PRIV_UDATA);
	CHECK_EQ(rt_probe_read(PRIV_KDATA), 0);
	CHECK_PF(0, PRIV_KDATA);
	CHECK_EQ(user_read(PRIV_UDATA), 0);
	CHECK_PF(PF_U, PRIV_UDATA);
	for (unsigned n = 0; n < 2 * SPACES; n++) {
		unsigned i = n % SPACES;

		if (i == 3)
			continue;
		switch_to(i);
		CHECK_EQ(peek(PRIV_KDATA), KTAG(i));
		CHECK_EQ(run_space_code(), UTAG(i) + CTAG(i));
	}
	switch_to(3);
	CHECK_EQ(rt_probe_read(PRIV_KDATA + 8), 0);
	CHECK_PF(0, PRIV_KDATA + 8);

	STEP("no other page fault happened");
	CHECK_EQ(pf.count, expected_faults);
	CHECK_EQ(expected_faults, 4 + 2 * (SPACES - 1) + 3);

	DONE();
}
