/*
 * hostile - one attack on the monitor per case (bootarg case=NAME), each with the result
 * the architecture gives. In shadow mode every one of them aims at what the monitor adds
 * beneath the guest (the stub's selectors, gates, trampolines and fast paths, the
 * emulation of privileged instructions, the shadow page tables); in direct mode nothing is
 * there and the CPU (KVM) answers: that is the oracle.
 *
 *   selectors-high   user iretq/lretq/ljmp to every RPL-3 selector of GDT indexes 16-31
 *                    (where a monitor keeps its own descriptors): only the guest's own
 *                    64-bit user code selector may load; anything else is #GP(selector)
 *   selectors-low    the same for indexes 1-15, selectors below 0x80 (which kvm_pvm takes
 *                    from the host's GDT)
 *   user-int         user int $8, $13, $14, $2 through DPL-0 gates: #GP(vector * 8 + 2),
 *                    never a double or triple fault
 *   gate-noncanonical  #UD through a gate whose offset is not canonical: #GP(EXT = 1)
 *   cli-top          a kernel cli as the last byte of the lower half: the next fetch is
 *                    non-canonical, #GP(0)
 *   cli-rsp-noncanonical  a kernel cli with a non-canonical RSP (interrupts already off):
 *                    completes, nothing faults (the stub's fast path returns with iretq)
 *   in-e5            in from port 0xe5 (nothing there): all ones, every width
 *   cr3-reserved     mov to CR3 with a bit at or above MAXPHYADDR (and bit 62 without LAM,
 *                    bit 63 without PCIDE): #GP(0), CR3 unchanged
 *   tf-emulated      TF set, then privileged instructions (emulated by a monitor) and plain
 *                    ones: one #DB after each, RIP after it; clearing TF stops them
 *   tf-stub-paths    TF across sti, cli (the stub's fast path) and a port read of the PIC (the
 *                    stub's trampoline): one #DB after each, RIP after it, DR6.BS
 *   tf-mov-ss        TF across mov to SS: no #DB between mov ss and the next instruction
 *   xsetbv           xsetbv with CR4.OSXSAVE clear: #UD in kernel and in user mode
 *   smep             with CR4.SMEP (where CPUID offers it) a kernel fetch from a user page
 *                    is #PF(P|I); SMAP, where CPUID does not offer it, is #GP(0) in CR4
 *   pde-rsvd         2 MiB PDEs with a reserved bit (13..20), a 1 GiB PDPTE with one (where
 *                    CPUID offers 1 GiB pages): #PF(P|RSVD) on a read
 *   delivery-faults  faults while delivering: #UD meeting a not-present gate is #NP(EXT),
 *                    #GP meeting one is #DF
 *   tables-in-stub   lidt/lgdt with bases in the stub's default region read back exactly;
 *                    the kernel's own tables work again afterwards
 *   dr-stub          DR0-DR3 aimed at the stub's default region read back; nothing fires
 *   nmi-pio          LAPIC LINT0 in NMI mode with the PIT as watchdog, a fast LAPIC timer,
 *                    and a loop of port reads: NMIs and interrupts reach the guest's own
 *                    handlers, every read is right, the run goes on
 *   cr3-storm        100,000 CR3 switches across 2,048 roots (count=0x... to change)
 *   apic-ipi         (shadow mode only: in direct mode INIT really resets the CPU) SMI,
 *                    INIT and Start-up IPIs to itself through the xAPIC ICR, and through
 *                    the x2APIC ICR where CPUID offers x2APIC: lodger drops them, the guest
 *                    goes on in its own kernel
 *
 * Each case ends in PASS. In direct mode a case reports a LIMITATION where the backend is
 * known to depart from the architecture (kvm_pvm: int n from CPL3 is #UD; a CPL3 xsetbv
 * sees the host's CR4.OSXSAVE; far transfers to selectors its GDT lacks; the #DB after mov
 * ss; QEMU's TCG: the error code of a fault met at a gate), detected, never assumed. The
 * runner accepts a LIMITATION only in direct mode and only on such a backend (a shadow-mode
 * run must be right everywhere). Nothing printed depends on the mode.
 */
#include "rt.h"

GUEST("hostile");

#define MiB	    (1ULL << 20)
#define GiB	    (1ULL << 30)
#define LANDED	    0x1a4dULL
#define VA_LARGE    0x0000050000000000ULL /* PML4 slot 10: our 2 MiB / 1 GiB test pages */
#define VA_STORM    0x0000058000000000ULL /* PML4 slot 11: one page per root group */
#define STUB_AREA   0xfffffe0000000000ULL /* lodger's default stub region */
#define CR4_OSXSAVE (1ULL << 18)
#define CR4_SMEP    (1ULL << 20)
#define CR4_SMAP    (1ULL << 21)
#define RFLAGS_TF   (1ULL << 8)

/* ---- traps --------------------------------------------------------------------------- */

static struct {
	unsigned count;
	struct rt_frame f;
	uint64_t cr2;
} seen;
static unsigned expected_traps;

/* A trap the story arms: on `vector`, resume at `rip` (with `rsp` when nonzero). */
static volatile struct {
	bool armed;
	unsigned vector;
	unsigned also; /* nonzero: this vector recovers too (a backend that gives it instead) */
	uint64_t rip, rsp;
} recover;

/* Single-stepping: the RIPs of the #DBs taken, and after how many TF is cleared. */
static volatile struct {
	unsigned count, stop_after;
	uint64_t rip[16], dr6[16];
} step;

static volatile unsigned nmis, ticks;

static void trap(struct rt_frame *f)
{
	seen.count++;
	seen.f = *f;
	seen.cr2 = read_cr2();
	if (recover.armed &&
	    (f->vector == recover.vector || (recover.also && f->vector == recover.also))) {
		recover.armed = false;
		recover.also = 0;
		f->rip = recover.rip;
		if (recover.rsp)
			f->rsp = recover.rsp;
		return;
	}
	if (f->vector == VEC_DB && step.stop_after) {
		uint64_t dr6;

		__asm__ volatile("mov %%dr6, %0" : "=r"(dr6));
		if (step.count < 16) {
			step.rip[step.count] = f->rip;
			step.dr6[step.count] = dr6;
		}
		if (++step.count >= step.stop_after)
			f->rflags &= ~RFLAGS_TF;
		__asm__ volatile("mov %0, %%dr6" : : "r"(0xffff0ff0ULL));
		return;
	}
	if (rt_fixup(f))
		return;
	rt_unexpected(f);
}

static void nmi(struct rt_frame *f)
{
	(void)f;
	nmis++;
}

static void spurious(struct rt_frame *f)
{
	(void)f;
}

static void tick(struct rt_frame *f)
{
	(void)f;
	ticks++;
	lapic_write(LAPIC_EOI, 0);
}

#define CHECK_TRAP(vec, err)                                                                       \
	do {                                                                                       \
		CHECK_EQ(seen.count, ++expected_traps);                                            \
		CHECK_EQ(seen.f.vector, (vec));                                                    \
		CHECK_EQ(seen.f.error, (err));                                                     \
	} while (0)
#define CHECK_NO_TRAP() CHECK_EQ(seen.count, expected_traps)

/* ---- descriptor tables --------------------------------------------------------------- */

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

static uint64_t *idt_gate(unsigned v)
{
	return (uint64_t *)(read_idtr().base + 16 * v);
}

/* ---- user code ----------------------------------------------------------------------- */

#define USER_PROBE(name, setup, insn)                                                              \
	".globl " #name ", " #name "_insn\n" #name ":\n\t" setup "\n" #name "_insn:\n\t" insn      \
	"\n" #name "_resume:\n\t"                                                                  \
	"jmp rt_user_exit\n" RT_EXTABLE(#name "_insn", #name "_resume")

/* clang-format off */
__asm__(".pushsection .user.text, \"ax\"\n"
	/* iretq to CS = RDI, SS = u_ss, RSP = the current one, IF set. */
	USER_PROBE(u_iret, "movq u_ss(%rip), %rax\n\tpushq %rax\n\tpushq %rsp\n\t"
			   "pushq $0x202\n\tpushq %rdi\n\tleaq u_landed(%rip), %rax\n\tpushq %rax",
		   "iretq")
	/* lretq to CS = RDI. */
	USER_PROBE(u_lret, "pushq %rdi\n\tleaq u_landed(%rip), %rax\n\tpushq %rax", "lretq")
	/* ljmp through memory to RDI:u_landed (m16:32, the form every x86-64 CPU has). */
	USER_PROBE(u_ljmp, "subq $8, %rsp\n\tleaq u_landed(%rip), %rax\n\tmovl %eax, (%rsp)\n\t"
			   "movw %di, 4(%rsp)",
		   "ljmpl *(%rsp)")
	USER_PROBE(u_int8, "", "int $8")
	USER_PROBE(u_int13, "", "int $13")
	USER_PROBE(u_int14, "", "int $14")
	USER_PROBE(u_int2, "", "int $2")
	USER_PROBE(u_xsetbv, "xorl %ecx, %ecx\n\tmovl $3, %eax\n\txorl %edx, %edx", "xsetbv")
	/* A user function the kernel may call: RAX = LANDED. */
	".globl u_func\n"
	"u_func:\n\t"
	"movl $0x1a4d, %eax\n\t"
	"ret\n"
	"u_landed:\n\t"
	"movl $0x1a4d, %eax\n\t"
	"jmp rt_user_exit\n"
	".popsection\n"
	".pushsection .user.data, \"aw\"\n"
	".balign 8\n"
	".globl u_ss\n"
	"u_ss:\n\t"
	".quad 0\n"
	".popsection\n");
/* clang-format on */

#define USER_FN(name) extern char name[], name##_insn[]
USER_FN(u_iret);
USER_FN(u_lret);
USER_FN(u_ljmp);
USER_FN(u_int8);
USER_FN(u_int13);
USER_FN(u_int14);
USER_FN(u_int2);
USER_FN(u_xsetbv);
extern char u_func[], u_landed[];
extern uint64_t u_ss;

static uint64_t user(char *fn, uint64_t arg)
{
	return rt_user_call((void (*)(void))fn, arg);
}

/* ---- cases --------------------------------------------------------------------------- */

/* Notes a backend's known departure once per kind (the line would repeat per selector). */
static void note_once(bool *noted, const char *reason)
{
	if (!*noted)
		rt_note_limitation(reason);
	*noted = true;
}

/*
 * A user far transfer to CS = sel. Only the guest's own 64-bit user code selector loads:
 * anything else is #GP(selector) by the guest's own GDT (empty, data, DPL-0 or
 * compatibility-mode descriptors; the kernel's code selector too, whatever DPL the GDT
 * gives it: in shadow mode it is DPL 3 like every descriptor, guest contract, and loading
 * it from user mode must never mean kernel mode).
 */
static void far_to(char *fn, const char *insn, uint16_t sel)
{
	static bool noted_np, noted_host;
	uint64_t r;

	if (sel == rt_boot.user32_cs)
		return; /* compatibility-mode code: our 64-bit landing would not run there */
	r = user(fn, sel);
	if (sel == rt_boot.user_cs) {
		CHECK_EQ(r, LANDED);
		CHECK_NO_TRAP();
		return;
	}
	if (r == LANDED && seen.count == expected_traps && sel < 0x80) {
		note_once(&noted_host,
			  "a user far transfer loaded a selector below 0x80 that the "
			  "guest's GDT refuses (kvm_pvm takes them from the host's GDT)");
		return;
	}
	CHECK(r != LANDED);
	if (seen.count == expected_traps + 1 && seen.f.vector == 11 /* #NP */ &&
	    seen.f.error == (sel & ~3u) && seen.f.rip == (uint64_t)insn) {
		expected_traps++;
		note_once(&noted_np, "a user far transfer to a selector the guest's GDT refuses "
				     "gave #NP, not #GP (kvm_pvm's own GDT)");
		return;
	}
	CHECK_TRAP(VEC_GP, sel & ~3u);
	CHECK_EQ(seen.f.rip, (uint64_t)insn);
	CHECK_EQ(seen.f.cs & 0xffff, rt_boot.user_cs);
}

static void selectors(unsigned first, unsigned last)
{
	u_ss = rt_boot.user_ds;
	STEP("user iretq to each RPL-3 selector: only the guest's own user code loads");
	for (unsigned i = first; i <= last; i++)
		far_to(u_iret, u_iret_insn, (uint16_t)(i * 8 + 3));
	STEP("user lretq to each RPL-3 selector: the same");
	for (unsigned i = first; i <= last; i++)
		far_to(u_lret, u_lret_insn, (uint16_t)(i * 8 + 3));
	STEP("user ljmp to each RPL-3 selector: the same");
	for (unsigned i = first; i <= last; i++)
		far_to(u_ljmp, u_ljmp_insn, (uint16_t)(i * 8 + 3));
	STEP("user mode still works");
	CHECK_EQ(user(u_landed, 0), LANDED);
	CHECK_NO_TRAP();
}

static void user_int(void)
{
	static const struct {
		char *fn, *insn;
		unsigned v;
	} ints[] = {{u_int8, u_int8_insn, 8},
		    {u_int13, u_int13_insn, 13},
		    {u_int14, u_int14_insn, 14},
		    {u_int2, u_int2_insn, 2}};

	STEP("user int $8, $13, $14, $2 through DPL-0 gates: #GP(vector * 8 + 2)");
	for (unsigned i = 0; i < 4; i++) {
		user(ints[i].fn, 0);
		if (seen.count == expected_traps + 1 && seen.f.vector == VEC_UD &&
		    seen.f.rip == (uint64_t)ints[i].insn) {
			expected_traps++;
			rt_note_limitation("int $n from CPL3 gives #UD (kvm_pvm, direct mode)");
			continue;
		}
		if (seen.count == expected_traps + 1 && seen.f.vector == VEC_GP &&
		    seen.f.error == ints[i].v * 16 + 2 && seen.f.rip == (uint64_t)ints[i].insn) {
			expected_traps++;
			rt_note_limitation(
				"the #GP of int $n through a DPL-0 gate has the gate's IDT "
				"offset + 2 as its error code (QEMU's TCG, direct mode)");
			continue;
		}
		CHECK_TRAP(VEC_GP, ints[i].v * 8 + 2);
		CHECK_EQ(seen.f.rip, (uint64_t)ints[i].insn);
		CHECK_EQ(seen.f.cs & 0xffff, rt_boot.user_cs);
	}
}

static void gate_noncanonical(void)
{
	uint64_t *gate = idt_gate(VEC_UD), saved[2] = {gate[0], gate[1]};

	STEP("#UD through a gate with a non-canonical offset: #GP(1), nothing pushed for #UD");
	/* offset 0x0000800000001000: bits 31..16 in gate[0] 63..48, bits 63..32 in gate[1] */
	gate[0] = (saved[0] & 0x0000ffffffff0000ULL) | 0x1000;
	gate[1] = 0x00008000;
	recover.vector = VEC_GP;
	__asm__ volatile("leaq 1f(%%rip), %%rax\n\t"
			 "movq %%rax, %0\n\t"
			 "movb $1, %1\n\t"
			 "ud2\n"
			 "1:"
			 : "=m"(recover.rip), "=m"(recover.armed)
			 :
			 : "rax", "memory");
	gate[0] = saved[0];
	gate[1] = saved[1];
	if (seen.count == expected_traps + 1 && seen.f.vector == VEC_GP && seen.f.error == 0 &&
	    seen.f.rip == 0x0000800000001000ULL) {
		expected_traps++;
		rt_note_limitation(
			"kvm_pvm enters a gate's non-canonical offset, then faults there");
		return;
	}
	CHECK_TRAP(VEC_GP, 1);
}

static void cli_top(void)
{
	uint64_t page = (uint64_t)rt_alloc_page(), va = 0x00007ffffffff000ULL;

	STEP("a kernel cli at 0x7fffffffffff, the last byte of the lower half: then #GP(0)");
	((volatile uint8_t *)page)[0xfff] = 0xfa; /* cli */
	pt_map(rt_kernel_root, va, page, 0);
	invlpg(va);
	recover.vector = VEC_GP;
	__asm__ volatile("leaq 1f(%%rip), %%rax\n\t"
			 "movq %%rax, %0\n\t"
			 "movq %%rsp, %1\n\t"
			 "movb $1, %2\n\t"
			 "jmp *%3\n"
			 "1:"
			 : "=m"(recover.rip), "=m"(recover.rsp), "=m"(recover.armed)
			 : "r"(va + 0xfff)
			 : "rax", "memory");
	recover.rsp = 0;
	CHECK_TRAP(VEC_GP, 0);
	CHECK_EQ(seen.f.rflags & RFLAGS_IF, 0); /* the cli ran */
}

static void cli_rsp_noncanonical(void)
{
	uint64_t flags;

	STEP("a kernel cli with RSP non-canonical, IF already clear: it completes, no trap");
	__asm__ volatile("cli\n\t"
			 "movq %%rsp, %%rbx\n\t"
			 "movabsq $0x8000000000001000, %%rsp\n\t"
			 "cli\n\t"
			 "movq %%rbx, %%rsp\n\t"
			 "sti\n\t"
			 "pushfq\n\t"
			 "popq %0"
			 : "=r"(flags)
			 :
			 : "rbx", "memory");
	CHECK_EQ(flags & RFLAGS_IF, RFLAGS_IF);
	CHECK_NO_TRAP();
}

static void in_e5(void)
{
	uint32_t v8 = 0x12345678, v16 = 0x12345678, v32 = 0x12345678;

	STEP("in from port 0xe5 (no device): all ones in every width, the rest of RAX kept");
	__asm__ volatile("inb $0xe5, %%al" : "+a"(v8));
	__asm__ volatile("inw $0xe5, %%ax" : "+a"(v16));
	__asm__ volatile("inl $0xe5, %%eax" : "+a"(v32));
	CHECK_EQ(v8, 0x123456ff);
	CHECK_EQ(v16, 0x1234ffff);
	CHECK_EQ(v32, 0xffffffff);
	v32 = 0;
	__asm__ volatile("inl %%dx, %%eax" : "+a"(v32) : "d"(0xe5));
	CHECK_EQ(v32, 0xffffffff);
	CHECK_NO_TRAP();
}

static unsigned maxphyaddr(void)
{
	uint32_t r[4];

	cpuid(0x80000000, 0, r);
	if (r[0] < 0x80000008)
		return 36;
	cpuid(0x80000008, 0, r);
	return r[0] & 0xff;
}

static void write_cr3_probe(uint64_t v)
{
	__asm__ volatile("1:\tmovq %0, %%cr3\n2:\n" RT_EXTABLE("1b", "2b") : : "r"(v) : "memory");
}

static void cr3_reserved(void)
{
	uint64_t cr3 = read_cr3();
	unsigned bits = maxphyaddr();
	uint32_t r[4];
	bool lam;

	cpuid(7, 0, r);
	lam = false;
	if (r[0] >= 1) {
		cpuid(7, 1, r);
		lam = r[0] & (1u << 26);
	}
	STEP("mov to CR3 with a reserved bit: #GP(0), CR3 unchanged");
	for (unsigned b = bits; b < 64; b++) {
		if (lam && (b == 61 || b == 62))
			continue;
		write_cr3_probe(cr3 | 1ULL << b);
		CHECK_TRAP(VEC_GP, 0);
		CHECK_EQ(read_cr3(), cr3);
	}
	STEP("CR3 with PWT and PCD loads");
	write_cr3_probe(cr3 | 0x18);
	CHECK_NO_TRAP();
	CHECK_EQ(read_cr3(), cr3 | 0x18);
	write_cr3(cr3);
}

/* TF on, then the instructions between the labels, one #DB after each. */
extern char tf_a[], tf_b[], tf_c[], tf_d[], tf_e[];

static void tf_emulated(void)
{
	STEP("TF across emulated and plain instructions: one #DB after each, with RIP after it");
	step.count = 0;
	step.stop_after = 4;
	__asm__ volatile("pushfq\n\t"
			 "orq $0x100, (%%rsp)\n\t"
			 "popfq\n" /* the first #DB comes after the next instruction */
			 ".globl tf_a, tf_b, tf_c, tf_d, tf_e\n"
			 "tf_a:\n\t"
			 "movq %%cr0, %%rax\n"
			 "tf_b:\n\t"
			 "movq %%cr4, %%rax\n"
			 "tf_c:\n\t"
			 "nop\n"
			 "tf_d:\n\t"
			 "movq %%cr0, %%rax\n"
			 "tf_e:\n\t"
			 "nop"
			 :
			 :
			 : "rax", "memory", "cc");
	CHECK_EQ(step.count, 4);
	CHECK_EQ(step.rip[0], (uint64_t)tf_b);
	CHECK_EQ(step.rip[1], (uint64_t)tf_c);
	CHECK_EQ(step.rip[2], (uint64_t)tf_d);
	CHECK_EQ(step.rip[3], (uint64_t)tf_e);
	for (unsigned i = 0; i < 4; i++)
		CHECK_EQ(step.dr6[i] & (1ULL << 14), 1ULL << 14); /* BS */
	CHECK_EQ(read_rflags() & RFLAGS_TF, 0);
	expected_traps += 4;
	CHECK_NO_TRAP();
	step.stop_after = 0;
}

extern char tfp_a[], tfp_b[], tfp_c[], tfp_d[], tfp_e[];

static void tf_stub_paths(void)
{
	STEP("TF across sti, cli and a port read: one #DB after each, with RIP after it");
	step.count = 0;
	step.stop_after = 4;
	__asm__ volatile("pushfq\n\t"
			 "orq $0x100, (%%rsp)\n\t"
			 "popfq\n"
			 ".globl tfp_a, tfp_b, tfp_c, tfp_d, tfp_e\n"
			 "tfp_a:\n\t"
			 "sti\n"
			 "tfp_b:\n\t"
			 "cli\n"
			 "tfp_c:\n\t"
			 "inb $0x21, %%al\n"
			 "tfp_d:\n\t"
			 "nop\n"
			 "tfp_e:\n\t"
			 "nop"
			 :
			 :
			 : "rax", "memory", "cc");
	CHECK_EQ(step.count, 4);
	CHECK_EQ(step.rip[0], (uint64_t)tfp_b);
	CHECK_EQ(step.rip[1], (uint64_t)tfp_c);
	CHECK_EQ(step.rip[2], (uint64_t)tfp_d);
	CHECK_EQ(step.rip[3], (uint64_t)tfp_e);
	for (unsigned i = 0; i < 4; i++)
		CHECK_EQ(step.dr6[i] & (1ULL << 14), 1ULL << 14); /* BS */
	CHECK_EQ(read_rflags() & RFLAGS_TF, 0);
	expected_traps += 4;
	CHECK_NO_TRAP();
	step.stop_after = 0;
}

extern char tfss_a[], tfss_mid[], tfss_b[];

static void tf_mov_ss(void)
{
	STEP("TF across mov to SS: the instruction after it runs before the #DB");
	step.count = 0;
	step.stop_after = 1;
	__asm__ volatile("pushfq\n\t"
			 "orq $0x100, (%%rsp)\n\t"
			 "popfq\n"
			 ".globl tfss_a, tfss_b\n"
			 "tfss_a:\n\t"
			 "movw %w0, %%ss\n"
			 ".globl tfss_mid\n"
			 "tfss_mid:\n\t"
			 "nop\n"
			 "tfss_b:\n\t"
			 "nop"
			 :
			 : "r"((uint64_t)rt_boot.kernel_ds)
			 : "memory", "cc");
	CHECK_EQ(step.count, 1);
	if (step.rip[0] == (uint64_t)tfss_mid)
		rt_note_limitation("the #DB came between mov ss and the next instruction (kvm_pvm, "
				   "direct mode)");
	else
		CHECK_EQ(step.rip[0], (uint64_t)tfss_b);
	expected_traps += 1;
	CHECK_NO_TRAP();
	step.stop_after = 0;
}

static void xsetbv(void)
{
	STEP("xsetbv with CR4.OSXSAVE clear: #UD in kernel mode");
	CHECK_EQ(read_cr4() & CR4_OSXSAVE, 0);
	__asm__ volatile("xorl %%ecx, %%ecx\n\t"
			 "movl $3, %%eax\n\t"
			 "xorl %%edx, %%edx\n"
			 "1:\txsetbv\n2:\n" RT_EXTABLE("1b", "2b")
			 :
			 :
			 : "rax", "rcx", "rdx", "memory");
	CHECK_TRAP(VEC_UD, 0);
	STEP("... and in user mode (#UD before the privilege check)");
	user(u_xsetbv, 0);
	if (seen.count == expected_traps + 1 && seen.f.vector == VEC_GP &&
	    seen.f.rip == (uint64_t)u_xsetbv_insn) {
		expected_traps++;
		rt_note_limitation("a CPL3 xsetbv sees the host's CR4.OSXSAVE (kvm_pvm, direct "
				   "mode): #GP, not #UD");
		return;
	}
	CHECK_TRAP(VEC_UD, 0);
	CHECK_EQ(seen.f.rip, (uint64_t)u_xsetbv_insn);
}

static void write_cr4_probe(uint64_t v)
{
	__asm__ volatile("1:\tmovq %0, %%cr4\n2:\n" RT_EXTABLE("1b", "2b") : : "r"(v) : "memory");
}

static void smep(void)
{
	uint64_t cr4 = read_cr4(), r;
	uint32_t c[4];

	cpuid(7, 0, c);
	STEP("SMEP, where CPUID offers it: a kernel call into a user page is #PF(P|I)");
	if (c[1] & (1u << 7)) {
		write_cr4_probe(cr4 | CR4_SMEP);
		CHECK_NO_TRAP();
		CHECK_EQ(read_cr4(), cr4 | CR4_SMEP);
		recover.vector = VEC_PF;
		/* The fault is at the call's target, with the return address pushed: resume
		 * there, as a ret would. */
		__asm__ volatile("leaq 1f(%%rip), %%rax\n\t"
				 "movq %%rax, %1\n\t"
				 "movq %%rsp, %2\n\t"
				 "movb $1, %3\n\t"
				 "xorl %%eax, %%eax\n\t"
				 "call *%4\n"
				 "1:"
				 : "=&a"(r), "=m"(recover.rip), "=m"(recover.rsp),
				   "=m"(recover.armed)
				 : "r"(u_func)
				 : "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory");
		recover.rsp = 0;
		CHECK(r != LANDED);
		CHECK_TRAP(VEC_PF, PF_P | PF_I);
		CHECK_EQ(seen.cr2, (uint64_t)u_func);
		CHECK_EQ(seen.f.rip, (uint64_t)u_func);
		STEP("the kernel still reads user pages, and runs them once SMEP is off");
		CHECK_EQ(*(volatile uint8_t *)u_func, 0xb8); /* mov $imm32, %eax */
		write_cr4(cr4);
		r = ((uint64_t(*)(void))(void *)u_func)();
		CHECK_EQ(r, LANDED);
		CHECK_NO_TRAP();
	} else {
		STEP("the kernel still reads user pages, and runs them once SMEP is off");
	}
	if (!(c[1] & (1u << 20))) {
		write_cr4_probe(cr4 | CR4_SMAP);
		CHECK_TRAP(VEC_GP, 0);
		CHECK_EQ(read_cr4(), cr4);
	}
}

static void read_expect_rsvd(uint64_t va)
{
	CHECK_EQ(rt_probe_read(va + 0x123), 0);
	CHECK_TRAP(VEC_PF, PF_P | PF_RSVD);
	CHECK_EQ(seen.cr2, va + 0x123);
}

static void pde_rsvd(void)
{
	uint64_t *pde, pa = (uint64_t)rt_alloc_pages(512, 2 * MiB);
	uint32_t r[4];

	STEP("2 MiB pages with a reserved bit (13 .. 20): #PF(P|RSVD) on a read");
	((volatile uint64_t *)pa)[0x123 / 8] = 0x600d;
	pt_map_large(rt_kernel_root, VA_LARGE, pa, PTE_W);
	invlpg(VA_LARGE);
	CHECK_EQ(peek(VA_LARGE + 0x120), 0x600d);
	pde = pt_entry(rt_kernel_root, VA_LARGE, 2);
	CHECK(pde);
	for (unsigned b = 13; b <= 20; b++) {
		*pde |= 1ULL << b;
		invlpg(VA_LARGE);
		read_expect_rsvd(VA_LARGE);
		*pde &= ~(1ULL << b);
		invlpg(VA_LARGE);
		CHECK_EQ(peek(VA_LARGE + 0x120), 0x600d);
	}
	cpuid(0x80000001, 0, r);
	STEP("a 1 GiB page with bit 13 set, where CPUID offers 1 GiB pages: the same");
	if (r[3] & (1u << 26)) {
		uint64_t *pdpte = pt_entry(rt_kernel_root, VA_LARGE, 3), saved = *pdpte;

		*pdpte = 0 | PTE_P | PTE_W | PTE_PS | 1ULL << 13;
		invlpg(VA_LARGE);
		read_expect_rsvd(VA_LARGE);
		*pdpte = 0 | PTE_P | PTE_W | PTE_PS;
		invlpg(VA_LARGE);
		CHECK_EQ(peek(VA_LARGE + (uint64_t)pa + 0x120), 0x600d);
		*pdpte = saved;
		invlpg(VA_LARGE);
	}
	CHECK_NO_TRAP();
}

static void delivery_faults(void)
{
	uint64_t *gate;

	STEP("#UD meeting a not-present gate: #NP(6 * 8 + 2 + EXT), not a double fault");
	gate = idt_gate(VEC_UD);
	*gate &= ~(1ULL << 47);
	recover.vector = 11;
	recover.also = VEC_DF;
	__asm__ volatile("leaq 1f(%%rip), %%rax\n\t"
			 "movq %%rax, %0\n\t"
			 "movq %%rsp, %1\n\t"
			 "movb $1, %2\n\t"
			 "ud2\n"
			 "1:"
			 : "=m"(recover.rip), "=m"(recover.rsp), "=m"(recover.armed)
			 :
			 : "rax", "memory");
	recover.rsp = 0;
	*gate |= 1ULL << 47;
	if (seen.count == expected_traps + 1 && seen.f.vector == VEC_DF) {
		expected_traps++;
		rt_note_limitation("#UD meeting a not-present gate gave #DF, not #NP (kvm_pvm, "
				   "direct mode)");
	} else if (seen.count == expected_traps + 1 && seen.f.vector == 11 &&
		   seen.f.error == 6 * 16 + 2) {
		expected_traps++;
		rt_note_limitation("#NP at a not-present gate has the gate's IDT offset + 2 as "
				   "its error code, without EXT (QEMU's TCG, direct mode)");
	} else {
		CHECK_TRAP(11, 6 * 8 + 2 + 1);
	}
	STEP("#GP meeting a not-present gate: #NP is contributory, so #DF");
	gate = idt_gate(VEC_GP);
	*gate &= ~(1ULL << 47);
	recover.vector = VEC_DF;
	recover.also = 11;
	__asm__ volatile("leaq 1f(%%rip), %%rax\n\t"
			 "movq %%rax, %0\n\t"
			 "movq %%rsp, %1\n\t"
			 "movb $1, %2\n\t"
			 "movl $0xdeadbeef, %%ecx\n\t"
			 "rdmsr\n" /* no such MSR: #GP(0) */
			 "1:"
			 : "=m"(recover.rip), "=m"(recover.rsp), "=m"(recover.armed)
			 :
			 : "rax", "rcx", "rdx", "memory");
	recover.rsp = 0;
	*gate |= 1ULL << 47;
	if (seen.count == expected_traps + 1 && seen.f.vector == 11 &&
	    seen.f.error == VEC_GP * 16 + 2) {
		expected_traps++;
		rt_note_limitation("#GP meeting a not-present gate gave #NP, not #DF, when KVM "
				   "injected the #GP (QEMU's TCG, direct mode)");
	} else {
		CHECK_TRAP(VEC_DF, 0);
	}
	STEP("and the gates work again");
	CHECK_EQ(rt_probe_read(0x0000030000000000ULL), 0);
	CHECK_TRAP(VEC_PF, 0);
}

static void tables_in_stub(void)
{
	struct dtr idtr = read_idtr(), gdtr = read_gdtr(), d;
	struct dtr at_stub_idt = {0xfff, STUB_AREA + 0x1000},
		   at_stub_gdt = {0xbf, STUB_AREA + 0x2000};

	STEP("lidt/lgdt with bases in the stub's default region read back exactly");
	__asm__ volatile("lidt %1\n\tsidt %0\n\tlidt %2" : "=m"(d) : "m"(at_stub_idt), "m"(idtr));
	CHECK_EQ(d.base, at_stub_idt.base);
	CHECK_EQ(d.limit, at_stub_idt.limit);
	__asm__ volatile("lgdt %1\n\tsgdt %0\n\tlgdt %2" : "=m"(d) : "m"(at_stub_gdt), "m"(gdtr));
	CHECK_EQ(d.base, at_stub_gdt.base);
	CHECK_EQ(d.limit, at_stub_gdt.limit);
	CHECK_NO_TRAP();
	/* (ltr with the GDT there would fault reading the GDT, and delivering that #PF
	 * reads the GDT again: a triple fault, architecturally. Not done.) */
	STEP("the kernel's own tables are back and work");
	CHECK_EQ(rt_probe_read(0x0000030000000000ULL), 0);
	CHECK_TRAP(VEC_PF, 0);
	CHECK_EQ(user(u_landed, 0), LANDED);
	CHECK_NO_TRAP();
}

static void dr_stub(void)
{
	uint64_t v[4];

	STEP("DR0-DR3 aimed at the stub's default region read back; nothing fires");
	__asm__ volatile("mov %0, %%dr0" : : "r"(STUB_AREA));
	__asm__ volatile("mov %0, %%dr1" : : "r"(STUB_AREA + 0x1000));
	__asm__ volatile("mov %0, %%dr2" : : "r"(STUB_AREA + 0x2000));
	__asm__ volatile("mov %0, %%dr3" : : "r"(STUB_AREA + 0x5ff8));
	__asm__ volatile("mov %0, %%dr7" : : "r"(0xffULL | 0xddddULL << 16)); /* all, exec/rw */
	__asm__ volatile("mov %%dr0, %0" : "=r"(v[0]));
	__asm__ volatile("mov %%dr1, %0" : "=r"(v[1]));
	__asm__ volatile("mov %%dr2, %0" : "=r"(v[2]));
	__asm__ volatile("mov %%dr3, %0" : "=r"(v[3]));
	CHECK_EQ(v[0], STUB_AREA);
	CHECK_EQ(v[1], STUB_AREA + 0x1000);
	CHECK_EQ(v[2], STUB_AREA + 0x2000);
	CHECK_EQ(v[3], STUB_AREA + 0x5ff8);
	/* traps, user mode and interrupts through the stub while they are set */
	CHECK_EQ(rt_probe_read(0x0000030000000000ULL), 0);
	CHECK_TRAP(VEC_PF, 0);
	CHECK_EQ(user(u_landed, 0), LANDED);
	__asm__ volatile("mov %0, %%dr7" : : "r"(0x400ULL));
	CHECK_NO_TRAP();
}

#define PIC1_CMD  0x20
#define PIC1_DATA 0x21
#define PIC2_DATA 0xa1
#define PIT_CH0	  0x40
#define PIT_CMD	  0x43

static void nmi_pio(void)
{
	unsigned bad = 0;
	uint64_t n = rt_bootarg_hex("count") ?: 20000;

	STEP("NMIs (LINT0 in NMI mode, the PIT as watchdog) and a fast LAPIC timer during port "
	     "reads: all reach our handlers, every read is right");
	rt_set_handler(2, nmi);
	rt_set_handler(0x30, tick);
	rt_set_handler(0xff, spurious);
	outb(PIC1_DATA, 0xff);
	outb(PIC2_DATA, 0xff);
	lapic_write(LAPIC_TPR, 0);
	lapic_write(LAPIC_SVR, (1u << 8) | 0xff);
	lapic_write(LAPIC_LVT_LINT0, 4u << 8); /* NMI, unmasked */
	outb(PIT_CMD, 0x34);		       /* channel 0, lo/hi, rate generator */
	outb(PIT_CH0, 1193 & 0xff);	       /* ~1 kHz */
	outb(PIT_CH0, 1193 >> 8);
	lapic_write(LAPIC_TIMER_DIV, 0x3);		 /* / 16 */
	lapic_write(LAPIC_LVT_TIMER, (1u << 17) | 0x30); /* periodic */
	lapic_write(LAPIC_TIMER_INIT, 15625);		 /* ~250 us */
	sti();
	for (uint64_t i = 0; i < n; i++) {
		if (inb(PIC1_DATA) != 0xff)
			bad++;
		if ((i & 63) == 0 && nmis >= 8 && ticks >= 8)
			break;
	}
	cli();
	lapic_write(LAPIC_TIMER_INIT, 0);
	lapic_write(LAPIC_LVT_TIMER, 1u << 16);
	lapic_write(LAPIC_LVT_LINT0, 1u << 16);
	outb(PIT_CMD, 0x30); /* channel 0, mode 0, no count: stops */
	CHECK_EQ(bad, 0);
	CHECK(nmis >= 1);
	CHECK(ticks >= 1);
	CHECK_NO_TRAP();
}

static void cr3_storm(void)
{
	enum { ROOTS = 2048, GROUPS = 16 };
	static uint64_t *roots[ROOTS];
	uint64_t *pdpt[GROUPS], n = rt_bootarg_hex("count") ?: 100000, cr3 = read_cr3();

	STEP("100,000 CR3 switches across 2,048 roots in 16 groups: each sees its group's page");
	for (unsigned g = 0; g < GROUPS; g++) {
		uint64_t *page = rt_alloc_page();

		page[0] = 0x5700 + g;
		/* a private PDPT -> PD -> PT -> page for VA_STORM, built in the kernel root */
		pt_map(rt_kernel_root, VA_STORM, (uint64_t)page, PTE_NX);
		pdpt[g] = (uint64_t *)(rt_kernel_root[(VA_STORM >> 39) & 511] & PTE_ADDR);
		rt_kernel_root[(VA_STORM >> 39) & 511] = 0;
	}
	for (unsigned i = 0; i < ROOTS; i++) {
		roots[i] = rt_alloc_page();
		for (unsigned e = 0; e < 512; e++)
			roots[i][e] = rt_kernel_root[e];
		roots[i][(VA_STORM >> 39) & 511] = (uint64_t)pdpt[i % GROUPS] | PTE_P | PTE_W;
	}
	for (uint64_t k = 0; k < n; k++) {
		unsigned i = (unsigned)((k * 7919) % ROOTS);

		write_cr3((uint64_t)roots[i]);
		if (peek(VA_STORM) != 0x5700 + i % GROUPS)
			rt_fail("root %u shows 0x%lx at k = %lu", i, peek(VA_STORM), k);
	}
	write_cr3(cr3);
	CHECK_EQ(rt_probe_read(VA_STORM), 0);
	CHECK_TRAP(VEC_PF, 0);
}

static void apic_ipi(void)
{
	static const uint32_t modes[] = {2u << 8, 5u << 8 | 1u << 14, 6u << 8 | 0x10};
	uint32_t r[4], id = lapic_read(LAPIC_ID) >> 24;

	STEP("SMI, INIT and Start-up IPIs to ourselves (xAPIC): we stay in our own kernel");
	lapic_write(LAPIC_SVR, (1u << 8) | 0xff);
	for (unsigned i = 0; i < 3; i++) {
		lapic_write(0x310, id << 24);
		lapic_write(0x300, modes[i]);
		CHECK_EQ(read_cr3() & PTE_ADDR, (uint64_t)rt_kernel_root);
	}
	CHECK_EQ(user(u_landed, 0), LANDED);
	cpuid(1, 0, r);
	STEP("the same through the x2APIC ICR, where CPUID offers x2APIC");
	if (r[2] & (1u << 21)) {
		uint64_t base = rdmsr(MSR_APIC_BASE);

		wrmsr(MSR_APIC_BASE, base | 1ULL << 10);
		for (unsigned i = 0; i < 3; i++) {
			wrmsr(0x830, (uint64_t)id << 32 | modes[i]);
			CHECK_EQ(read_cr3() & PTE_ADDR, (uint64_t)rt_kernel_root);
		}
		CHECK_EQ(user(u_landed, 0), LANDED);
	}
	CHECK_NO_TRAP();
}

/* ---- the story ----------------------------------------------------------------------- */

void guest_main(void)
{
	char name[32];

	for (unsigned v = 0; v < 32; v++)
		rt_set_handler((uint8_t)v, trap);
	rt_paging_init();
	rt_map_user_pages(rt_kernel_root);
	if (!rt_bootarg("case", name, sizeof(name)))
		rt_fail("no case=NAME given");
	if (rt_streq(name, "selectors-high"))
		selectors(16, 31);
	else if (rt_streq(name, "selectors-low"))
		selectors(1, 15);
	else if (rt_streq(name, "user-int"))
		user_int();
	else if (rt_streq(name, "gate-noncanonical"))
		gate_noncanonical();
	else if (rt_streq(name, "cli-top"))
		cli_top();
	else if (rt_streq(name, "cli-rsp-noncanonical"))
		cli_rsp_noncanonical();
	else if (rt_streq(name, "in-e5"))
		in_e5();
	else if (rt_streq(name, "cr3-reserved"))
		cr3_reserved();
	else if (rt_streq(name, "tf-emulated"))
		tf_emulated();
	else if (rt_streq(name, "tf-stub-paths"))
		tf_stub_paths();
	else if (rt_streq(name, "tf-mov-ss"))
		tf_mov_ss();
	else if (rt_streq(name, "xsetbv"))
		xsetbv();
	else if (rt_streq(name, "smep"))
		smep();
	else if (rt_streq(name, "pde-rsvd"))
		pde_rsvd();
	else if (rt_streq(name, "delivery-faults"))
		delivery_faults();
	else if (rt_streq(name, "tables-in-stub"))
		tables_in_stub();
	else if (rt_streq(name, "dr-stub"))
		dr_stub();
	else if (rt_streq(name, "nmi-pio"))
		nmi_pio();
	else if (rt_streq(name, "cr3-storm"))
		cr3_storm();
	else if (rt_streq(name, "apic-ipi"))
		apic_ipi();
	else
		rt_fail("unknown case \"%s\"", name);
	STEP("the guest kernel is still in control");
	CHECK_EQ(rt_probe_read(0x0000030000000000ULL), 0);
	CHECK_TRAP(VEC_PF, 0);
	DONE();
}
