/*
 * fuzz_emulator.c - the instruction emulators on random instruction bytes and random guest
 * state: shadow mode's privileged-instruction emulation (src/native/privop.c, with event
 * delivery through the guest's IDT, reflect.c) and direct mode's completion of what KVM's
 * emulator gives up on (src/direct/emulate.c), both decoding with src/arch/x86dec.c.
 *
 * No KVM: the trap context is built here (a vCPU whose descriptor the fake KVM of
 * fuzz_common.c answers, guest RAM and monitor memory between unmapped guard regions, the
 * stub installed in monitor memory, a fresh shadow pool per run). privop_emulate is the
 * entry trap.c uses for #UD/#NP/#SS/#GP; like trap.c, a 0 from it reflects the original
 * exception to the guest.
 *
 * Input: two flag bytes, 64 bytes of PTE flags (guest RAM's 64 pages are identity-mapped
 * at 0 and at 0xffff800000000000 by tables in pages 0-3, each page with its own flags),
 * the registers and the virtual CPU's state, the trapping vector, 15 instruction bytes
 * placed at RIP, then the contents of RAM from page 4 on (IDT, GDT, TSS, stacks, frames).
 *
 * Checked besides crashes and host accesses outside guest memory:
 *  - the run goes on or ends as the architecture can end it (a triple fault), never with
 *    one of lodger's own failures;
 *  - the real vCPU state lodger would load runs the guest at CPL3 (or in the stub, when
 *    lodger parked it there for a hlt or a port access);
 *  - the guest's mode and its selectors agree, and user mode becomes kernel mode only by
 *    an event delivered through the guest's IDT;
 *  - shadow mode: no MSR outside privop_msr_route's KVM set reaches KVM_GET/SET_MSRS, and
 *    never the guest's SYSENTER_CS/ESP/EIP (on VMX a CPL3 sysenter would load them and run
 *    the guest at real CPL0);
 *  - direct mode: a completed instruction either moved RIP past itself or raised an
 *    exception.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86.h"
#include "front/exitcode.h"
#include "fuzz_common.h"
#include "kvm/vcpu.h"
#include "kvm/vm.h"
#include "lodger/stub_abi.h"
#include "native/privop.h"
#include "shadow/monitor.h"
#include "shadow/guestcpu.h"
#include "shadow/pagewalk.h"

#define PAGES	   64
#define RAM_SIZE   (PAGES * 0x1000ULL)
#define MON_GPA	   (4ULL << 30)
#define POOL_OFF   (STUB_MONITOR_SIZE + 0x1000ULL) /* the stub, its page table, then the pool */
#define POOL_PAGES 64
#define MON_SIZE   (POOL_OFF + POOL_PAGES * 0x1000ULL)
#define OPEN_BUS   (1ULL << 40)
#define STUB_BASE  0xffffffffc0000000ULL
#define HIGH	   0xffff800000000000ULL
#define DATA_PAGE  4 /* the input's RAM contents start here */

#define F_DIRECT   0x01 /* direct mode (emulate.c) instead of shadow mode (privop.c) */
#define F_USER	   0x02 /* shadow mode: the guest is in user mode */
#define F_VIF	   0x04
#define F_RAW_RIP  0x08 /* RIP and RSP as given, not folded into mapped RAM */
#define F_RAW_CR3  0x10
#define F_HIGH	   0x20 /* RIP and RSP in the upper-half alias */
#define F_USER32   0x40 /* user mode on the compatibility-mode code selector */
#define F_SYNCREGS 0x80 /* registers travel in kvm_run (KVM_CAP_SYNC_REGS) */

#define G_WP   0x01
#define G_NXE  0x02
#define G_SCE  0x04
#define G_UMIP 0x08
#define G_CR4  0x10 /* CR4 as given */
#define G_CR0  0x20 /* CR0 as given */
#define G_ZAP  0x40 /* a KVM without TDP: removals go to the zap log (shadow.h) */

static struct vm vm;
static struct vcpu vcpu;
static struct guestcpu *g;
static FILE *quiet;

/* A device on the port bus, as the UART and isa-debug-exit are. */
static void fake_device(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	FUZZ_CHECK(offset < (uintptr_t)opaque && len >= 1 && len <= 4, "port offset %llu len %u",
		   (unsigned long long)offset, len);
	if (!is_write)
		memset(data, 0x42, len);
}

static void setup(void)
{
	vm.mem.ram = fuzz_map_guarded(RAM_SIZE);
	vm.mem.ram_size = RAM_SIZE;
	vm.mem.monitor = fuzz_map_guarded(MON_SIZE);
	vm.mem.monitor_gpa = MON_GPA;
	vm.mem.monitor_size = MON_SIZE;
	vm.kvm_fd = FUZZ_KVM_FD;
	vm.vm_fd = FUZZ_VM_FD;
	vm.vcpu = &vcpu;
	vm.pio.name = "port";
	vm.mmio.name = "mmio";
	if (io_register(&vm.pio, 0x3f8, 8, fake_device, (void *)8, "uart") ||
	    io_register(&vm.pio, 0xf4, 1, fake_device, (void *)1, "debug-exit"))
		abort();
	vcpu.vm = &vm;
	vcpu.fd = FUZZ_VCPU_FD;
	vcpu.run = calloc(1, sizeof(*vcpu.run));
	g = calloc(1, sizeof(*g));
	quiet = fopen("/dev/null", "w");
	if (!vcpu.run || !g || !quiet)
		abort();
	stub_install(&g->stub, &vm.mem, 0, true, false);
	stub_place(&g->stub, STUB_BASE);
}

/* Identity map of RAM at 0 and HIGH: PML4 page 0, PDPT 1, PD 2, PT 3. */
static void build_tables(const uint8_t pte_flags[PAGES])
{
	uint64_t *pml4 = (uint64_t *)vm.mem.ram, *pdpt = pml4 + 512, *pd = pdpt + 512,
		 *pt = pd + 512;
	const uint64_t upper = PTE_P | PTE_W | PTE_U;

	pml4[0] = pml4[256] = 0x1000 | upper;
	pdpt[0] = 0x2000 | upper;
	pd[0] = 0x3000 | upper;
	for (unsigned i = 0; i < PAGES; i++) {
		uint8_t b = pte_flags[i];

		pt[i] = (uint64_t)i << 12 | (b & 0x67) | (b & 0x80 ? PTE_NX : 0);
	}
}

static uint64_t fold(uint64_t a, uint8_t flags)
{
	return (a & (RAM_SIZE - 1)) | (flags & F_HIGH ? HIGH : 0);
}

static void run_direct(struct kvm_regs *regs, uint64_t cr3, bool cpl3)
{
	uint64_t rip = regs->rip;
	FILE *err = stderr;
	bool done;

	fuzz_kvm.regs = *regs;
	memset(&fuzz_kvm.sregs, 0, sizeof(fuzz_kvm.sregs));
	fuzz_kvm.sregs.cr3 = cr3;
	fuzz_kvm.sregs.cr0 = 0x80010033;
	fuzz_kvm.sregs.cs = cpu_flat_segment(cpl3 ? 0x33 : 0x10, true, true);
	/* A refused instruction is reported on stderr: not once per run here. */
	stderr = quiet;
	done = emulate_after_failure(&vcpu);
	stderr = err;
	if (done)
		FUZZ_CHECK(fuzz_kvm.events.exception.injected ||
				   (fuzz_kvm.regs.rip - rip >= 1 && fuzz_kvm.regs.rip - rip <= 15),
			   "completed at %#llx, now at %#llx without an exception",
			   (unsigned long long)rip, (unsigned long long)fuzz_kvm.regs.rip);
}

static int fuzz_flush_kvm(void *ctx)
{
	(void)ctx;
	return 0;
}

/* What the stub would be given: every write inside a window slot that maps the pool. */
static void check_zap_log(void)
{
	static struct stub_zap_log log;
	static uint64_t window[STUB_POOL_SLOTS];
	struct shadow *s = &g->shadow;

	if (!s->kvm_stale || !shadow_zap_ready(s))
		return;
	memset(window, 0, sizeof(window));
	shadow_zap_export(s, &log, window);
	FUZZ_CHECK(log.nr_writes <= STUB_ZAP_MAX && log.nr_slots <= STUB_POOL_SLOTS,
		   "a zap log of %u writes in %u slots", log.nr_writes, log.nr_slots);
	for (uint32_t i = 0; i < log.nr_slots; i++) {
		uint64_t gpa = window[i] & PTE_ADDR_MASK;

		FUZZ_CHECK((window[i] & ~PTE_ADDR_MASK) == (PTE_P | PTE_W | PTE_NX) &&
				   gpa >= MON_GPA + POOL_OFF &&
				   gpa < MON_GPA + POOL_OFF + POOL_PAGES * 0x1000,
			   "window slot %u maps %#llx", i, (unsigned long long)window[i]);
	}
	for (uint32_t i = 0; i < log.nr_writes; i++)
		FUZZ_CHECK(log.writes[i] / 0x1000 < log.nr_slots && log.writes[i] % 8 == 0,
			   "zap write %u at window offset %#x", i, log.writes[i]);
	shadow_kvm_zapped(s);
}

static void run_shadow(struct trap *t)
{
	bool was_user = g->user;
	uint64_t reflected = g->stats.by_kind[TK_REFLECTED];
	/* privop_emulate emulates, or delivers the original exception itself: 0 or a status */
	int status = privop_emulate(t);

	FUZZ_CHECK(status == 0 || status == EXIT_TRIPLE_FAULT, "the guest ended lodger with %d",
		   status);
	for (unsigned i = 0; i < fuzz_kvm.nmsrs; i++) {
		uint32_t index = fuzz_kvm.msr_index[i];

		FUZZ_CHECK(index < MSR_SYSENTER_CS || index > MSR_SYSENTER_EIP,
			   "the guest's SYSENTER MSR %#x reached KVM (%s)", index,
			   fuzz_kvm.msr_write[i] ? "written" : "read");
		FUZZ_CHECK(privop_msr_route(index) == MSR_ROUTE_KVM,
			   "MSR %#x outside the KVM set reached KVM (%s)", index,
			   fuzz_kvm.msr_write[i] ? "written" : "read");
	}
	if (g->shadow.zap_in_stub)
		check_zap_log();
	if (status)
		return;
	if (t->parked) {
		uint64_t code = stub_linear(&g->stub, STUB_CODE);

		FUZZ_CHECK(t->sregs.cs.selector == STUB_CS && t->regs.rip - code < STUB_CODE_END,
			   "parked at %#x:%#llx", t->sregs.cs.selector,
			   (unsigned long long)t->regs.rip);
		FUZZ_CHECK(!g->user, "parked in user mode");
		return;
	}
	FUZZ_CHECK(t->sregs.cs.dpl == 3 && (t->sregs.cs.selector & 3) == 3 &&
			   t->sregs.ss.dpl == 3 && (t->sregs.ss.selector & 3) == 3,
		   "guest at real CPL%u (cs %#x ss %#x)", t->sregs.cs.dpl, t->sregs.cs.selector,
		   t->sregs.ss.selector);
	if (g->user)
		FUZZ_CHECK(t->sregs.cs.selector == STUB_GUEST_USER_CS ||
				   t->sregs.cs.selector == STUB_GUEST_USER32_CS,
			   "user mode on cs %#x", t->sregs.cs.selector);
	else
		FUZZ_CHECK(t->sregs.cs.selector == STUB_GUEST_KERNEL_CS, "kernel mode on cs %#x",
			   t->sregs.cs.selector);
	if (was_user && !g->user)
		FUZZ_CHECK(g->stats.by_kind[TK_REFLECTED] > reflected,
			   "user mode became kernel mode at %#llx without an event",
			   (unsigned long long)t->regs.rip);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned vectors[4] = {6, 11, 12, 13};
	struct fuzz_input in = {data, size};
	uint8_t pte_flags[PAGES], insn[15];
	struct kvm_regs regs;
	struct trap t;
	uint8_t flags, gflags, vsel;
	uint64_t cr3, fs_base, gs_base, cr0, cr4;
	uint16_t error;
	struct stub stub;

	if (!g)
		setup();
	memset(vm.mem.ram, 0, RAM_SIZE);
	stub = g->stub;
	memset(g, 0, sizeof(*g));
	g->stub = stub;
	fuzz_kvm_reset();

	flags = fin_u8(&in);
	gflags = fin_u8(&in);
	fin_bytes(&in, pte_flags, sizeof(pte_flags));
	memset(&regs, 0, sizeof(regs));
	fin_bytes(&in, &regs, sizeof(regs));
	if (!(flags & F_RAW_RIP)) {
		regs.rip = fold(regs.rip, flags);
		regs.rsp = fold(regs.rsp, flags);
	}
	cr3 = fin_u64(&in);
	if (!(flags & F_RAW_CR3))
		cr3 = 0;
	cr0 = fin_u64(&in);
	cr4 = fin_u64(&in);
	g->cr0 = gflags & G_CR0 ? cr0 : 0x80000033 | (gflags & G_WP ? 1ULL << 16 : 0);
	g->cr4 = gflags & G_CR4 ? cr4 : 0x620 | (gflags & G_UMIP ? 1ULL << 11 : 0);
	g->efer = 0x500 | (gflags & G_NXE ? 1ULL << 11 : 0) | (gflags & G_SCE ? 1 : 0);
	g->cr3 = cr3;
	g->cr2 = fin_u64(&in);
	g->gdtr_base = fold(fin_u64(&in), flags);
	g->gdtr_limit = fin_u16(&in);
	g->idtr_base = fold(fin_u64(&in), flags);
	g->idtr_limit = fin_u16(&in);
	g->tr_base = fold(fin_u64(&in), flags);
	g->star = fin_u64(&in);
	g->lstar = fin_u64(&in);
	g->cstar = fin_u64(&in);
	g->fmask = fin_u64(&in);
	g->kernel_gs_base = fin_u64(&in);
	fs_base = fin_u64(&in);
	gs_base = fin_u64(&in);
	g->user = flags & F_USER;
	g->vif = flags & F_VIF;
	vsel = fin_u8(&in);
	error = fin_u16(&in);
	fin_bytes(&in, insn, sizeof(insn));
	fin_bytes(&in, vm.mem.ram + DATA_PAGE * 0x1000, RAM_SIZE - DATA_PAGE * 0x1000);
	build_tables(pte_flags);
	/* The instruction at RIP, wherever RIP's page is in RAM. */
	for (unsigned i = 0; i < sizeof(insn); i++)
		vm.mem.ram[(regs.rip + i) & (RAM_SIZE - 1)] = insn[i];

	if (flags & F_DIRECT) {
		run_direct(&regs, cr3, flags & F_USER);
		return 0;
	}

	reloc_init(&g->reloc, false, 0);
	if (shadow_init(&g->shadow, &vm.mem, POOL_OFF, POOL_PAGES, STUB_BASE,
			MON_GPA + STUB_MONITOR_SIZE, OPEN_BUS))
		abort();
	if ((gflags & G_ZAP) && shadow_zap_enable(&g->shadow, fuzz_flush_kvm, NULL))
		abort();
	/* Shadow entries for what the instruction touches, so that it has some to take away. */
	if (gflags & G_ZAP) {
		struct shadow_guest_mode mode = {.wp = g->cr0 & CR0_WP, .nxe = g->efer & EFER_NXE};
		uint64_t las[] = {regs.rip, regs.rsp, regs.rsp - 8, g->idtr_base, g->gdtr_base};
		uint32_t pfec;

		for (unsigned i = 0; i < sizeof(las) / sizeof(las[0]); i++)
			for (int user = 0; user < 2; user++)
				shadow_fill(&g->shadow, cr3, user, las[i], user ? PFEC_U : 0, &mode,
					    &pfec);
	}
	vcpu.run->kvm_valid_regs = flags & F_SYNCREGS ? KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS : 0;
	memset(&t, 0, sizeof(t));
	t.vcpu = &vcpu;
	t.g = g;
	t.regs = regs;
	trap_set_mode(&t, g->user);
	if (g->user && (flags & F_USER32))
		t.sregs.cs = cpu_flat_segment(STUB_GUEST_USER32_CS, true, false);
	t.sregs.ds = t.sregs.es = t.sregs.fs = t.sregs.gs = t.sregs.ss;
	t.sregs.fs.base = fs_base;
	t.sregs.gs.base = gs_base;
	t.vector = vectors[vsel & 3];
	t.has_error = t.vector != 6;
	t.error = t.has_error ? error : 0;
	run_shadow(&t);
	shadow_destroy(&g->shadow);
	return 0;
}
