/*
 * test_privop.c - the shadow-mode guest's virtual CPU as the emulator (src/native/privop.c)
 * and event delivery (src/native/reflect.c) give it, on a hand-built guest in calloc'd
 * RAM. ioctl() is interposed for the fake vCPU descriptor, so the tests see exactly what
 * would have reached KVM.
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "front/exitcode.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"
#include "lodger/stub_abi.h"
#include "native/privop.h"
#include "native/reflect.h"
#include "shadow/guestcpu.h"
#include "shadow/pagewalk.h"

#define RAM_SIZE (1ULL << 20)
#define MON_GPA	 (4ULL << 30)
#define MON_SIZE (1ULL << 20)

/* Guest layout: [0, 2 MiB) identity-mapped by one 2 MiB page, user and writable. */
#define PML4	    0x1000ULL
#define PDPT	    0x2000ULL
#define PD	    0x3000ULL
#define CODE	    0x10000ULL
#define IDT	    0x11000ULL
#define TSS	    0x12000ULL
#define KSTACK	    0x20000ULL /* TSS.RSP0 */
#define USTACK	    0x30000ULL
#define HANDLERS    0x40000ULL /* vector v's handler at HANDLERS + v * 0x10 */
#define FAKE_FD	    0x7ffe
#define CR4_SMEP    (1ULL << 20)
#define CR4_SMAP    (1ULL << 21)
#define CR4_OSXSAVE (1ULL << 18)

static struct vm vm;
static struct vcpu vcpu;
static struct guestcpu *g;
static struct trap t;

/* What reached "KVM" through the fake vCPU descriptor. */
static struct {
	unsigned msr_calls;
	uint32_t last_index;
	bool offer_smep;
} kvm;

int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (fd != FAKE_FD)
		return (int)syscall(SYS_ioctl, fd, req, arg);
	if (req == KVM_SET_MSRS || req == KVM_GET_MSRS) {
		struct kvm_msrs *m = arg;

		kvm.msr_calls++;
		kvm.last_index = m->entries[0].index;
		return 1;
	}
	if (req == KVM_GET_CPUID2) {
		struct kvm_cpuid2 *c = arg;

		if (c->nent < 1)
			return -1;
		c->nent = 1;
		c->entries[0] = (struct kvm_cpuid_entry2){
			.function = 7, .ebx = (kvm.offer_smep ? 1u << 7 : 0) | 1u << 20};
		return 0;
	}
	return -1;
}

static uint64_t *ram64(uint64_t gpa)
{
	return (uint64_t *)(vm.mem.ram + gpa);
}

/* TSS fields are not 8-byte aligned (RSP0 at +4, IST1 at +0x24). */
static void set_tss(uint64_t gpa, uint64_t v)
{
	memcpy(vm.mem.ram + gpa, &v, 8);
}

static void set_gate(unsigned v, uint64_t offset, unsigned dpl, unsigned type, bool present)
{
	uint64_t *gate = ram64(IDT + v * 16);

	gate[0] = (offset & 0xffff) | ((uint64_t)STUB_GUEST_KERNEL_CS << 16) |
		  ((uint64_t)type << 40) | ((uint64_t)dpl << 45) | ((uint64_t)present << 47) |
		  ((offset >> 16 & 0xffff) << 48);
	gate[1] = offset >> 32;
}

static void setup(void)
{
	memset(&vm, 0, sizeof(vm));
	memset(&vcpu, 0, sizeof(vcpu));
	memset(&kvm, 0, sizeof(kvm));
	vm.mem.ram = calloc(1, RAM_SIZE);
	vm.mem.ram_size = RAM_SIZE;
	vm.mem.monitor = calloc(1, MON_SIZE);
	vm.mem.monitor_gpa = MON_GPA;
	vm.mem.monitor_size = MON_SIZE;
	vm.mem.phys_bits = 46;
	cr_assert(vm.mem.ram && vm.mem.monitor, "calloc failed");
	vcpu.vm = &vm;
	vcpu.fd = FAKE_FD;
	g = calloc(1, sizeof(*g));
	cr_assert_not_null(g);
	cr_assert_eq(shadow_init(&g->shadow, &vm.mem, 0x2000, 64, 0xfffffe0000000000ULL, MON_GPA,
				 1ULL << 40),
		     0);
	*ram64(PML4) = PDPT | PTE_P | PTE_W | PTE_U;
	*ram64(PDPT) = PD | PTE_P | PTE_W | PTE_U;
	*ram64(PD) = PTE_P | PTE_W | PTE_U | PTE_PS;
	for (unsigned v = 0; v < 256; v++)
		set_gate(v, HANDLERS + v * 0x10, 0, 0xe, true);
	set_tss(TSS + 4, KSTACK);
	g->cr0 = 0x80010033;
	g->cr4 = 0x620;
	g->efer = 0xd01;
	g->cr3 = PML4;
	g->idtr_base = IDT;
	g->idtr_limit = 0xfff;
	g->tr_base = TSS;
	t = (struct trap){.vcpu = &vcpu, .g = g};
	t.sregs.cs.selector = STUB_GUEST_KERNEL_CS;
	t.regs.rip = CODE;
	t.regs.rsp = KSTACK - 0x100;
}

static void teardown(void)
{
	shadow_destroy(&g->shadow);
	free(g);
	free(vm.mem.ram);
	free(vm.mem.monitor);
}

TestSuite(msr, .init = setup, .fini = teardown);
TestSuite(deliver, .init = setup, .fini = teardown);
TestSuite(emulate, .init = setup, .fini = teardown);

/* Emulates the instruction `bytes` at CODE in the current mode (trap vector `vector`). */
static int run(const void *bytes, size_t len, unsigned vector)
{
	memcpy(vm.mem.ram + CODE, bytes, len);
	t.regs.rip = CODE;
	t.vector = vector;
	/* 1: emulated or delivered, as the guest's CPU would (privop_emulate's 0) */
	int r = privop_emulate(&t);

	return r == 0 ? 1 : -r;
}

static void enter_user(void)
{
	g->user = true;
	t.sregs.cs.selector = STUB_GUEST_USER_CS;
	t.regs.rsp = USTACK;
}

/* The guest now runs vector v's handler with `error` on top of its frame (if any). */
static void assert_delivered(unsigned v, bool has_error, uint64_t error)
{
	cr_assert_eq(t.regs.rip, HANDLERS + v * 0x10, "expected vector %u's handler, RIP %#llx", v,
		     (unsigned long long)t.regs.rip);
	cr_assert_not(g->user, "a handler runs in kernel mode");
	if (has_error)
		cr_assert_eq(*ram64(t.regs.rsp), error, "error code %#llx, expected %#llx",
			     (unsigned long long)*ram64(t.regs.rsp), (unsigned long long)error);
}

/* ---- item 2: which MSR indices can ever reach KVM ---- */

static bool kvm_allowed(uint32_t i)
{
	return i == 0x10 || i == 0x1b || i == 0x3b || i == 0xfe || i == 0x1a0 || i == 0x6e0 ||
	       (i >= 0x200 && i <= 0x2ff && i != 0x277) || (i >= 0x800 && i <= 0x8ff);
}

static void walk(uint64_t from, uint64_t to, uint64_t stride, uint64_t *to_kvm)
{
	for (uint64_t i = from; i <= to; i += stride) {
		bool k = privop_msr_route((uint32_t)i) == MSR_ROUTE_KVM;

		if (k != kvm_allowed((uint32_t)i))
			cr_assert_fail("MSR %#llx: routed %s KVM", (unsigned long long)i,
				       k ? "to" : "away from");
		*to_kvm += k;
	}
}

/*
 * Every index of the ranges where MSRs live (architectural, Hyper-V/KVM, AMD and the
 * 0xc000xxxx block, each with room around it) and a stride of 4093 across all 2^32; the
 * whole space, one by one, with LODGER_MSR_WALK=full (some 15 s).
 */
Test(msr, the_index_space_reaches_kvm_only_at_the_allowed_indices)
{
	uint64_t to_kvm = 0;

	if (getenv("LODGER_MSR_WALK") && !strcmp(getenv("LODGER_MSR_WALK"), "full")) {
		walk(0, UINT32_MAX, 1, &to_kvm);
		cr_assert_eq(to_kvm, 6 + 255 + 256, "%llu indices reach KVM",
			     (unsigned long long)to_kvm);
		return;
	}
	walk(0, 0xffffff, 1, &to_kvm);
	cr_assert_eq(to_kvm, 6 + 255 + 256, "%llu indices reach KVM", (unsigned long long)to_kvm);
	walk(0x3f000000, 0x40ffffff, 1, &to_kvm);
	walk(0xbf000000, 0xc0ffffff, 1, &to_kvm);
	walk(0, UINT32_MAX, 4093, &to_kvm);
	walk(UINT32_MAX - 0xffff, UINT32_MAX, 1, &to_kvm);
}

Test(msr, sysenter_msrs_are_virtual_and_never_reach_kvm)
{
	static const uint8_t wrmsr[] = {0x0f, 0x30}, rdmsr[] = {0x0f, 0x32};

	for (uint32_t i = 0x174; i <= 0x176; i++) {
		cr_assert_eq(privop_msr_route(i), MSR_ROUTE_VIRTUAL);
		t.regs.rcx = i;
		t.regs.rax = 0x1000 + i;
		t.regs.rdx = 0;
		cr_assert_eq(run(wrmsr, 2, 13), 1);
		t.regs.rax = 0;
		cr_assert_eq(run(rdmsr, 2, 13), 1);
		cr_assert_eq(t.regs.rax, 0x1000 + i, "MSR %#x reads back %#llx", i,
			     (unsigned long long)t.regs.rax);
	}
	cr_assert_eq(kvm.msr_calls, 0, "%u MSR ioctls, last index %#x", kvm.msr_calls,
		     kvm.last_index);
}

Test(msr, the_emulator_sends_exactly_the_routed_indices_to_kvm)
{
	static const uint8_t wrmsr[] = {0x0f, 0x30};
	static const uint32_t ranges[][2] = {{0, 0x1fff},
					     {0x40000000, 0x400001ff},
					     {0xc0000000, 0xc0001fff},
					     {0xc0010000, 0xc0011fff}};

	for (unsigned r = 0; r < 4; r++)
		for (uint32_t i = ranges[r][0]; i <= ranges[r][1]; i++) {
			unsigned before = kvm.msr_calls;

			/* a value every virtual MSR accepts, and no ICR delivery mode lodger drops
			 */
			t.regs.rcx = i;
			t.regs.rax = 0;
			t.regs.rdx = 0;
			g->user = false;
			if (i == 0xc0000080)
				t.regs.rax = 0xd01;
			if (i == 0x1b) /* APIC_BASE: the xAPIC page stays where it is */
				t.regs.rax = 0xfee00900;
			run(wrmsr, 2, 13);
			cr_assert_eq(kvm.msr_calls - before, kvm_allowed(i) ? 1u : 0u,
				     "wrmsr %#x: %u ioctls", i, kvm.msr_calls - before);
			t.regs.rsp = KSTACK - 0x100;
		}
}

Test(msr, apic_icr_init_sipi_and_smi_are_dropped_fixed_and_nmi_go_through)
{
	static const uint8_t wrmsr[] = {0x0f, 0x30};
	static const struct {
		uint32_t mode;
		bool reaches;
	} cases[] = {{0, true}, {1, true}, {2, false}, {4, true}, {5, false}, {6, false}};

	for (unsigned c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		unsigned before = kvm.msr_calls;

		t.regs.rcx = 0x830;
		t.regs.rax = cases[c].mode << 8 | 0x40;
		t.regs.rdx = 0;
		cr_assert_eq(run(wrmsr, 2, 13), 1);
		cr_assert_eq(t.regs.rip, CODE + 2, "a dropped ICR write still completes");
		cr_assert_eq(kvm.msr_calls - before, cases[c].reaches ? 1u : 0u,
			     "ICR delivery mode %u", cases[c].mode);
	}
	/* An LVT entry (LINT0) asking for SMI or INIT is dropped too. */
	t.regs.rcx = 0x835;
	t.regs.rax = 2 << 8;
	kvm.msr_calls = 0;
	run(wrmsr, 2, 13);
	t.regs.rax = 5 << 8;
	run(wrmsr, 2, 13);
	cr_assert_eq(kvm.msr_calls, 0);
}

/* ---- item 4: no double-fault promotion for int n; the SDM's classes otherwise ---- */

Test(deliver, user_int_8_13_14_through_a_dpl0_gate_is_gp_vector_times_8_plus_2)
{
	static const uint8_t vectors[] = {8, 13, 14, 2, 0x80};

	for (unsigned i = 0; i < sizeof(vectors); i++) {
		uint8_t insn[2] = {0xcd, vectors[i]};

		enter_user();
		cr_assert_eq(run(insn, 2, 13), 1, "int $%u: not handled", vectors[i]);
		assert_delivered(13, true, vectors[i] * 8u + 2);
		cr_assert_eq(*ram64(t.regs.rsp + 8), CODE, "the #GP frame points at the int");
	}
}

Test(deliver, kernel_int_8_through_its_gate_is_a_plain_interrupt)
{
	static const uint8_t insn[] = {0xcd, 0x08};

	cr_assert_eq(run(insn, 2, 13), 1);
	assert_delivered(8, false, 0);
	cr_assert_eq(*ram64(t.regs.rsp), CODE + 2, "no error code, return after the int");
}

Test(deliver, a_fault_delivering_int_n_is_delivered_as_it_is)
{
	static const uint8_t insn[] = {0xcd, 0x0d};

	set_gate(13, HANDLERS + 13 * 0x10, 0, 0xe, true);
	set_gate(0x0d, HANDLERS + 13 * 0x10, 0, 0xe, true);
	set_gate(0x0d, 0, 0, 0xe, false); /* int $13 meets a not-present gate: #NP(13*8+2) */
	cr_assert_eq(run(insn, 2, 13), 1);
	assert_delivered(11, true, 13 * 8 + 2);
}

Test(deliver, contributory_after_contributory_is_a_double_fault)
{
	set_gate(13, 0, 0, 0xe, false);
	cr_assert_eq(reflect_event(&t, 13, true, 0, EV_EXCEPTION), 0);
	assert_delivered(8, true, 0);
}

Test(deliver, contributory_after_a_page_fault_is_a_double_fault)
{
	set_gate(14, 0, 0, 0xe, false);
	cr_assert_eq(reflect_event(&t, 14, true, 2, EV_EXCEPTION), 0);
	assert_delivered(8, true, 0);
}

Test(deliver, a_page_fault_after_a_benign_exception_is_delivered_as_it_is)
{
	set_tss(TSS + 4, 0x400000);  /* RSP0 below an unmapped 2 MiB */
	set_tss(TSS + 0x24, KSTACK); /* IST1, for #PF */
	*ram64(IDT + 14 * 16) |= 1ULL << 32;
	enter_user();
	cr_assert_eq(reflect_event(&t, 6, false, 0, EV_EXCEPTION), 0);
	assert_delivered(14, true, PFEC_W);
	cr_assert_eq(g->cr2, 0x400000 - 40, "CR2 %#llx", (unsigned long long)g->cr2);
}

Test(deliver, an_interrupt_meeting_a_not_present_gate_is_np_not_df)
{
	set_gate(0x40, 0, 0, 0xe, false);
	cr_assert_eq(reflect_event(&t, 0x40, false, 0, EV_EXTERNAL), 0);
	assert_delivered(11, true, 0x40 * 8 + 2 + 1);
}

Test(deliver, a_fault_delivering_a_double_fault_is_a_triple_fault)
{
	set_gate(13, 0, 0, 0xe, false);
	set_gate(8, 0, 0, 0xe, false);
	cr_assert_eq(reflect_event(&t, 13, true, 0, EV_EXCEPTION), EXIT_TRIPLE_FAULT);
}

/* ---- item 5: a gate's offset is checked for canonicality at delivery ---- */

Test(deliver, kernel_int_n_through_a_noncanonical_gate_is_gp_0)
{
	static const uint8_t insn[] = {0xcd, 0x81};

	set_gate(0x81, 0x0000800000000000ULL, 0, 0xe, true);
	cr_assert_eq(run(insn, 2, 13), 1);
	assert_delivered(13, true, 0);
}

Test(deliver, an_exception_through_a_noncanonical_gate_is_gp_ext)
{
	set_gate(6, 0x00007fffffffffffULL + 0x10, 0, 0xe, true);
	cr_assert_eq(reflect_event(&t, 6, false, 0, EV_EXCEPTION), 0);
	assert_delivered(13, true, 1);
}

/* ---- item 8: mov to CR3 with a reserved bit is #GP(0) ---- */

Test(emulate, mov_to_cr3_with_a_reserved_bit_is_gp_0)
{
	static const uint8_t mov_rax_cr3[] = {0x0f, 0x22, 0xd8};
	static const uint64_t bad[] = {1ULL << 62, 1ULL << 63, 1ULL << 46, PML4 | 1ULL << 51};

	for (unsigned i = 0; i < 4; i++) {
		t.regs.rax = PML4 | bad[i];
		t.regs.rsp = KSTACK - 0x100;
		cr_assert_eq(run(mov_rax_cr3, 3, 13), 1);
		assert_delivered(13, true, 0);
		cr_assert_eq(g->cr3, PML4, "CR3 %#llx was accepted", (unsigned long long)g->cr3);
	}
	t.regs.rax = PML4 | 0x18; /* PWT, PCD: not reserved */
	cr_assert_eq(run(mov_rax_cr3, 3, 13), 1);
	cr_assert_eq(t.regs.rip, CODE + 3);
	cr_assert_eq(g->cr3, PML4 | 0x18);
}

/* ---- item 10: xsetbv with CR4.OSXSAVE clear is #UD, in both modes ---- */

Test(emulate, xsetbv_with_osxsave_clear_is_ud)
{
	static const uint8_t xsetbv[] = {0x0f, 0x01, 0xd1};

	cr_assert_eq(run(xsetbv, 3, 13), 1);
	assert_delivered(6, false, 0);
	cr_assert_eq(*ram64(t.regs.rsp), CODE, "#UD points at the xsetbv");
	enter_user();
	cr_assert_eq(run(xsetbv, 3, 13), 1);
	assert_delivered(6, false, 0);
}

/* ---- item 11: CR4 takes only what is offered and honoured ---- */

Test(emulate, cr4_smep_is_taken_where_cpuid_offers_it_smap_never)
{
	static const uint8_t mov_rax_cr4[] = {0x0f, 0x22, 0xe0};

	t.regs.rax = g->cr4 | CR4_SMEP;
	cr_assert_eq(run(mov_rax_cr4, 3, 13), 1);
	assert_delivered(13, true, 0); /* not offered */
	kvm.offer_smep = true;
	t.regs.rsp = KSTACK - 0x100;
	cr_assert_eq(run(mov_rax_cr4, 3, 13), 1);
	cr_assert_eq(t.regs.rip, CODE + 3, "SMEP refused although offered");
	cr_assert(g->shadow.smep, "the shadow fill must know");
	t.regs.rax = g->cr4 | CR4_SMAP; /* offered by KVM here, never honoured */
	cr_assert_eq(run(mov_rax_cr4, 3, 13), 1);
	assert_delivered(13, true, 0);
	t.regs.rax = 0x620;
	t.regs.rsp = KSTACK - 0x100;
	cr_assert_eq(run(mov_rax_cr4, 3, 13), 1);
	cr_assert_eq(t.regs.rip, CODE + 3);
	cr_assert_not(g->shadow.smep);
}
