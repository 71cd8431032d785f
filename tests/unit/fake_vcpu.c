/* fake_vcpu.c - see fake_vcpu.h. */
#include "fake_vcpu.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86.h"
#include "kvm/kvm.h"
#include "kvm/mode.h"
#include "lodger/stub_abi.h"
#include "native/native.h"
#include "shadow/monitor.h"
#include "shadow/pagewalk.h"

struct fake fk;

static int fake_ioctl(int fd, unsigned long req, void *arg)
{
	(void)fd;
	fk.calls++;
	if (req == fk.fail_req) {
		errno = EIO;
		return -1;
	}
	switch (req) {
	case KVM_GET_REGS:
		memcpy(arg, &fk.kvm_regs, sizeof(fk.kvm_regs));
		return 0;
	case KVM_GET_SREGS:
		memcpy(arg, &fk.kvm_sregs, sizeof(fk.kvm_sregs));
		return 0;
	case KVM_SET_REGS:
		memcpy(&fk.kvm_regs, arg, sizeof(fk.kvm_regs));
		return 0;
	case KVM_SET_SREGS:
		memcpy(&fk.kvm_sregs, arg, sizeof(fk.kvm_sregs));
		return 0;
	case KVM_GET_LAPIC:
		memcpy(arg, &fk.lapic, sizeof(fk.lapic));
		return 0;
	case KVM_SET_LAPIC:
		memcpy(&fk.lapic, arg, sizeof(fk.lapic));
		fk.lapic_sets++;
		return 0;
	case KVM_SET_MSRS:
	case KVM_GET_MSRS:
		return ((struct kvm_msrs *)arg)->nmsrs;
	case KVM_RUN: /* completes the exit's instruction, as KVM's complete_userspace_io */
	{
		__u64 *rip = fk.vcpu->run->kvm_valid_regs & KVM_SYNC_X86_REGS
				     ? &fk.vcpu->run->s.regs.regs.rip
				     : &fk.kvm_regs.rip;

		fk.kvm_runs++;
		if (!fk.exit_rip || *rip == fk.exit_rip)
			*rip += fk.complete_len;
		fk.complete_len = 0;
		fk.exit_rip = 0;
		return 0;
	}
	case KVM_SET_USER_MEMORY_REGION:
		fk.memslot_sets++;
		return 0;
	default: /* vCPU events: done */
		return 0;
	}
}

void *fake_ptr(uint64_t gpa)
{
	return fk.vm.mem.ram + gpa;
}

uint64_t fake_q(uint64_t gpa)
{
	uint64_t v;

	memcpy(&v, fake_ptr(gpa), 8);
	return v;
}

void fake_put(uint64_t gpa, const void *bytes, unsigned len)
{
	memcpy(fake_ptr(gpa), bytes, len);
}

static void put_q(uint64_t gpa, uint64_t v)
{
	fake_put(gpa, &v, 8);
}

void fake_gate(unsigned vector, unsigned type, unsigned dpl, unsigned ist, bool present)
{
	struct x86_gate g = {.offset = FAKE_HANDLER + vector * 16,
			     .selector = STUB_GUEST_KERNEL_CS,
			     .ist = ist,
			     .type = type,
			     .dpl = dpl,
			     .present = present};
	uint64_t raw[2];

	x86_gate_encode(raw, &g);
	fake_put(FAKE_IDT + vector * 16, raw, 16);
}

void fake_all_gates(void)
{
	for (unsigned v = 0; v < 256; v++)
		fake_gate(v, GATE_INTERRUPT, 0, 0, true);
}

void fake_mode(bool user)
{
	trap_set_mode(&fk.t, user);
	fk.t.regs.rsp = user ? FAKE_USER_RSP : FAKE_RSP0 - 0x1000;
}

void fake_insn(const void *bytes, unsigned len, unsigned vector)
{
	fake_put(FAKE_CODE, bytes, len);
	fk.t.regs.rip = FAKE_CODE;
	fk.t.vector = vector;
	fk.t.has_error = x86_has_error_code(vector);
	fk.t.error = 0;
}

void fake_unmap(uint64_t la)
{
	put_q(FAKE_PT + (la >> 12) * 8, 0);
}

static void build_tables(void)
{
	put_q(FAKE_PML4, FAKE_PDPT | PTE_P | PTE_W | PTE_U);
	put_q(FAKE_PDPT, FAKE_PD | PTE_P | PTE_W | PTE_U);
	put_q(FAKE_PD, FAKE_PT | PTE_P | PTE_W | PTE_U);
	for (uint64_t i = 0; i < 512; i++)
		put_q(FAKE_PT + i * 8, (i << 12) | PTE_P | PTE_W | PTE_U);
	for (uint64_t pd = 1; pd < FAKE_RAM_SIZE >> 21; pd++)
		put_q(FAKE_PD + pd * 8, (pd << 21) | PTE_P | PTE_W | PTE_U | PTE_PS);
	fake_unmap(FAKE_UNMAPPED);
	put_q(FAKE_TSS + TSS_RSP0, FAKE_RSP0);
	put_q(FAKE_TSS + TSS_IST1, FAKE_IST1);
}

void fake_setup(void)
{
	fake_setup_as(&native_personality);
}

void fake_setup_as(const struct personality *pers)
{
	struct guestcpu_options opt = {
		.personality = pers,
		.stub_base = DEFAULT_STUB_BASE,
		.relocate = true,
		.fast_paths = true,
		.seed = 1,
		.reloc_hot = RELOC_DEFAULT_HOT,
		.reloc_window_ms = RELOC_DEFAULT_WINDOW_MS,
	};

	memset(&fk, 0, sizeof(fk));
	kvm_ioctl_hook = fake_ioctl;
	fk.vm.kvm_fd = fk.vm.vm_fd = -1;
	fk.vm.mode = &shadow_mode;
	cr_assert_eq(mem_alloc_ram(&fk.vm.mem, FAKE_RAM_SIZE), 0);
	cr_assert_eq(mem_alloc_monitor(&fk.vm.mem, MONITOR_GPA, MONITOR_SIZE), 0);
	fk.vcpu = calloc(1, sizeof(*fk.vcpu));
	cr_assert_not_null(fk.vcpu);
	fk.vcpu->vm = &fk.vm;
	fk.vcpu->fd = -1;
	fk.vcpu->run = calloc(1, sizeof(struct kvm_run));
	cr_assert_not_null(fk.vcpu->run);
	fk.vm.vcpu = fk.vcpu;
	cr_assert_eq(guestcpu_create(fk.vcpu, &opt), 0);
	fk.g = fk.vcpu->guest;
	build_tables();
	fk.g->cr0 = CR0_PG | CR0_WP | CR0_NE | CR0_ET | CR0_MP | CR0_PE;
	fk.g->cr4 = CR4_OSXMMEXCPT | CR4_OSFXSR | CR4_PAE;
	fk.g->efer = EFER_NXE | EFER_LMA | EFER_LME | EFER_SCE;
	fk.g->cr3 = FAKE_PML4;
	fk.g->idtr_base = FAKE_IDT;
	fk.g->idtr_limit = 256 * 16 - 1;
	fk.g->gdtr_base = FAKE_GDT;
	fk.g->gdtr_limit = 0xff;
	fk.g->tr_base = FAKE_TSS;
	fk.g->tr_limit = 0x67;
	fk.g->star = (uint64_t)(STUB_GUEST_USER32_CS & ~3) << 48 |
		     (uint64_t)(STUB_GUEST_KERNEL_CS & ~3) << 32;
	fk.g->lstar = FAKE_HANDLER + 0x1000;
	fk.g->cstar = FAKE_HANDLER + 0x2000;
	fk.g->fmask = RFLAGS_IF | RFLAGS_TF;
	fk.t = (struct trap){.vcpu = fk.vcpu, .g = fk.g};
	fk.t.regs.rflags = RFLAGS_FIXED;
	fake_mode(false);
	fk.t.regs.rip = FAKE_CODE;
}

void fake_teardown(void)
{
	kvm_ioctl_hook = NULL;
	guestcpu_destroy(fk.vcpu);
	free(fk.vcpu->run);
	free(fk.vcpu);
	mem_free(&fk.vm.mem);
}
