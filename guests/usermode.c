/*
 * usermode - the guest kernel runs code at CPL3 and gets control back the three
 * architectural ways: iretq down to CPL3 on U=1 pages; exceptions from CPL3 (a #PF with
 * U=1 in the error code for a user access to a supervisor page) arriving on TSS.RSP0's
 * stack; syscall to LSTAR at CPL0 with STAR's selectors, back with sysretq; and int $0x80
 * through a DPL3 interrupt gate, back with iretq. In shadow mode the monitor reflects all
 * of these and emulates sysretq and iretq to user (docs/shadow-mode.md); U/S protection
 * is what keeps user code out of kernel pages there too (claims 5, 6).
 *
 * Must behave identically in direct and shadow mode. One exception, detected and never
 * assumed: on kvm_pvm in direct mode (PLATFORM.md) `syscall` from CPL3 reaches LSTAR
 * still at CPL3, and `int $n` from CPL3 raises #UD. The guest recognises these (a CPL3
 * fetch fault at the LSTAR address, which is on a supervisor-only page; a #UD at the int
 * instruction although the gate is present with DPL 3), reports each as a LIMITATION and
 * goes on; it then ends with the LIMITATION status rather than PASS. On a backend that
 * follows the architecture every check below runs in full.
 */
#include "rt.h"

GUEST("usermode");

#define SYSCALL_AT_CPL3 0x5ca113 /* what rt_user_call returns when LSTAR ran at CPL3 */
#define INT_GAVE_UD	0x1d80	 /* ... when int $0x80 gave #UD */
#define FMASK                                                                                      \
	(RFLAGS_IF | RFLAGS_DF | (1ULL << 8) /* TF */ | (1ULL << 14) /* NT */ |                    \
	 (1ULL << 18) /* AC */)

/*
 * CPL3 code: it lives in .user.text (mapped U=1), touches only the user stack and
 * .user.data, and goes back to the kernel by jumping to rt_user_exit with its result in
 * RAX (RAX is 0 on entry). RDI is rt_user_call's argument.
 */
__asm__(".pushsection .user.text, \"ax\"\n"
	/* RAX = CS << 16 | SS, as the user code sees them. */
	".globl user_selectors\n"
	"user_selectors:\n\t"
	"movl $0x5e15, %eax\n\t"
	"jmp rt_user_exit\n"
	/* RAX = *RDI, or 0 if the read faults. */
	".globl user_read, user_read_insn\n"
	"user_read:\n"
	"user_read_insn:\n\t"
	"movq (%rdi), %rax\n"
	"user_read_resume:\n\t"
	"jmp rt_user_exit\n" RT_EXTABLE("user_read_insn", "user_read_resume")
	/* *RDI = RDI. */
	".globl user_write, user_write_insn\n"
	"user_write:\n"
	"user_write_insn:\n\t"
	"movq %rdi, (%rdi)\n"
	"user_write_resume:\n\t"
	"jmp rt_user_exit\n" RT_EXTABLE("user_write_insn", "user_write_resume")
	/* Calls RDI. */
	".globl user_call\n"
	"user_call:\n\t"
	"call *%rdi\n\t"
	"jmp rt_user_exit\n"
	/* syscall(RDI) with DF set (FMASK must clear it for the kernel), RSI = RFLAGS just
	 * before it; RAX = the result. */
	".globl user_syscall, user_syscall_ret\n"
	"user_syscall:\n\t"
	"std\n\t"
	"pushfq\n\t"
	"popq %rsi\n\t"
	"syscall\n"
	"user_syscall_ret:\n\t"
	"cld\n\t"
	"jmp rt_user_exit\n"
	/* int $0x80 with RDI; RAX = the result. */
	".globl user_int80, user_int80_insn, user_int80_ret\n"
	"user_int80:\n"
	"user_int80_insn:\n\t"
	"int $0x80\n"
	"user_int80_ret:\n\t"
	"jmp rt_user_exit\n"
	".popsection\n"
	".pushsection .user.data, \"aw\"\n"
	".balign 8\n"
	".globl user_word\n"
	"user_word:\n\t"
	".quad 0x7573657264617461\n"
	".popsection\n");

extern char user_selectors[], user_read[], user_read_insn[], user_write[], user_write_insn[],
	user_call[], user_syscall[], user_syscall_ret[], user_int80[], user_int80_insn[],
	user_int80_ret[];
extern uint64_t user_word;
extern char rt_user_stack_top[];

/*
 * LSTAR: entered at CPL0 with RSP still the user's, RCX = user RIP, R11 = user RFLAGS.
 * It switches to its own stack, calls sys_dispatch(RDI, RSI, RCX, R11), and returns the
 * result to the user with sysretq. kernel_text_probe is kernel code CPL3 must not run.
 */
__asm__(".pushsection .text\n"
	".globl syscall_entry, syscall_entry_end, kernel_text_probe\n"
	"syscall_entry:\n\t"
	"movq %rsp, sys_user_rsp(%rip)\n\t"
	"leaq sys_stack_top(%rip), %rsp\n\t"
	"pushq %rcx\n\t"
	"pushq %r11\n\t"
	"movq %rcx, %rdx\n\t"
	"movq %r11, %rcx\n\t"
	"call sys_dispatch\n\t"
	"popq %r11\n\t"
	"popq %rcx\n\t"
	"movq sys_user_rsp(%rip), %rsp\n\t"
	"sysretq\n"
	"syscall_entry_end:\n"
	"kernel_text_probe:\n\t"
	"movq $0xbad, %rax\n\t"
	"jmp rt_user_exit\n"
	".popsection\n"
	".pushsection .bss\n"
	".balign 16\n"
	"sys_stack:\n\t"
	".skip 4096\n"
	"sys_stack_top:\n"
	"sys_user_rsp:\n\t"
	".skip 8\n"
	".popsection\n");

extern char syscall_entry[], syscall_entry_end[], kernel_text_probe[];

/* Kernel data: supervisor-only. */
static volatile uint64_t secret = 0x5ec7e7;

/* The last trap from CPL3, as its handler saw it. */
static struct {
	unsigned count;
	struct rt_frame f;
	uint64_t cr2, frame_end;
} seen;
static unsigned expected_count;

static struct {
	unsigned count;
	uint64_t arg, user_flags, rcx, r11, kernel_flags;
	uint16_t cs, ss;
} sys;

uint64_t sys_dispatch(uint64_t arg, uint64_t user_flags, uint64_t rcx, uint64_t r11);
uint64_t sys_dispatch(uint64_t arg, uint64_t user_flags, uint64_t rcx, uint64_t r11)
{
	sys.count++;
	sys.arg = arg;
	sys.user_flags = user_flags;
	sys.rcx = rcx;
	sys.r11 = r11;
	struct rt_segments segs = rt_frame_segments();

	sys.cs = segs.cs;
	sys.ss = segs.ss;
	sys.kernel_flags = read_rflags();
	return arg + 1;
}

static void record(struct rt_frame *f)
{
	seen.count++;
	seen.f = *f;
	seen.cr2 = read_cr2();
	seen.frame_end = (uint64_t)(&f->ss + 1);
}

static bool from_user(const struct rt_frame *f)
{
	return (f->cs & 0xffff) == rt_boot.user_cs;
}

/* #PF, #GP and #UD. */
static void user_trap(struct rt_frame *f)
{
	record(f);
	/*
	 * A CPL3 fault inside the LSTAR handler (whose page is supervisor-only): syscall did not
	 * enter CPL0. The architecture never does that; kvm_pvm in direct mode does.
	 */
	if (from_user(f) && f->rip >= (uint64_t)syscall_entry &&
	    f->rip < (uint64_t)syscall_entry_end && (f->vector != VEC_PF || (f->error & PF_U))) {
		rt_note_limitation("syscall from CPL3 reached LSTAR at CPL3 (not CPL0)");
		rt_user_return(SYSCALL_AT_CPL3);
	}
	/* #UD at an int $0x80 whose gate is present with DPL 3: kvm_pvm in direct mode. */
	if (f->vector == VEC_UD && from_user(f) && f->rip == (uint64_t)user_int80_insn) {
		rt_note_limitation("int $0x80 from CPL3 through a DPL3 gate raised #UD");
		rt_user_return(INT_GAVE_UD);
	}
	if (f->vector == VEC_PF && from_user(f)) {
		if (rt_fixup(f))
			return;
		if (f->error & PF_I) { /* user_call into kernel text: back to the call */
			f->rip = *(uint64_t *)f->rsp;
			f->rsp += 8;
			return;
		}
	}
	rt_unexpected(f);
}

static void int80(struct rt_frame *f)
{
	record(f);
	f->rax = f->rdi + 2;
}

/* A trap from CPL3: user CS and SS in the frame, on the TSS.RSP0 stack. */
static void check_user_frame(unsigned vector, uint64_t error, uint64_t rip, uint64_t rsp)
{
	CHECK_EQ(seen.count, ++expected_count);
	CHECK_EQ(seen.f.vector, vector);
	CHECK_EQ(seen.f.error, error);
	CHECK_EQ(seen.f.rip, rip);
	CHECK_EQ(seen.f.cs & 0xffff, rt_boot.user_cs);
	CHECK_EQ(seen.f.ss & 0xffff, rt_boot.user_ds);
	CHECK_EQ(seen.f.rsp, rsp);
	CHECK_EQ(seen.f.rflags & RFLAGS_IF, RFLAGS_IF); /* the user ran with interrupts on */
	CHECK_EQ(seen.frame_end, rt_boot.trap_stack_top);
}

void guest_main(void)
{
	const uint64_t user_rsp = (uint64_t)rt_user_stack_top;
	uint64_t r;

	STEP("the selectors from /lodger fit STAR's layout");
	CHECK_EQ(rt_boot.kernel_ds, rt_boot.kernel_cs + 8);
	CHECK_EQ(rt_boot.user_ds, rt_boot.user32_cs + 8);
	CHECK_EQ(rt_boot.user_cs, rt_boot.user32_cs + 16);
	CHECK_EQ(rt_boot.user_cs & 3, 3);
	CHECK_EQ(rt_boot.user_ds & 3, 3);

	STEP("map the user pages U=1, the rest supervisor-only; set STAR, LSTAR, the gates");
	rt_paging_init();
	rt_map_user_pages(rt_kernel_root);
	rt_set_handler(VEC_PF, user_trap);
	rt_set_handler(VEC_GP, user_trap);
	rt_set_handler(VEC_UD, user_trap);
	rt_set_handler(0x80, int80);
	rt_set_gate_dpl(0x80, 3);
	wrmsr(MSR_STAR, (uint64_t)rt_boot.user32_cs << 48 | (uint64_t)rt_boot.kernel_cs << 32);
	wrmsr(MSR_LSTAR, (uint64_t)syscall_entry);
	wrmsr(MSR_FMASK, FMASK);

	STEP("iretq to CPL3: the user code runs with the user selectors");
	/* Seen in the frame of its exit: the view the guest contract guarantees in both
	 * modes (a direct read of CS at CPL3 shows the host's selector on kvm_pvm). */
	r = rt_user_call((void (*)(void))user_selectors, 0);
	CHECK_EQ(r, 0x5e15);
	CHECK_EQ(rt_user_exit_segments.cs, rt_boot.user_cs);
	CHECK_EQ(rt_user_exit_segments.ss, rt_boot.user_ds);
	CHECK_EQ(rt_frame_segments().cs, rt_boot.kernel_cs);

	STEP("the user code reads its own U=1 data");
	CHECK_EQ(rt_user_call((void (*)(void))user_read, (uint64_t)&user_word), 0x7573657264617461);

	STEP("a user read of a supervisor page: #PF P=1 U=1, on TSS.RSP0's stack");
	r = rt_user_call((void (*)(void))user_read, (uint64_t)&secret);
	CHECK_EQ(r, 0);
	check_user_frame(VEC_PF, PF_P | PF_U, (uint64_t)user_read_insn, user_rsp);
	CHECK_EQ(seen.cr2, (uint64_t)&secret);

	STEP("a user write to it: #PF P=1 W=1 U=1, and the page is unchanged");
	rt_user_call((void (*)(void))user_write, (uint64_t)&secret);
	check_user_frame(VEC_PF, PF_P | PF_W | PF_U, (uint64_t)user_write_insn, user_rsp);
	CHECK_EQ(seen.cr2, (uint64_t)&secret);
	CHECK_EQ(secret, 0x5ec7e7);

	STEP("a user call into kernel text: #PF on the fetch, P=1 U=1 I=1");
	r = rt_user_call((void (*)(void))user_call, (uint64_t)kernel_text_probe);
	CHECK_EQ(r, 0);
	check_user_frame(VEC_PF, PF_P | PF_U | PF_I, (uint64_t)kernel_text_probe, user_rsp - 8);
	CHECK_EQ(seen.cr2, (uint64_t)kernel_text_probe);

	STEP("syscall: LSTAR runs at CPL0 with STAR's kernel selectors, sysretq returns");
	r = rt_user_call((void (*)(void))user_syscall, 41);
	if (r == SYSCALL_AT_CPL3) {
		/* kvm_pvm: noted above; the fault the detection rests on was a trap from CPL3. */
		CHECK_EQ(seen.count, ++expected_count);
		CHECK_EQ(sys.count, 0);
	} else {
		CHECK_EQ(r, 42);
		CHECK_EQ(sys.count, 1);
		CHECK_EQ(sys.arg, 41);
		CHECK_EQ(sys.cs, rt_boot.kernel_cs);
		CHECK_EQ(sys.ss, rt_boot.kernel_ds);
		CHECK_EQ(sys.rcx, (uint64_t)user_syscall_ret);
		CHECK_EQ(sys.r11 & RFLAGS_STATUS, sys.user_flags & RFLAGS_STATUS);
		CHECK_EQ(sys.r11 & (RFLAGS_IF | RFLAGS_DF), RFLAGS_IF | RFLAGS_DF);
		/* FMASK cleared DF (IF too, but pushfq cannot show that in shadow mode). */
		CHECK_EQ(sys.kernel_flags & RFLAGS_DF, 0);
		CHECK_EQ(seen.count, expected_count);
	}

	STEP("int $0x80 through a DPL3 gate enters the kernel, iretq returns");
	r = rt_user_call((void (*)(void))user_int80, 7);
	if (r == INT_GAVE_UD) {
		CHECK_EQ(seen.count, ++expected_count);
	} else {
		CHECK_EQ(r, 9);
		check_user_frame(0x80, 0, (uint64_t)user_int80_ret, user_rsp);
	}

	STEP("no other trap came from user mode");
	CHECK_EQ(seen.count, expected_count);

	DONE();
}
