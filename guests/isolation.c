/*
 * isolation - the guest tries every way it can think of to reach what is not its own,
 * and each attempt must be contained exactly as the architecture says. In shadow mode a
 * monitor stub (IDT, GDT, TSS, trap code), lodger's shadow page tables and its monitor
 * memory (guest-physical 4 GiB, never described to the guest) lie behind these doors; in
 * direct mode nothing does. The guest passes only if every check holds and it (and
 * lodger) keeps working afterwards.
 *
 *   - CR0, CR4, EFER read as the boot contract set them; the MSRs a monitor needs for
 *     itself (LSTAR, STAR, FMASK, the GS bases, SYSENTER_*) hold what the guest wrote;
 *   - guest-physical frames beyond RAM (just past it, at 4 GiB, 4 GiB + 64 KiB, 5 GiB,
 *     64 GiB, 1 << 46, and 2 MiB pages over [4 GiB, 4 GiB + 16 MiB)) read as all ones
 *     (open bus) with every width, read-modify-write and string instruction, from kernel
 *     and user mode; writes to them are dropped; a page table placed there gives the
 *     walk nothing (#PF P=0); a frame at 1 << MAXPHYADDR is a reserved-bit #PF;
 *   - every frame of its RAM, through a second mapping of all of it: a word flipped there
 *     is the word of that frame, and nothing beyond RAM changes;
 *   - lidt/lgdt of odd bases and limits read back exactly with sidt/sgdt; a base that is
 *     canonical in no address width is refused with #GP(0);
 *   - from user mode: privileged instructions (cli, sti, hlt, mov to/from CR and DR,
 *     lidt, lgdt, lldt, ltr, lmsw, clts, invlpg, wbinvd, invd, rdmsr, wrmsr, rdpmc, swapgs,
 *     sysretq, port I/O to isa-debug-exit, power-off and the UART) #GP(0) with the right
 *     frame and change nothing; popfq cannot clear IF or raise IOPL; sysenter reaches
 *     nothing but the guest's own kernel (or #UD); iretq, lretq, ljmp and lcall to
 *     kernel-cs #GP(kernel-cs); the kernel's IDT, GDT and TSS are out of reach; an
 *     alignment check (#AC) is the user's alone, never the kernel's;
 *   - sgdt, sidt, sldt, str and smsw from user mode show the guest's own values (never a
 *     monitor's), and #GP(0) with CR4.UMIP when CPUID has it;
 *   - a kernel stack (TSS.RSP0) the CPU cannot write to (unmapped, read-only): a trap from
 *     user mode becomes #DF on the IST stack, and the kernel recovers.
 *
 * Destructive attempts run alone, chosen with the bootarg attack=NAME; tests/guest expects
 * each to end in a triple fault (lodger's status 8) right after its STEP line, in both
 * modes: cr3-zero-page, cr3-beyond-ram, idt-null, idt-beyond-ram. attack=stub-region
 * reads, then maps and uses, the linear region where lodger puts its stub by default in
 * shadow mode (and the top of the upper half), and passes: the stub must move away.
 *
 * Must behave identically in direct mode (the oracle) and in shadow mode; nothing printed
 * depends on the mode.
 */
#include "rt.h"

GUEST("isolation");

#define GiB   (1ULL << 30)
#define MiB   (1ULL << 20)
#define KiB   (1ULL << 10)
#define ONES  0xffffffffffffffffULL
#define LARGE (2 * MiB)

/* Linear layout of our own mappings (PML4 slots of their own). */
#define VA_BEYOND    0x0000010000000000ULL /* 4 KiB pages onto frames beyond RAM */
#define VA_MONITOR   0x0000018000000000ULL /* 2 MiB pages onto [4 GiB, 4 GiB + 16 MiB) */
#define VA_ALIAS     0x0000020000000000ULL /* all of RAM again, 2 MiB pages */
#define VA_UNMAPPED  0x0000030000000000ULL /* never mapped */
#define VA_RO_STACK  0x0000038000000000ULL /* a read-only page */
#define VA_TABLES    0x0000040000000000ULL /* page tables beyond RAM */
#define MONITOR_SPAN (16 * MiB)
#define SENTINEL     0x5e5e5e5e5e5e5e5eULL

/* ---- traps --------------------------------------------------------------------------- */

static struct {
	unsigned count;
	struct rt_frame f;
	uint64_t cr2;
} seen;
static unsigned expected_traps;

/*
 * Where SYSENTER_EIP points: kernel code that reads CR3 and stops (a ud2 the trap handler
 * knows). Only the guest's own CR3 may show there: anything else would be a CPU running
 * guest code with more privilege than the guest's kernel has.
 */
__asm__(".text\n"
	".globl k_sysenter, k_sysenter_ud2\n"
	"k_sysenter:\n\t"
	"movq %cr3, %rax\n"
	"k_sysenter_ud2:\n\t"
	"ud2\n");
extern char k_sysenter[], k_sysenter_ud2[];
#define SYSENTER_ENTERED   0x5e5e4e7eULL
#define MSR_SYSENTER_CS	   0x174
#define MSR_SYSENTER_ESP   0x175
#define MSR_SYSENTER_EIP   0x176
#define MSR_FS_BASE	   0xc0000100
#define MSR_GS_BASE	   0xc0000101
#define MSR_KERNEL_GS_BASE 0xc0000102

#define DF_RECOVERED 0xdf0df0ULL
static volatile uint64_t df_restore_rsp0; /* nonzero: a #DF is expected; TSS.RSP0 to restore */
static uint64_t *tss_rsp0;

static void trap(struct rt_frame *f)
{
	seen.count++;
	seen.f = *f;
	seen.cr2 = read_cr2();
	if (f->vector == VEC_DF && df_restore_rsp0) {
		*tss_rsp0 = df_restore_rsp0;
		df_restore_rsp0 = 0;
		rt_user_return(DF_RECOVERED);
	}
	if (f->vector == VEC_UD && f->rip == (uint64_t)k_sysenter_ud2)
		rt_user_return(SYSENTER_ENTERED);
	if (rt_fixup(f))
		return;
	rt_unexpected(f);
}

/* Exactly one new trap, with this vector and error code. */
#define CHECK_TRAP(vec, err)                                                                       \
	do {                                                                                       \
		CHECK_EQ(seen.count, ++expected_traps);                                            \
		CHECK_EQ(seen.f.vector, (vec));                                                    \
		CHECK_EQ(seen.f.error, (err));                                                     \
	} while (0)
#define CHECK_PF(err, addr)                                                                        \
	do {                                                                                       \
		CHECK_TRAP(VEC_PF, (err));                                                         \
		CHECK_EQ(seen.cr2, (addr));                                                        \
	} while (0)
#define CHECK_NO_TRAP() CHECK_EQ(seen.count, expected_traps)

/* ---- kernel-mode probes: one instruction at 1:, a fault resumes at 2: ---------------- */

static uint64_t load(uint64_t va, unsigned size)
{
	uint64_t v = SENTINEL;

	switch (size) {
	case 1:
		__asm__ volatile("1:\tmovzbq (%1), %0\n2:\n" RT_EXTABLE("1b", "2b")
				 : "+r"(v)
				 : "r"(va)
				 : "memory");
		break;
	case 2:
		__asm__ volatile("1:\tmovzwq (%1), %0\n2:\n" RT_EXTABLE("1b", "2b")
				 : "+r"(v)
				 : "r"(va)
				 : "memory");
		break;
	case 4:
		__asm__ volatile("1:\tmovl (%1), %k0\n2:\n" RT_EXTABLE("1b", "2b")
				 : "+r"(v)
				 : "r"(va)
				 : "memory");
		break;
	default:
		__asm__ volatile("1:\tmovq (%1), %0\n2:\n" RT_EXTABLE("1b", "2b")
				 : "+r"(v)
				 : "r"(va)
				 : "memory");
	}
	return v;
}

static void store(uint64_t va, unsigned size, uint64_t v)
{
	switch (size) {
	case 1:
		__asm__ volatile("1:\tmovb %b1, (%0)\n2:\n" RT_EXTABLE("1b", "2b")
				 :
				 : "r"(va), "r"(v)
				 : "memory");
		break;
	case 2:
		__asm__ volatile("1:\tmovw %w1, (%0)\n2:\n" RT_EXTABLE("1b", "2b")
				 :
				 : "r"(va), "r"(v)
				 : "memory");
		break;
	case 4:
		__asm__ volatile("1:\tmovl %k1, (%0)\n2:\n" RT_EXTABLE("1b", "2b")
				 :
				 : "r"(va), "r"(v)
				 : "memory");
		break;
	default:
		__asm__ volatile("1:\tmovq %1, (%0)\n2:\n" RT_EXTABLE("1b", "2b")
				 :
				 : "r"(va), "r"(v)
				 : "memory");
	}
}

static uint64_t width_ones(unsigned size)
{
	return size == 8 ? ONES : (1ULL << (8 * size)) - 1;
}

#define CR0_AM (1ULL << 18)

/* ---- descriptor-table registers ------------------------------------------------------ */

struct dtr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

static struct dtr read_idtr(void)
{
	struct dtr d;

	__asm__ volatile("sidt %0" : "=m"(d));
	return d;
}

static struct dtr read_gdtr(void)
{
	struct dtr d;

	__asm__ volatile("sgdt %0" : "=m"(d));
	return d;
}

static uint16_t read_tr(void)
{
	uint16_t v;

	__asm__ volatile("str %0" : "=m"(v));
	return v;
}

static uint16_t read_ldtr(void)
{
	uint16_t v;

	__asm__ volatile("sldt %0" : "=m"(v));
	return v;
}

static uint16_t read_msw(void)
{
	uint16_t v;

	__asm__ volatile("smsw %0" : "=m"(v));
	return v;
}

/*
 * Loads `odd` into IDTR (or GDTR), reads it back into *out and loads `good` again, with
 * nothing in between that could fault or take an interrupt. A fault of the first load
 * skips the rest (*out keeps its sentinel).
 */
static struct dtr load_odd_idtr(struct dtr odd, struct dtr good)
{
	struct dtr out = {0x5e5e, SENTINEL};

	__asm__ volatile("1:\tlidt %1\n\t"
			 "sidt %0\n\t"
			 "lidt %2\n"
			 "2:\n" RT_EXTABLE("1b", "2b")
			 : "+m"(out)
			 : "m"(odd), "m"(good)
			 : "memory");
	return out;
}

static struct dtr load_odd_gdtr(struct dtr odd, struct dtr good)
{
	struct dtr out = {0x5e5e, SENTINEL};

	__asm__ volatile("1:\tlgdt %1\n\t"
			 "sgdt %0\n\t"
			 "lgdt %2\n"
			 "2:\n" RT_EXTABLE("1b", "2b")
			 : "+m"(out)
			 : "m"(odd), "m"(good)
			 : "memory");
	return out;
}

/* Our TSS, found as the CPU finds it: TR's descriptor in the GDT. */
static uint64_t tss_base(void)
{
	const uint64_t *gdt = (const uint64_t *)read_gdtr().base;
	unsigned i = read_tr() >> 3;
	uint64_t lo = gdt[i], hi = gdt[i + 1];

	return ((lo >> 16) & 0xffffff) | ((lo >> 56) & 0xff) << 24 | (hi & 0xffffffff) << 32;
}

/* ---- user-mode code ------------------------------------------------------------------ */

/*
 * USER_PROBE(name, setup, insn): CPL3 code `name` runs setup, then insn at name_insn; a
 * fault there resumes at name_resume, which ends the excursion (rt_user_exit).
 */
#define USER_PROBE(name, setup, insn)                                                              \
	".globl " #name ", " #name "_insn\n" #name ":\n\t" setup "\n" #name "_insn:\n\t" insn      \
	"\n" #name "_resume:\n\t"                                                                  \
	"jmp rt_user_exit\n" RT_EXTABLE(#name "_insn", #name "_resume")

/* clang-format off */
__asm__(".pushsection .user.text, \"ax\"\n"
	/* RDI: rt_user_call's argument. */
	USER_PROBE(u_cli, "", "cli")
	USER_PROBE(u_sti, "", "sti")
	USER_PROBE(u_hlt, "", "hlt")
	/* popfq clearing IF and setting IOPL 3: at CPL3 both are silently kept. */
	USER_PROBE(u_popf, "pushfq\n\tandq $~0x200, (%rsp)\n\torq $0x3000, (%rsp)", "popfq")
	USER_PROBE(u_mov_cr3, "", "movq %rdi, %cr3")
	USER_PROBE(u_read_cr0, "", "movq %cr0, %rax")
	USER_PROBE(u_mov_cr4, "", "movq %rdi, %cr4")
	USER_PROBE(u_mov_dr7, "", "movq %rdi, %dr7")
	USER_PROBE(u_lidt, "", "lidt (%rdi)")
	USER_PROBE(u_lgdt, "", "lgdt (%rdi)")
	USER_PROBE(u_lldt, "", "lldt %di")
	USER_PROBE(u_ltr, "", "ltr %di")
	USER_PROBE(u_lmsw, "", "lmsw %di")
	USER_PROBE(u_clts, "", "clts")
	USER_PROBE(u_invlpg, "", "invlpg (%rdi)")
	USER_PROBE(u_wbinvd, "", "wbinvd")
	USER_PROBE(u_invd, "", "invd")
	USER_PROBE(u_rdmsr, "movl $0xc0000082, %ecx", "rdmsr")
	USER_PROBE(u_wrmsr, "movl $0xc0000082, %ecx\n\tmovq %rdi, %rax\n\t"
			    "movq %rdi, %rdx\n\tshrq $32, %rdx", "wrmsr")
	USER_PROBE(u_rdpmc, "xorl %ecx, %ecx", "rdpmc")
	USER_PROBE(u_swapgs, "", "swapgs")
	USER_PROBE(u_sysret, "leaq u_sysret_resume(%rip), %rcx\n\tmovl $0x202, %r11d", "sysretq")
	USER_PROBE(u_out_exit, "movb $0x7f, %al", "outb %al, $0xf4") /* isa-debug-exit */
	USER_PROBE(u_out_poweroff, "movl $0x2000, %eax\n\tmovl $0x604, %edx", "outw %ax, %dx")
	USER_PROBE(u_in_uart, "movl $0x3fd, %edx", "inb %dx, %al")
	USER_PROBE(u_sysenter, "", "sysenter")
	/* RFLAGS.AC set, then an unaligned load from RDI: #AC when CR0.AM is set. */
	USER_PROBE(u_ac, "pushfq\n\torq $0x40000, (%rsp)\n\tpopfq\n\tpushq $0",
		   "movq (%rdi), %rax")
	/* Far transfers to CS = RDI (kernel-cs), SS = RDI + 8: into kernel mode. */
	USER_PROBE(u_iret, "leaq 8(%rdi), %rax\n\tpushq %rax\n\tpushq %rsp\n\tpushq $0x202\n\t"
			   "pushq %rdi\n\tleaq u_landed(%rip), %rax\n\tpushq %rax", "iretq")
	USER_PROBE(u_lret, "pushq %rdi\n\tleaq u_landed(%rip), %rax\n\tpushq %rax", "lretq")
	USER_PROBE(u_ljmp, "subq $8, %rsp\n\tmovw %di, 4(%rsp)\n\t"
			   "leaq u_landed(%rip), %rax\n\tmovl %eax, (%rsp)", "ljmpl *(%rsp)")
	USER_PROBE(u_lcall, "subq $8, %rsp\n\tmovw %di, 4(%rsp)\n\t"
			    "leaq u_landed(%rip), %rax\n\tmovl %eax, (%rsp)", "lcalll *(%rsp)")
	/* RAX = *RDI; *RDI = RDI. */
	USER_PROBE(u_read, "", "movq (%rdi), %rax")
	USER_PROBE(u_write, "", "movq %rdi, (%rdi)")
	/* Stores of the descriptor-table registers, TR, LDTR and the MSW at RDI. */
	USER_PROBE(u_sgdt, "", "sgdt (%rdi)")
	USER_PROBE(u_sidt, "", "sidt (%rdi)")
	USER_PROBE(u_sldt, "", "sldt (%rdi)")
	USER_PROBE(u_str, "", "str (%rdi)")
	USER_PROBE(u_smsw, "", "smsw (%rdi)")
	/* Where a far transfer to kernel-cs would land: it must not. */
	"u_landed:\n\t"
	"movl $0xbad, %eax\n\t"
	"jmp rt_user_exit\n"
	".popsection\n"
	/* A user page for memory operands. */
	".pushsection .user.data, \"aw\"\n"
	".balign 4096\n"
	".globl user_buf\n"
	"user_buf:\n\t"
	".skip 64\n"
	".popsection\n");
/* clang-format on */

#define USER_FN(name) extern char name[], name##_insn[]
USER_FN(u_cli);
USER_FN(u_sti);
USER_FN(u_hlt);
USER_FN(u_popf);
USER_FN(u_mov_cr3);
USER_FN(u_read_cr0);
USER_FN(u_mov_cr4);
USER_FN(u_mov_dr7);
USER_FN(u_lidt);
USER_FN(u_lgdt);
USER_FN(u_lldt);
USER_FN(u_ltr);
USER_FN(u_lmsw);
USER_FN(u_clts);
USER_FN(u_invlpg);
USER_FN(u_wbinvd);
USER_FN(u_invd);
USER_FN(u_rdmsr);
USER_FN(u_wrmsr);
USER_FN(u_rdpmc);
USER_FN(u_swapgs);
USER_FN(u_sysret);
USER_FN(u_out_exit);
USER_FN(u_out_poweroff);
USER_FN(u_in_uart);
USER_FN(u_sysenter);
USER_FN(u_ac);
USER_FN(u_iret);
USER_FN(u_lret);
USER_FN(u_ljmp);
USER_FN(u_lcall);
USER_FN(u_read);
USER_FN(u_write);
USER_FN(u_sgdt);
USER_FN(u_sidt);
USER_FN(u_sldt);
USER_FN(u_str);
USER_FN(u_smsw);
extern uint8_t user_buf[64];
extern char u_landed[];
extern char rt_user_stack_top[];

static uint64_t user(char *fn, uint64_t arg)
{
	return rt_user_call((void (*)(void))fn, arg);
}

/* A trap from the user instruction at `insn` with RSP `rsp` (IF set, user selectors). */
static void check_user_trap(unsigned vector, uint64_t error, const char *insn, uint64_t rsp)
{
	CHECK_TRAP(vector, error);
	CHECK_EQ(seen.f.rip, (uint64_t)insn);
	CHECK_EQ(seen.f.cs & 0xffff, rt_boot.user_cs);
	CHECK_EQ(seen.f.ss & 0xffff, rt_boot.user_ds);
	CHECK_EQ(seen.f.rsp, rsp);
	CHECK_EQ(seen.f.rflags & (RFLAGS_IF | (3ULL << 12)), RFLAGS_IF);
	/* ... and the user code went on to its exit, still with interrupts on. */
	CHECK_EQ(rt_user_exit_frame.rflags & RFLAGS_IF, RFLAGS_IF);
	CHECK_EQ(rt_user_exit_segments.cs, rt_boot.user_cs);
}

/* ---- the kernel state no user instruction may change --------------------------------- */

struct state {
	uint64_t cr0, cr3, cr4, efer, lstar, star, fmask;
	struct dtr idtr, gdtr;
	uint16_t tr;
};

static struct state kernel_state(void)
{
	return (struct state){
		.cr0 = read_cr0(),
		.cr3 = read_cr3(),
		.cr4 = read_cr4(),
		.efer = rdmsr(MSR_EFER),
		.lstar = rdmsr(MSR_LSTAR),
		.star = rdmsr(MSR_STAR),
		.fmask = rdmsr(MSR_FMASK),
		.idtr = read_idtr(),
		.gdtr = read_gdtr(),
		.tr = read_tr(),
	};
}

static void check_state(const struct state *s)
{
	struct state now = kernel_state();

	CHECK_EQ(now.cr0, s->cr0);
	CHECK_EQ(now.cr3, s->cr3);
	CHECK_EQ(now.cr4, s->cr4);
	CHECK_EQ(now.efer, s->efer);
	CHECK_EQ(now.lstar, s->lstar);
	CHECK_EQ(now.star, s->star);
	CHECK_EQ(now.fmask, s->fmask);
	CHECK_EQ(now.idtr.base, s->idtr.base);
	CHECK_EQ(now.idtr.limit, s->idtr.limit);
	CHECK_EQ(now.gdtr.base, s->gdtr.base);
	CHECK_EQ(now.gdtr.limit, s->gdtr.limit);
	CHECK_EQ(now.tr, s->tr);
}

/* ---- beyond RAM ---------------------------------------------------------------------- */

static unsigned maxphyaddr(void)
{
	uint32_t r[4];

	cpuid(0x80000000, 0, r);
	if (r[0] < 0x80000008)
		return 36;
	cpuid(0x80000008, 0, r);
	return r[0] & 0xff;
}

/*
 * Reads and writes of every width at va, which maps frame pa beyond RAM: all ones, and
 * dropped; from user mode too.
 */
static void beyond_ram_access(uint64_t va)
{
	for (unsigned size = 1; size <= 8; size *= 2) {
		CHECK_EQ(load(va + 0x10, size), width_ones(size));
		store(va + 0x10, size, 0x1234567890abcdefULL);
		CHECK_EQ(load(va + 0x10, size), width_ones(size));
	}
	CHECK_NO_TRAP();
	CHECK_EQ(user(u_read, va + 0x18), ONES);
	user(u_write, va + 0x18);
	CHECK_EQ(load(va + 0x18, 8), ONES);
	CHECK_NO_TRAP();
}

/*
 * va maps a frame at or above 1 << MAXPHYADDR: its entry has a reserved bit set, so every
 * access faults with P=1 RSVD=1. Each access starts from a flushed translation.
 */
static void reserved_frame_access(uint64_t va)
{
	invlpg(va);
	CHECK_EQ(load(va + 0x10, 8), SENTINEL);
	CHECK_PF(PF_P | PF_RSVD, va + 0x10);
	invlpg(va);
	store(va + 0x10, 8, 0);
	CHECK_PF(PF_P | PF_RSVD | PF_W, va + 0x10);
	invlpg(va);
	CHECK_EQ(user(u_read, va + 0x18), 0);
	CHECK_PF(PF_P | PF_RSVD | PF_U, va + 0x18);
}

/* Read-modify-write and string instructions on an all-ones frame at va. */
static void beyond_ram_rmw(uint64_t va)
{
	uint64_t buf[4] = {1, 2, 3, 4}, v, n, src, *dst;
	uint8_t zf;

	v = 0x1111;
	__asm__ volatile("xchgq %0, (%1)" : "+r"(v) : "r"(va + 0x20) : "memory");
	CHECK_EQ(v, ONES);
	v = 5;
	__asm__ volatile("lock xaddq %0, (%1)" : "+r"(v) : "r"(va + 0x28) : "memory");
	CHECK_EQ(v, ONES);
	v = 0;
	__asm__ volatile("lock cmpxchgq %2, (%3)\n\tsete %1"
			 : "+a"(v), "=r"(zf)
			 : "r"(7ULL), "r"(va + 0x30)
			 : "memory", "cc");
	CHECK_EQ(v, ONES);
	CHECK_EQ(zf, 0);
	n = 4;
	src = va + 0x40;
	dst = buf;
	__asm__ volatile("rep movsq" : "+S"(src), "+D"(dst), "+c"(n) : : "memory");
	for (unsigned i = 0; i < 4; i++)
		CHECK_EQ(buf[i], ONES);
	CHECK_EQ(n, 0);
	CHECK_EQ(src, va + 0x60);
	n = 4;
	dst = (uint64_t *)(va + 0x60);
	__asm__ volatile("rep stosq" : "+D"(dst), "+c"(n) : "a"(0ULL) : "memory");
	CHECK_EQ(n, 0);
	CHECK_EQ((uint64_t)dst, va + 0x80);
	CHECK_EQ(peek(va + 0x60), ONES);
	CHECK_EQ(peek(va + 0x78), ONES);
}

/* ---- RAM through an alias ------------------------------------------------------------ */

/*
 * For the word at alias (a second mapping of the word at ident): both read the same; ~v
 * written through the alias is seen through ident; v is put back. Returns 0, or which
 * check failed. 256-aligned and short, so it never lies on the word it flips (offset
 * 0xff8 of a page), and it touches no memory of its own (no stack).
 */
uint64_t flip_word(uint64_t alias, uint64_t ident);
__asm__(".text\n"
	".balign 256\n"
	".globl flip_word\n"
	"flip_word:\n\t"
	"movq (%rdi), %rax\n\t"
	"movq (%rsi), %rdx\n\t"
	"cmpq %rax, %rdx\n\t"
	"jne 1f\n\t"
	"notq %rax\n\t"
	"movq %rax, (%rdi)\n\t"
	"movq (%rsi), %rdx\n\t"
	"notq %rax\n\t"
	"movq %rax, (%rdi)\n\t"
	"notq %rdx\n\t"
	"cmpq %rax, %rdx\n\t"
	"jne 2f\n\t"
	"cmpq (%rsi), %rax\n\t"
	"jne 3f\n\t"
	"xorl %eax, %eax\n\t"
	"ret\n"
	"1:\tmovl $1, %eax\n\t"
	"ret\n"
	"2:\tmovl $2, %eax\n\t"
	"ret\n"
	"3:\tmovl $3, %eax\n\t"
	"ret\n"
	".org flip_word + 0xf8, 0xcc\n"); /* fails to assemble if it outgrew its slot */

/* ---- attacks that end the run -------------------------------------------------------- */

static _Noreturn void survived(void)
{
	rt_fail("the attack did not end the run");
}

static void attack(const char *name)
{
	if (rt_streq(name, "cr3-zero-page")) {
		uint64_t zero = (uint64_t)rt_alloc_page();

		STEP("attack cr3-zero-page: CR3 := a page of zeros; nothing is mapped any more");
		write_cr3(zero);
		survived();
	}
	if (rt_streq(name, "cr3-beyond-ram")) {
		STEP("attack cr3-beyond-ram: CR3 := guest-physical 4 GiB, beyond RAM (all ones)");
		write_cr3(4 * GiB);
		survived();
	}
	if (rt_streq(name, "idt-null")) {
		struct dtr null = {0, 0};

		STEP("attack idt-null: IDTR := limit 0, then ud2");
		__asm__ volatile("lidt %0\n\tud2" : : "m"(null) : "memory");
		survived();
	}
	if (rt_streq(name, "idt-beyond-ram")) {
		struct dtr idtr = {0xfff, VA_BEYOND};

		STEP("attack idt-beyond-ram: the IDT on a frame beyond RAM (all ones), then ud2");
		pt_map(rt_kernel_root, VA_BEYOND, 4 * GiB, PTE_NX);
		invlpg(VA_BEYOND);
		CHECK_EQ(peek(VA_BEYOND), ONES);
		__asm__ volatile("lidt %0\n\tud2" : : "m"(idtr) : "memory");
		survived();
	}
	if (rt_streq(name, "stub-region")) {
		static const uint64_t regions[] = {0xfffffe0000000000ULL, 0xfffffe0000001000ULL,
						   0xfffffe00001ff000ULL, 0xffffff8000000000ULL,
						   0xffffffffffe00000ULL, 0xfffffffffffff000ULL};

		STEP("attack stub-region: read the stub's default region unmapped: #PF P=0");
		CHECK_EQ(load(regions[0] + 0x40, 8), SENTINEL);
		CHECK_PF(0, regions[0] + 0x40);
		CHECK_EQ(user(u_read, regions[0] + 0x48), 0);
		CHECK_PF(PF_U, regions[0] + 0x48);
		STEP("attack stub-region: map pages at the top of the upper half, use them as "
		     "data");
		for (unsigned i = 0; i < sizeof(regions) / sizeof(regions[0]); i++) {
			uint64_t page = (uint64_t)rt_alloc_page();

			pt_map(rt_kernel_root, regions[i], page, PTE_W | PTE_U | PTE_NX);
			invlpg(regions[i]);
			for (uint64_t off = 0; off < PAGE_SIZE; off += 0x200)
				poke(regions[i] + off, regions[i] ^ off);
			CHECK_EQ(peek(page + 0x400), regions[i] ^ 0x400);
		}
		for (unsigned i = 0; i < sizeof(regions) / sizeof(regions[0]); i++) {
			for (uint64_t off = 0; off < PAGE_SIZE; off += 0x200)
				CHECK_EQ(peek(regions[i] + off), regions[i] ^ off);
			CHECK_EQ(user(u_read, regions[i] + 0x600), regions[i] ^ 0x600);
		}
		STEP("attack stub-region: traps still reach our IDT, user mode still works");
		CHECK_EQ(load(VA_UNMAPPED, 8), SENTINEL);
		CHECK_PF(0, VA_UNMAPPED);
		user(u_cli, 0);
		check_user_trap(VEC_GP, 0, u_cli_insn, (uint64_t)rt_user_stack_top);
		DONE();
	}
	rt_fail("unknown attack \"%s\"", name);
}

/* ---- the story ----------------------------------------------------------------------- */

void guest_main(void)
{
	uint64_t *root, ram = rt_boot.ram_size, top = (uint64_t)rt_user_stack_top;
	struct dtr idtr, gdtr, d;
	struct state state;
	char name[32];
	uint32_t r[4];

	for (unsigned v = 0; v < 32; v++)
		rt_set_handler((uint8_t)v, trap);
	rt_paging_init();
	root = rt_kernel_root;
	rt_map_user_pages(root);
	tss_rsp0 = (uint64_t *)(tss_base() + 4);

	if (rt_bootarg("attack", name, sizeof(name)))
		attack(name);

	STEP("CR0, CR4 and EFER read as the boot contract sets them, whatever runs beneath");
	CHECK_EQ(read_cr0(), 0x80010033); /* PE MP ET NE WP PG */
	CHECK_EQ(read_cr4(), 0x620);	  /* PAE OSFXSR OSXMMEXCPT */
	CHECK_EQ(rdmsr(MSR_EFER), 0xd01); /* SCE LME LMA NXE */
	CHECK_EQ(read_msw(), 0x0033);

	STEP("the MSRs a monitor needs for itself hold what the guest writes; swapgs swaps");
	{
		static const uint32_t index[] = {
			MSR_LSTAR,	    MSR_STAR,	      MSR_FMASK,
			MSR_KERNEL_GS_BASE, MSR_GS_BASE,      MSR_FS_BASE,
			MSR_SYSENTER_CS,    MSR_SYSENTER_ESP, MSR_SYSENTER_EIP};
		const uint64_t value[] = {
			0xffff800000123000ULL,
			(uint64_t)rt_boot.user32_cs << 48 | (uint64_t)rt_boot.kernel_cs << 32,
			0x47700,
			0x1111000,
			0x2222000,
			0x3333000,
			rt_boot.kernel_cs,
			rt_boot.trap_stack_top,
			(uint64_t)k_sysenter,
		};

		for (unsigned i = 0; i < sizeof(index) / sizeof(index[0]); i++) {
			wrmsr(index[i], value[i]);
			CHECK_EQ(rdmsr(index[i]), value[i]);
		}
		__asm__ volatile("swapgs" : : : "memory");
		CHECK_EQ(rdmsr(MSR_GS_BASE), 0x1111000);
		CHECK_EQ(rdmsr(MSR_KERNEL_GS_BASE), 0x2222000);
		__asm__ volatile("swapgs" : : : "memory");
		CHECK_EQ(rdmsr(MSR_GS_BASE), 0x2222000);
		wrmsr(MSR_FS_BASE, 0);
		wrmsr(MSR_GS_BASE, 0);
		wrmsr(MSR_KERNEL_GS_BASE, 0);
		CHECK_NO_TRAP();
	}

	STEP("note the kernel state that nothing below may change");
	idtr = read_idtr();
	gdtr = read_gdtr();
	state = kernel_state();
	CHECK_EQ(*tss_rsp0, rt_boot.trap_stack_top);

	/* Physical memory beyond RAM. */
	static const struct {
		const char *what;
		uint64_t pa; /* 0: the first frame past RAM */
	} beyond[] = {
		{"map the first frame past the end of RAM: all ones, writes dropped", 0},
		{"map guest-physical 4 GiB: all ones, writes dropped", 4 * GiB},
		{"map guest-physical 4 GiB + 64 KiB: all ones, writes dropped", 4 * GiB + 64 * KiB},
		{"map guest-physical 5 GiB: all ones, writes dropped", 5 * GiB},
		{"map guest-physical 64 GiB: all ones, writes dropped", 64 * GiB},
		{"map guest-physical 1 << 46: all ones, or #PF RSVD past MAXPHYADDR", 1ULL << 46},
	};
	for (unsigned i = 0; i < sizeof(beyond) / sizeof(beyond[0]); i++) {
		uint64_t pa = beyond[i].pa ? beyond[i].pa : ram, va = VA_BEYOND + i * PAGE_SIZE;

		STEP(beyond[i].what);
		pt_map(root, va, pa, PTE_W | PTE_U | PTE_NX);
		invlpg(va);
		if (pa >> maxphyaddr())
			reserved_frame_access(va);
		else
			beyond_ram_access(va);
	}
	CHECK_NO_TRAP();

	/*
	 * What a page walk finds in a table outside memory is the platform's choice: KVM's
	 * walker (the oracle) finds nothing there. What matters is that it finds no monitor
	 * memory.
	 */
	STEP("a page table beyond RAM (4 GiB, 64 GiB): the walk finds nothing, #PF P=0");
	for (unsigned i = 0; i < 2; i++) {
		uint64_t va = VA_TABLES + i * LARGE;

		pt_map(root, va, (uint64_t)rt_alloc_page(), PTE_W);
		*pt_entry(root, va, 2) = (i ? 64 * GiB : 4 * GiB) | PTE_P | PTE_W | PTE_U;
		invlpg(va);
		CHECK_EQ(load(va + 0x10, 8), SENTINEL);
		CHECK_PF(0, va + 0x10);
		store(va + 0x10, 8, 0);
		CHECK_PF(PF_W, va + 0x10);
		CHECK_EQ(user(u_read, va + 0x18), 0);
		CHECK_PF(PF_U, va + 0x18);
	}

	STEP("read-modify-write and string instructions on 4 GiB and 64 GiB: all ones");
	beyond_ram_rmw(VA_BEYOND + 1 * PAGE_SIZE);
	beyond_ram_rmw(VA_BEYOND + 4 * PAGE_SIZE);
	CHECK_NO_TRAP();

	STEP("2 MiB pages over [4 GiB, 4 GiB + 16 MiB): every 64 KiB reads all ones");
	for (uint64_t off = 0; off < MONITOR_SPAN; off += LARGE) {
		pt_map_large(root, VA_MONITOR + off, 4 * GiB + off, PTE_W | PTE_NX);
		invlpg(VA_MONITOR + off);
	}
	for (uint64_t off = 0; off < MONITOR_SPAN; off += 64 * KiB)
		CHECK_EQ(load(VA_MONITOR + off + 0x8, 8), ONES);

	STEP("... writes to every 256 KiB of it are dropped: it still reads all ones");
	for (uint64_t off = 0; off < MONITOR_SPAN; off += 256 * KiB)
		store(VA_MONITOR + off + 0x100, 8, 0);
	for (uint64_t off = 0; off < MONITOR_SPAN; off += 64 * KiB)
		CHECK_EQ(load(VA_MONITOR + off + 0x100, 8), ONES);
	CHECK_NO_TRAP();

	/* All of RAM, and only RAM, through a second mapping. */
	STEP("map all of RAM a second time and flip a word of every frame through it");
	for (uint64_t pa = 0; pa < ram; pa += LARGE)
		pt_map_large(root, VA_ALIAS + pa, pa, PTE_W | PTE_NX);
	write_cr3(read_cr3());
	for (uint64_t pa = 0; pa < ram; pa += PAGE_SIZE) {
		uint64_t bad = flip_word(VA_ALIAS + pa + 0xff8, pa + 0xff8);

		if (bad)
			rt_fail("frame 0x%lx through its alias: check %lu", pa, bad);
	}
	CHECK_NO_TRAP();

	STEP("... and beyond RAM nothing changed: still all ones");
	for (unsigned i = 0; i < 5; i++)
		CHECK_EQ(load(VA_BEYOND + i * PAGE_SIZE + 0x10, 8), ONES);
	for (uint64_t off = 0; off < MONITOR_SPAN; off += 256 * KiB)
		CHECK_EQ(load(VA_MONITOR + off + 0x8, 8), ONES);
	CHECK_NO_TRAP();

	/* The descriptor-table registers. */
	STEP("lidt of odd bases and limits reads back exactly with sidt");
	{
		static const struct dtr odd[] = {
			{0xffff, 0x0000123456789000ULL},
			{0, 0},
			{0x0fff, 0x00007ffffffff000ULL},
			{0x0007, 0xffff800000000000ULL},
			{0x1235, 0x0000000000000003ULL},
			{0xffff, 0xfffffe0000000000ULL},
			{0x0fff, 4 * GiB},
		};

		for (unsigned i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
			d = load_odd_idtr(odd[i], idtr);
			CHECK_EQ(d.limit, odd[i].limit);
			CHECK_EQ(d.base, odd[i].base);
			d = load_odd_gdtr(odd[i], gdtr);
			CHECK_EQ(d.limit, odd[i].limit);
			CHECK_EQ(d.base, odd[i].base);
		}
		CHECK_NO_TRAP();
	}

	/*
	 * A base that is not canonical in any linear-address width (48 or 57 bits) is refused
	 * (the base itself is checked: AMD's APM says so, Intel CPUs do it). Bases canonical
	 * only with 57 bits are left alone: CPUs differ there.
	 */
	STEP("lidt and lgdt of a non-canonical base: #GP(0), the registers unchanged");
	{
		static const uint64_t bases[] = {0x8000000000000000ULL, 0x7fff000000000000ULL};

		for (unsigned i = 0; i < 2; i++) {
			d = load_odd_idtr((struct dtr){0xfff, bases[i]}, idtr);
			CHECK_TRAP(VEC_GP, 0);
			CHECK_EQ(d.base, SENTINEL);
			d = load_odd_gdtr((struct dtr){0xfff, bases[i]}, gdtr);
			CHECK_TRAP(VEC_GP, 0);
			CHECK_EQ(d.base, SENTINEL);
		}
		check_state(&state);
	}

	STEP("lldt of the null selector: sldt reads 0");
	__asm__ volatile("lldt %w0" : : "r"(0));
	CHECK_EQ(read_ldtr(), 0);
	check_state(&state);

	/* Privileged instructions from user mode. */
	{
		uint64_t zero_page = (uint64_t)rt_alloc_page();
		struct dtr *ubuf = (struct dtr *)user_buf;
		static const struct {
			const char *what;
			char *fn, *insn;
			unsigned vector;
			int rsp; /* RSP at the instruction, from the top of the user stack */
		} priv[] = {
			{"user cli: #GP(0), IF stays set", u_cli, u_cli_insn, VEC_GP, 0},
			{"user sti: #GP(0)", u_sti, u_sti_insn, VEC_GP, 0},
			{"user hlt: #GP(0)", u_hlt, u_hlt_insn, VEC_GP, 0},
			{"user mov to CR3 (a page of zeros): #GP(0)", u_mov_cr3, u_mov_cr3_insn,
			 VEC_GP, 0},
			{"user mov from CR0: #GP(0)", u_read_cr0, u_read_cr0_insn, VEC_GP, 0},
			{"user mov to CR4: #GP(0)", u_mov_cr4, u_mov_cr4_insn, VEC_GP, 0},
			{"user mov to DR7: #GP(0)", u_mov_dr7, u_mov_dr7_insn, VEC_GP, 0},
			{"user lidt: #GP(0)", u_lidt, u_lidt_insn, VEC_GP, 0},
			{"user lgdt: #GP(0)", u_lgdt, u_lgdt_insn, VEC_GP, 0},
			{"user lldt: #GP(0)", u_lldt, u_lldt_insn, VEC_GP, 0},
			{"user ltr: #GP(0)", u_ltr, u_ltr_insn, VEC_GP, 0},
			{"user lmsw: #GP(0)", u_lmsw, u_lmsw_insn, VEC_GP, 0},
			{"user clts: #GP(0)", u_clts, u_clts_insn, VEC_GP, 0},
			{"user invlpg: #GP(0)", u_invlpg, u_invlpg_insn, VEC_GP, 0},
			{"user wbinvd: #GP(0)", u_wbinvd, u_wbinvd_insn, VEC_GP, 0},
			{"user invd: #GP(0)", u_invd, u_invd_insn, VEC_GP, 0},
			{"user rdmsr LSTAR: #GP(0)", u_rdmsr, u_rdmsr_insn, VEC_GP, 0},
			{"user wrmsr LSTAR: #GP(0)", u_wrmsr, u_wrmsr_insn, VEC_GP, 0},
			{"user rdpmc with CR4.PCE clear: #GP(0)", u_rdpmc, u_rdpmc_insn, VEC_GP, 0},
			{"user swapgs: #GP(0)", u_swapgs, u_swapgs_insn, VEC_GP, 0},
			{"user sysretq: #GP(0)", u_sysret, u_sysret_insn, VEC_GP, 0},
			{"user out to isa-debug-exit: #GP(0), the run goes on", u_out_exit,
			 u_out_exit_insn, VEC_GP, 0},
			{"user out to power-off: #GP(0), the run goes on", u_out_poweroff,
			 u_out_poweroff_insn, VEC_GP, 0},
			{"user in from the UART: #GP(0)", u_in_uart, u_in_uart_insn, VEC_GP, 0},
		};

		for (unsigned i = 0; i < sizeof(priv) / sizeof(priv[0]); i++) {
			uint64_t arg = (uint64_t)user_buf;

			STEP(priv[i].what);
			if (priv[i].fn == u_mov_cr3)
				arg = zero_page;
			if (priv[i].fn == u_mov_cr4)
				arg = read_cr4() | CR4_UMIP | (1ULL << 8) /* PCE */;
			if (priv[i].fn == u_mov_dr7)
				arg = 0x3ff; /* every breakpoint on */
			if (priv[i].fn == u_lidt || priv[i].fn == u_lgdt)
				*ubuf = (struct dtr){0, 0};
			if (priv[i].fn == u_wrmsr)
				arg = (uint64_t)u_landed;
			if (priv[i].fn == u_lldt || priv[i].fn == u_ltr)
				arg = rt_boot.tss_sel;
			user(priv[i].fn, arg);
			check_user_trap(priv[i].vector, 0, priv[i].insn, top + priv[i].rsp);
			check_state(&state);
		}
	}

	STEP("user popfq clearing IF and setting IOPL 3: silently ignored");
	user(u_popf, 0);
	CHECK_NO_TRAP();
	CHECK_EQ(rt_user_exit_frame.rflags & (RFLAGS_IF | (3ULL << 12)), RFLAGS_IF);

	/* Intel CPUs enter SYSENTER_EIP in kernel mode; AMD's (and kvm_pvm) give #UD. */
	STEP("user sysenter, SYSENTER_* naming our kernel: #UD, or our kernel with our CR3");
	{
		uint64_t r = user(u_sysenter, 0);

		if (r == SYSENTER_ENTERED) {
			rt_printf("isolation: sysenter entered the kernel at SYSENTER_EIP\n");
			CHECK_TRAP(VEC_UD, 0);
			CHECK_EQ(seen.f.cs & 0xffff, rt_boot.kernel_cs);
			CHECK_EQ(seen.f.rax, read_cr3());
		} else {
			rt_printf("isolation: sysenter gave #UD\n");
			check_user_trap(VEC_UD, 0, u_sysenter_insn, top);
		}
		check_state(&state);
	}

	STEP("user #AC (CR0.AM, RFLAGS.AC, an unaligned load): #AC(0); the kernel never gets one");
	write_cr0(read_cr0() | CR0_AM);
	user(u_ac, (uint64_t)user_buf + 1);
	check_user_trap(17, 0, u_ac_insn, top - 8);
	CHECK(seen.f.rflags & (1ULL << 18));
	{
		/* The handler ran with AC still set (delivery keeps it): at CPL0 no #AC. */
		uint64_t v = 0x77;

		__asm__ volatile("pushfq\n\t"
				 "orq $0x40000, (%%rsp)\n\t"
				 "popfq\n\t"
				 "movq 1(%1), %0\n\t"
				 "pushfq\n\t"
				 "andq $~0x40000, (%%rsp)\n\t"
				 "popfq"
				 : "=r"(v)
				 : "r"(user_buf)
				 : "memory", "cc");
		(void)v;
	}
	write_cr0(read_cr0() & ~CR0_AM);
	CHECK_NO_TRAP();

	STEP("user iretq, lretq, ljmp, lcall to kernel-cs: #GP(kernel-cs), no kernel mode");
	CHECK(user(u_iret, rt_boot.kernel_cs) != 0xbad);
	check_user_trap(VEC_GP, rt_boot.kernel_cs & 0xfffc, u_iret_insn, top - 40);
	CHECK(user(u_lret, rt_boot.kernel_cs) != 0xbad);
	check_user_trap(VEC_GP, rt_boot.kernel_cs & 0xfffc, u_lret_insn, top - 16);
	CHECK(user(u_ljmp, rt_boot.kernel_cs) != 0xbad);
	check_user_trap(VEC_GP, rt_boot.kernel_cs & 0xfffc, u_ljmp_insn, top - 8);
	CHECK(user(u_lcall, rt_boot.kernel_cs) != 0xbad);
	check_user_trap(VEC_GP, rt_boot.kernel_cs & 0xfffc, u_lcall_insn, top - 8);
	check_state(&state);

	STEP("user reads and writes of the kernel's IDT, GDT and TSS: #PF P=1 U=1");
	CHECK_EQ(user(u_read, idtr.base + 0x30), 0);
	check_user_trap(VEC_PF, PF_P | PF_U, u_read_insn, top);
	user(u_write, gdtr.base + 0x10);
	check_user_trap(VEC_PF, PF_P | PF_W | PF_U, u_write_insn, top);
	user(u_write, (uint64_t)tss_rsp0);
	check_user_trap(VEC_PF, PF_P | PF_W | PF_U, u_write_insn, top);
	check_state(&state);

	/* What user mode may read of the kernel's registers. */
	STEP("user sgdt, sidt, sldt, str, smsw: the guest's own values, as the kernel reads");
	user(u_sgdt, (uint64_t)user_buf);
	d = *(struct dtr *)user_buf;
	CHECK_EQ(d.base, gdtr.base);
	CHECK_EQ(d.limit, gdtr.limit);
	user(u_sidt, (uint64_t)user_buf);
	d = *(struct dtr *)user_buf;
	CHECK_EQ(d.base, idtr.base);
	CHECK_EQ(d.limit, idtr.limit);
	*(volatile uint16_t *)user_buf = 0x5e5e;
	user(u_sldt, (uint64_t)user_buf);
	CHECK_EQ(*(volatile uint16_t *)user_buf, read_ldtr());
	user(u_str, (uint64_t)user_buf);
	CHECK_EQ(*(volatile uint16_t *)user_buf, rt_boot.tss_sel);
	CHECK_EQ(read_tr(), rt_boot.tss_sel);
	user(u_smsw, (uint64_t)user_buf);
	CHECK_EQ(*(volatile uint16_t *)user_buf, read_msw());
	CHECK_EQ(read_msw(), read_cr0() & 0xffff);
	CHECK_NO_TRAP();

	STEP("with CR4.UMIP (when CPUID has it) they #GP(0) in user mode, the kernel reads on");
	cpuid(7, 0, r);
	if (r[2] & (1u << 2)) {
		static const struct {
			char *fn, *insn;
		} umip[] = {{u_sgdt, u_sgdt_insn},
			    {u_sidt, u_sidt_insn},
			    {u_sldt, u_sldt_insn},
			    {u_str, u_str_insn},
			    {u_smsw, u_smsw_insn}};

		write_cr4(read_cr4() | CR4_UMIP);
		for (unsigned i = 0; i < 5; i++) {
			rt_memset(user_buf, 0x5e, 16);
			user(umip[i].fn, (uint64_t)user_buf);
			check_user_trap(VEC_GP, 0, umip[i].insn, top);
			CHECK_EQ(*(volatile uint64_t *)user_buf, SENTINEL);
		}
		CHECK_EQ(read_gdtr().base, gdtr.base);
		CHECK_EQ(read_idtr().base, idtr.base);
		CHECK_EQ(read_tr(), rt_boot.tss_sel);
		CHECK_EQ(read_msw(), read_cr0() & 0xffff);
		write_cr4(read_cr4() & ~CR4_UMIP);
	}
	check_state(&state);

	/* Kernel stacks the CPU cannot write a trap frame to. */
	STEP("TSS.RSP0 unmapped: a trap from user mode becomes #DF(0) on the IST stack");
	df_restore_rsp0 = *tss_rsp0;
	*tss_rsp0 = VA_UNMAPPED + PAGE_SIZE;
	CHECK_EQ(user(u_cli, 0), DF_RECOVERED);
	CHECK_TRAP(VEC_DF, 0);
	CHECK_EQ(*tss_rsp0, rt_boot.trap_stack_top);

	STEP("TSS.RSP0 on a read-only page: #DF(0) too");
	pt_map(root, VA_RO_STACK, (uint64_t)rt_alloc_page(), PTE_NX);
	invlpg(VA_RO_STACK);
	df_restore_rsp0 = *tss_rsp0;
	*tss_rsp0 = VA_RO_STACK + PAGE_SIZE;
	CHECK_EQ(user(u_cli, 0), DF_RECOVERED);
	CHECK_TRAP(VEC_DF, 0);
	CHECK_EQ(peek(VA_RO_STACK + PAGE_SIZE - 8), 0);

	STEP("a frame at 1 << MAXPHYADDR: its address sets a reserved bit, #PF P=1 RSVD=1");
	if (maxphyaddr() < 52) {
		uint64_t va = VA_BEYOND + 6 * PAGE_SIZE, pa = 1ULL << maxphyaddr();

		pt_map(root, va, pa, PTE_W | PTE_U | PTE_NX);
		reserved_frame_access(va);
	}

	STEP("afterwards: traps and user mode work as before, the kernel state is unchanged");
	user(u_cli, 0);
	check_user_trap(VEC_GP, 0, u_cli_insn, top);
	CHECK_EQ(load(VA_UNMAPPED + 0x10, 8), SENTINEL);
	CHECK_PF(0, VA_UNMAPPED + 0x10);
	check_state(&state);
	CHECK_NO_TRAP();

	DONE();
}
