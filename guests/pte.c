/*
 * pte - live edits of the guest's own page-table entries take effect as the architecture's
 * TLB rules guarantee: a leaf changed and invalidated with invlpg (another frame,
 * read-only, supervisor-only, no-execute, Accessed/Dirty cleared, and back) is used at the
 * next access, with the exact #PF error code and CR2; so is a changed upper-level entry or
 * a 2 MiB page (one invlpg drops all of it); a not-present entry made present needs no
 * invlpg at all (not-present entries are never cached); a CR3 load, even of the same
 * value, makes every edit visible; CR0.WP decides at once whether the kernel may write
 * read-only pages; a global page (CR4.PGE) follows invlpg and a CR4.PGE toggle; aliases
 * of one frame see each other's writes, with each alias's own permissions.
 *
 * Only what the architecture guarantees is checked: an entry is looked at after its
 * invalidation, never before (whether a stale translation is still used is undefined).
 *
 * Must behave identically in direct mode (the CPU walks the guest's tables) and in shadow
 * mode (lodger shadows them and must follow the same TLB rules: docs/shadow-mode.md).
 */
#include "rt.h"

GUEST("pte");

/* Our test pages, all in one fresh PML4 slot (1 TiB), away from the identity map. */
#define BASE	     0x0000010000000000ULL
#define VA_REMAP     (BASE + 0x0000)
#define VA_RO	     (BASE + 0x1000)
#define VA_USER	     (BASE + 0x2000)
#define VA_CODE	     (BASE + 0x3000)
#define VA_AD	     (BASE + 0x4000)
#define VA_NP	     (BASE + 0x5000)
#define VA_ALIAS1    (BASE + 0x6000)
#define VA_ALIAS2    (BASE + 0x7000)
#define VA_ALIAS_RO  (BASE + 0x8000)
#define VA_ALIAS_U   (BASE + 0x9000)
#define VA_PT_ALIAS  (BASE + 0xa000)		   /* the page table of BASE, mapped as data */
#define VA_GLOBAL    (BASE + 0xb000)		   /* a global page (CR4.PGE) */
#define VA_RELOAD(i) (BASE + 0x10000 + (i)*0x1000) /* the CR3-reload batch */
#define VA_PDE	     (BASE + 0x00400000)	   /* a 2 MiB region of its own */
#define VA_LARGE     (BASE + 0x00800000)	   /* a 2 MiB page */
#define VA_SPLIT     (BASE + 0x00c00000)	   /* a 2 MiB page made into 4 KiB ones */
#define VA_FRESH     (BASE + 0x40000000)	   /* no PD nor PT until the step maps it */
#define OFF	     0x30 /* not page-aligned, so CR2 must be exact; not a pattern word */
#define LARGE	     0x200000ULL

#define PAT_A 0xaaaa000000000000ULL
#define PAT_B 0xbbbb000000000000ULL
#define PAT_C 0xcccc000000000000ULL

/* mov $imm32, %eax; ret */
#define CODE_RET(imm)                                                                              \
	{                                                                                          \
		0xb8, (imm)&0xff, ((imm) >> 8) & 0xff, ((imm) >> 16) & 0xff, ((imm) >> 24) & 0xff, \
			0xc3                                                                       \
	}
#define NOT_RUN 0xdeadu /* what probe_call returns when the call faulted */

/* CPL3 code: RAX = *RDI (0 if it faults); *RDI = RDI. */
__asm__(".pushsection .user.text, \"ax\"\n"
	".globl pte_user_read, pte_user_write\n"
	"pte_user_read:\n"
	"1:\tmovq (%rdi), %rax\n"
	"2:\tjmp rt_user_exit\n" RT_EXTABLE("1b", "2b") "pte_user_write:\n"
							"1:\tmovq %rdi, (%rdi)\n"
							"2:\tjmp rt_user_exit\n" RT_EXTABLE(
								"1b", "2b") ".popsection\n");
extern char pte_user_read[], pte_user_write[];

static uint64_t user_read(uint64_t va)
{
	return rt_user_call((void (*)(void))pte_user_read, va);
}

static void user_write(uint64_t va)
{
	rt_user_call((void (*)(void))pte_user_write, va);
}

/* The last #PF. */
static struct {
	unsigned count;
	uint64_t error, cr2;
	bool user;
} pf;
static unsigned expected_faults;

static void page_fault(struct rt_frame *f)
{
	pf.count++;
	pf.error = f->error;
	pf.cr2 = read_cr2();
	pf.user = (f->cs & 0xffff) == rt_boot.user_cs;
	if (rt_fixup(f))
		return;
	if (!pf.user && (f->error & PF_I)) { /* probe_call: back to the call */
		f->rip = *(uint64_t *)f->rsp;
		f->rsp += 8;
		return;
	}
	rt_unexpected(f);
}

/* Exactly one new #PF, with this error code and CR2. */
#define CHECK_PF(err, addr)                                                                        \
	do {                                                                                       \
		CHECK_EQ(pf.count, ++expected_faults);                                             \
		CHECK_EQ(pf.error, (err));                                                         \
		CHECK_EQ(pf.cr2, (addr));                                                          \
		CHECK_EQ(pf.user, ((err)&PF_U) != 0);                                              \
	} while (0)
#define CHECK_NO_PF() CHECK_EQ(pf.count, expected_faults)

/* Calls the code at va (it returns a value in EAX); NOT_RUN if the fetch faulted. */
static uint64_t probe_call(uint64_t va)
{
	uint64_t r;

	__asm__ volatile("movl %2, %%eax\n\t"
			 "call *%1"
			 : "=&a"(r)
			 : "r"(va), "i"(NOT_RUN)
			 : "memory", "cc");
	return r;
}

#define PTE_G	(1ULL << 8)
#define CR4_PGE (1ULL << 7)

/* A fresh frame holding pattern + i in word i (a few words, enough to tell frames apart). */
static uint64_t frame(uint64_t pattern)
{
	uint64_t f = (uint64_t)rt_alloc_page();

	for (unsigned i = 0; i < 512; i += 5)
		poke(f + 8 * i, pattern + i);
	return f;
}

static uint64_t code_frame(const uint8_t *code, unsigned len)
{
	uint64_t f = (uint64_t)rt_alloc_page();

	for (unsigned i = 0; i < len; i++)
		((volatile uint8_t *)f)[i] = code[i];
	return f;
}

static volatile uint64_t *pte_of(uint64_t *root, uint64_t va)
{
	volatile uint64_t *e = pt_entry(root, va, 1);

	if (!e)
		rt_fail("no page table for 0x%lx", va);
	return e;
}

void guest_main(void)
{
	static const uint8_t ret_c0de[] = CODE_RET(0xc0de), ret_beef[] = CODE_RET(0xbeef);
	uint64_t *root, fa, fb, fc, code1, code2, large1, large2;
	volatile uint64_t *pte, *e;

	rt_set_handler(VEC_PF, page_fault);

	STEP("our own tables: RAM 1:1, the user pages U=1; frames A, B, C with patterns");
	rt_paging_init();
	root = rt_kernel_root;
	rt_map_user_pages(root);
	fa = frame(PAT_A);
	fb = frame(PAT_B);
	fc = frame(PAT_C);

	STEP("map a page to frame A: it reads A");
	pt_map(root, VA_REMAP, fa, PTE_W | PTE_NX);
	invlpg(VA_REMAP);
	CHECK_EQ(peek(VA_REMAP), PAT_A);
	CHECK_EQ(peek(VA_REMAP + 8 * 10), PAT_A + 10);

	STEP("remap it to frame B and invlpg: it reads B, and a write reaches B, not A");
	pte = pte_of(root, VA_REMAP);
	*pte = fb | PTE_P | PTE_W | PTE_NX;
	invlpg(VA_REMAP);
	CHECK_EQ(peek(VA_REMAP), PAT_B);
	CHECK_EQ(peek(VA_REMAP + 8 * 10), PAT_B + 10);
	poke(VA_REMAP + 8, 0xb1);
	CHECK_EQ(peek(fb + 8), 0xb1);
	CHECK_EQ(peek(fa + 8), 0);

	STEP("edit the entry through an alias of its page table, invlpg: it reads A again");
	pt_map(root, VA_PT_ALIAS, (uint64_t)pte & PTE_ADDR, PTE_W | PTE_NX);
	invlpg(VA_PT_ALIAS);
	CHECK_EQ(peek(VA_PT_ALIAS + ((uint64_t)pte & 0xfff)) & PTE_ADDR, fb);
	poke(VA_PT_ALIAS + ((uint64_t)pte & 0xfff), fa | PTE_P | PTE_W | PTE_NX);
	invlpg(VA_REMAP);
	CHECK_EQ(peek(VA_REMAP), PAT_A);
	CHECK_NO_PF();

	STEP("make a writable page read-only and invlpg: a write faults P=1 W=1, A unchanged");
	pt_map(root, VA_RO, fa, PTE_W | PTE_NX);
	invlpg(VA_RO);
	poke(VA_RO + OFF, 0x5a); /* a writable translation in use right before the change */
	CHECK_EQ(peek(fa + OFF), 0x5a);
	pte = pte_of(root, VA_RO);
	*pte &= ~PTE_W;
	invlpg(VA_RO);
	rt_probe_write(VA_RO + OFF, 0xbad);
	CHECK_PF(PF_P | PF_W, VA_RO + OFF);
	CHECK_EQ(peek(fa + OFF), 0x5a);
	CHECK_EQ(peek(VA_RO + OFF), 0x5a); /* reads still work */

	STEP("writable again and invlpg: the write works");
	*pte |= PTE_W;
	invlpg(VA_RO);
	rt_probe_write(VA_RO + OFF, 0x5b);
	CHECK_NO_PF();
	CHECK_EQ(peek(fa + OFF), 0x5b);

	STEP("a user page: user mode reads and writes it");
	pt_map(root, VA_USER, fc, PTE_U | PTE_W | PTE_NX);
	invlpg(VA_USER);
	CHECK_EQ(user_read(VA_USER + 8 * 5), PAT_C + 5);
	user_write(VA_USER + OFF);
	CHECK_EQ(peek(fc + OFF), VA_USER + OFF);
	CHECK_NO_PF();

	STEP("clear its U bit and invlpg: user reads and writes fault P=1 U=1, the kernel reads");
	pte = pte_of(root, VA_USER);
	*pte &= ~PTE_U;
	invlpg(VA_USER);
	CHECK_EQ(user_read(VA_USER + 8 * 5), 0);
	CHECK_PF(PF_P | PF_U, VA_USER + 8 * 5);
	user_write(VA_USER + 8);
	CHECK_PF(PF_P | PF_W | PF_U, VA_USER + 8);
	CHECK_EQ(peek(fc + 8), 0); /* unchanged */
	CHECK_EQ(peek(VA_USER + 8 * 5), PAT_C + 5);

	STEP("U=1 again, read-only, invlpg: user reads work, user writes fault P=1 W=1 U=1");
	*pte = (*pte | PTE_U) & ~PTE_W;
	invlpg(VA_USER);
	CHECK_EQ(user_read(VA_USER + 8 * 5), PAT_C + 5);
	user_write(VA_USER + 16);
	CHECK_PF(PF_P | PF_W | PF_U, VA_USER + 16);
	CHECK_EQ(peek(fc + 16), 0);
	*pte |= PTE_W;
	invlpg(VA_USER);
	user_write(VA_USER + 16);
	CHECK_EQ(peek(fc + 16), VA_USER + 16);
	CHECK_NO_PF();

	STEP("code: a call to an executable page runs it");
	code1 = code_frame(ret_c0de, sizeof(ret_c0de));
	code2 = code_frame(ret_beef, sizeof(ret_beef));
	pt_map(root, VA_CODE, code1, 0);
	invlpg(VA_CODE);
	CHECK_EQ(probe_call(VA_CODE), 0xc0de);

	STEP("set NX and invlpg: the call faults on the fetch, P=1 I=1");
	pte = pte_of(root, VA_CODE);
	*pte |= PTE_NX;
	invlpg(VA_CODE);
	CHECK_EQ(probe_call(VA_CODE), NOT_RUN);
	CHECK_PF(PF_P | PF_I, VA_CODE);
	CHECK_EQ(peek(VA_CODE) & 0xff, 0xb8); /* still readable */

	STEP("clear NX and remap to other code, invlpg: the new code runs");
	*pte = code2 | PTE_P;
	invlpg(VA_CODE);
	CHECK_EQ(probe_call(VA_CODE), 0xbeef);
	CHECK_NO_PF();

	STEP("Accessed and Dirty: clear both, invlpg; a read sets A only, a write sets D");
	pt_map(root, VA_AD, fb, PTE_W | PTE_NX);
	invlpg(VA_AD);
	poke(VA_AD, 1);
	pte = pte_of(root, VA_AD);
	CHECK_EQ(*pte & (PTE_A | PTE_D), PTE_A | PTE_D);
	*pte &= ~(PTE_A | PTE_D);
	invlpg(VA_AD);
	CHECK_EQ(peek(VA_AD), 1);
	CHECK_EQ(*pte & (PTE_A | PTE_D), PTE_A);
	poke(VA_AD, 2);
	CHECK_EQ(*pte & (PTE_A | PTE_D), PTE_A | PTE_D);
	CHECK_EQ(peek(fb), 2);

	STEP("the same from user mode: clear A and D, invlpg; a user read sets A, a write D");
	pte = pte_of(root, VA_USER);
	*pte &= ~(PTE_A | PTE_D);
	invlpg(VA_USER);
	CHECK_EQ(user_read(VA_USER + 16), VA_USER + 16);
	CHECK_EQ(*pte & (PTE_A | PTE_D), PTE_A);
	user_write(VA_USER + 24);
	CHECK_EQ(*pte & (PTE_A | PTE_D), PTE_A | PTE_D);
	CHECK_EQ(peek(fc + 24), VA_USER + 24);
	CHECK_NO_PF();

	STEP("not present -> present needs no invlpg: after a fault, set P, the read works");
	pt_map(root, VA_NP, fa, PTE_W | PTE_NX);
	invlpg(VA_NP);
	CHECK_EQ(peek(VA_NP + 8 * 10), PAT_A + 10);
	pte = pte_of(root, VA_NP);
	*pte = 0;
	invlpg(VA_NP);
	CHECK_EQ(rt_probe_read(VA_NP + OFF), 0);
	CHECK_PF(0, VA_NP + OFF);
	*pte = fb | PTE_P | PTE_W | PTE_NX; /* no invlpg */
	CHECK_EQ(peek(VA_NP + 8 * 10), PAT_B + 10);

	STEP("... and a write after a write fault, and a user read after a user fault");
	*pte = 0;
	invlpg(VA_NP);
	rt_probe_write(VA_NP + OFF, 0x77);
	CHECK_PF(PF_W, VA_NP + OFF);
	*pte = fb | PTE_P | PTE_W | PTE_NX; /* no invlpg */
	rt_probe_write(VA_NP + OFF, 0x77);
	CHECK_NO_PF();
	CHECK_EQ(peek(fb + OFF), 0x77);
	*pte = 0;
	invlpg(VA_NP);
	CHECK_EQ(user_read(VA_NP + OFF), 0);
	CHECK_PF(PF_U, VA_NP + OFF);
	*pte = fb | PTE_P | PTE_U | PTE_NX; /* no invlpg */
	CHECK_EQ(user_read(VA_NP + OFF), 0x77);
	CHECK_NO_PF();

	STEP("... and a region with no page directory yet: build its tables, no invlpg");
	CHECK_EQ(rt_probe_read(VA_FRESH + OFF), 0);
	CHECK_PF(0, VA_FRESH + OFF);
	pt_map(root, VA_FRESH, fc, PTE_NX); /* a new PD and PT: no invlpg */
	CHECK_EQ(peek(VA_FRESH + 8 * 5), PAT_C + 5);
	CHECK_NO_PF();

	STEP("an upper level: clear R/W in the page-directory entry, invlpg: a write faults");
	pt_map(root, VA_PDE, fa, PTE_W | PTE_NX);
	invlpg(VA_PDE);
	poke(VA_PDE + OFF, 0x1de);
	e = pt_entry(root, VA_PDE, 2);
	*e &= ~PTE_W;
	invlpg(VA_PDE);
	rt_probe_write(VA_PDE + OFF, 0xbad);
	CHECK_PF(PF_P | PF_W, VA_PDE + OFF);
	CHECK_EQ(peek(VA_PDE + OFF), 0x1de);
	*e |= PTE_W;
	invlpg(VA_PDE);
	rt_probe_write(VA_PDE + OFF, 0x1df);
	CHECK_NO_PF();
	CHECK_EQ(peek(fa + OFF), 0x1df);

	STEP("clear U in the PDPT entry above a user page, invlpg: a user read faults P=1 U=1");
	e = pt_entry(root, VA_USER, 3);
	*e &= ~PTE_U;
	invlpg(VA_USER);
	CHECK_EQ(user_read(VA_USER + 8 * 5), 0);
	CHECK_PF(PF_P | PF_U, VA_USER + 8 * 5);
	*e |= PTE_U;
	invlpg(VA_USER);
	CHECK_EQ(user_read(VA_USER + 8 * 5), PAT_C + 5);
	CHECK_NO_PF();

	STEP("a CR3 load of the same value: six edits made without invlpg are all seen");
	for (unsigned i = 0; i < 6; i++)
		pt_map(root, VA_RELOAD(i), fa, PTE_W | PTE_U | PTE_NX);
	pt_map(root, VA_RELOAD(3), code1, PTE_U);
	for (unsigned i = 0; i < 6; i++)
		invlpg(VA_RELOAD(i));
	/* Use every translation, so that each may be cached right before its edit. */
	CHECK_EQ(peek(VA_RELOAD(0) + 8 * 10), PAT_A + 10);
	poke(VA_RELOAD(1) + OFF, 0x11);
	CHECK_EQ(peek(VA_RELOAD(2) + 8 * 5), PAT_A + 5);
	CHECK_EQ(probe_call(VA_RELOAD(3)), 0xc0de);
	CHECK_EQ(user_read(VA_RELOAD(4)), PAT_A);
	poke(VA_RELOAD(5) + 8, 0x55);
	CHECK_NO_PF();
	*pte_of(root, VA_RELOAD(0)) = fb | PTE_P | PTE_W | PTE_NX; /* another frame */
	*pte_of(root, VA_RELOAD(1)) &= ~PTE_W;			   /* read-only */
	*pte_of(root, VA_RELOAD(2)) = 0;			   /* not present */
	*pte_of(root, VA_RELOAD(3)) |= PTE_NX;			   /* no-execute */
	*pte_of(root, VA_RELOAD(4)) &= ~PTE_U;			   /* supervisor */
	*pte_of(root, VA_RELOAD(5)) &= ~(PTE_A | PTE_D);	   /* A and D clear */
	write_cr3(read_cr3());
	CHECK_EQ(peek(VA_RELOAD(0) + 8 * 10), PAT_B + 10);
	rt_probe_write(VA_RELOAD(1) + OFF, 0xbad);
	CHECK_PF(PF_P | PF_W, VA_RELOAD(1) + OFF);
	CHECK_EQ(peek(fa + OFF), 0x11);
	CHECK_EQ(rt_probe_read(VA_RELOAD(2) + 8 * 5), 0);
	CHECK_PF(0, VA_RELOAD(2) + 8 * 5);
	CHECK_EQ(probe_call(VA_RELOAD(3)), NOT_RUN);
	CHECK_PF(PF_P | PF_I, VA_RELOAD(3));
	CHECK_EQ(user_read(VA_RELOAD(4)), 0);
	CHECK_PF(PF_P | PF_U, VA_RELOAD(4));
	pte = pte_of(root, VA_RELOAD(5));
	CHECK_EQ(peek(VA_RELOAD(5) + 8), 0x55);
	CHECK_EQ(*pte & (PTE_A | PTE_D), PTE_A);
	poke(VA_RELOAD(5) + 8, 0x56);
	CHECK_EQ(*pte & (PTE_A | PTE_D), PTE_A | PTE_D);

	STEP("a 2 MiB page remapped to another 2 MiB frame: one invlpg drops all of it");
	large1 = (uint64_t)rt_alloc_pages(512, LARGE);
	large2 = (uint64_t)rt_alloc_pages(512, LARGE);
	for (uint64_t off = 0; off < LARGE; off += 0x80000) {
		poke(large1 + off + OFF, PAT_A + off);
		poke(large2 + off + OFF, PAT_B + off);
	}
	pt_map_large(root, VA_LARGE, large1, PTE_W | PTE_NX);
	invlpg(VA_LARGE);
	for (uint64_t off = 0; off < LARGE; off += 0x80000)
		CHECK_EQ(peek(VA_LARGE + off + OFF), PAT_A + off);
	*pt_entry(root, VA_LARGE, 2) = large2 | PTE_P | PTE_PS | PTE_W | PTE_NX;
	invlpg(VA_LARGE + 0x123456);
	for (uint64_t off = 0; off < LARGE; off += 0x80000)
		CHECK_EQ(peek(VA_LARGE + off + OFF), PAT_B + off);

	STEP("a 2 MiB page replaced by a page table, invlpg: the address sees its 4 KiB page");
	pt_map_large(root, VA_SPLIT, large1, PTE_W | PTE_NX);
	invlpg(VA_SPLIT);
	CHECK_EQ(peek(VA_SPLIT + 0x80000 + OFF), PAT_A + 0x80000);
	{
		uint64_t *pt = rt_alloc_page();

		for (unsigned i = 0; i < 512; i++)
			pt[i] = (large1 + i * PAGE_SIZE) | PTE_P | PTE_W | PTE_NX;
		pt[0x80] = (large2 + 0x80000) | PTE_P | PTE_W | PTE_NX; /* the one that changes */
		*pt_entry(root, VA_SPLIT, 2) = (uint64_t)pt | PTE_P | PTE_W;
	}
	invlpg(VA_SPLIT + 0x80000);
	CHECK_EQ(peek(VA_SPLIT + 0x80000 + OFF), PAT_B + 0x80000);
	CHECK_NO_PF();

	STEP("CR0.WP clear: a kernel write to a read-only page works, a user write still faults");
	pt_map(root, VA_RO, fa, PTE_U | PTE_NX); /* read-only, user */
	invlpg(VA_RO);
	write_cr0(read_cr0() & ~CR0_WP);
	rt_probe_write(VA_RO + OFF, 0x3c);
	CHECK_NO_PF();
	CHECK_EQ(peek(fa + OFF), 0x3c);
	user_write(VA_RO + OFF);
	CHECK_PF(PF_P | PF_W | PF_U, VA_RO + OFF);
	CHECK_EQ(peek(fa + OFF), 0x3c);

	STEP("CR0.WP set again: the kernel write faults P=1 W=1");
	write_cr0(read_cr0() | CR0_WP);
	rt_probe_write(VA_RO + OFF, 0xbad);
	CHECK_PF(PF_P | PF_W, VA_RO + OFF);
	CHECK_EQ(peek(fa + OFF), 0x3c);

	STEP("CR4.PGE and a global page: a change is seen after invlpg, and after PGE toggles");
	write_cr4(read_cr4() | CR4_PGE);
	pt_map(root, VA_GLOBAL, fa, PTE_G | PTE_W | PTE_NX);
	invlpg(VA_GLOBAL);
	CHECK_EQ(peek(VA_GLOBAL + 8 * 10), PAT_A + 10);
	*pte_of(root, VA_GLOBAL) = fb | PTE_P | PTE_G | PTE_W | PTE_NX;
	invlpg(VA_GLOBAL);
	CHECK_EQ(peek(VA_GLOBAL + 8 * 10), PAT_B + 10);
	*pte_of(root, VA_GLOBAL) = fc | PTE_P | PTE_G | PTE_W | PTE_NX;
	write_cr4(read_cr4() & ~CR4_PGE); /* flushes global entries too */
	CHECK_EQ(peek(VA_GLOBAL + 8 * 10), PAT_C + 10);
	CHECK_NO_PF();

	STEP("aliases: one frame at two writable VAs, a read-only one and a user one");
	pt_map(root, VA_ALIAS1, fc, PTE_W | PTE_NX);
	pt_map(root, VA_ALIAS2, fc, PTE_W | PTE_NX);
	pt_map(root, VA_ALIAS_RO, fc, PTE_NX);
	pt_map(root, VA_ALIAS_U, fc, PTE_U | PTE_W | PTE_NX);
	invlpg(VA_ALIAS1);
	invlpg(VA_ALIAS2);
	invlpg(VA_ALIAS_RO);
	invlpg(VA_ALIAS_U);
	poke(VA_ALIAS1 + OFF, 0xa1);
	CHECK_EQ(peek(VA_ALIAS2 + OFF), 0xa1);
	CHECK_EQ(peek(VA_ALIAS_RO + OFF), 0xa1);
	CHECK_EQ(user_read(VA_ALIAS_U + OFF), 0xa1);
	poke(VA_ALIAS2 + OFF, 0xa2);
	CHECK_EQ(peek(VA_ALIAS1 + OFF), 0xa2);
	CHECK_EQ(peek(fc + OFF), 0xa2);
	user_write(VA_ALIAS_U + OFF);
	CHECK_EQ(peek(VA_ALIAS1 + OFF), VA_ALIAS_U + OFF);
	CHECK_EQ(peek(VA_ALIAS_RO + OFF), VA_ALIAS_U + OFF);
	CHECK_NO_PF();

	STEP("the read-only alias faults on a write, the writable ones still work");
	rt_probe_write(VA_ALIAS_RO + OFF, 0xbad);
	CHECK_PF(PF_P | PF_W, VA_ALIAS_RO + OFF);
	CHECK_EQ(peek(VA_ALIAS2 + OFF), VA_ALIAS_U + OFF);
	poke(VA_ALIAS2 + OFF, 0xa3);
	CHECK_EQ(peek(VA_ALIAS_RO + OFF), 0xa3);
	CHECK_EQ(user_read(VA_ALIAS_U + OFF), 0xa3);
	user_read(VA_ALIAS1); /* supervisor-only alias: the user one stays the only way in */
	CHECK_PF(PF_P | PF_U, VA_ALIAS1);

	STEP("no other page fault happened");
	CHECK_NO_PF();
	CHECK_EQ(expected_faults, 19);

	DONE();
}
