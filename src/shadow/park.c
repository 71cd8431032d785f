/*
 * park.c - the vCPU waiting in the stub: a guest hlt, and port I/O through the stub's
 * trampolines.
 */
#include "shadow/park.h"

#include "arch/x86.h"
#include "front/exitcode.h"
#include "kvm/vcpu.h"
#include "lodger/stub_abi.h"
#include "shadow/guestcpu.h"
#include "shadow/transport.h"

/* Sends the vCPU into the stub at `offset`. The caller commits t once it has set the
 * registers the stub code takes. */
static int run_in_stub(struct trap *t, uint64_t offset, bool interrupts)
{
	struct guestcpu *g = t->g;

	g->saved = t->regs;
	g->saved_sregs = t->sregs;
	t->regs.rip = stub_linear(&g->stub, STUB_CODE + offset);
	t->regs.rsp = stub_linear(&g->stub, STUB_STACK_TOP);
	t->regs.rflags = RFLAGS_FIXED | (interrupts ? RFLAGS_IF : 0);
	t->sregs.cs = cpu_flat_segment(STUB_CS, true, true);
	t->sregs.ss = cpu_flat_segment(STUB_DS, false, false);
	t->sregs.cr3 = shadow_root(&g->shadow, g->cr3, g->user, false);
	if (transport_sync_kvm(t))
		return EXIT_HOST_ERROR;
	stub_load_tables(&g->stub, &t->sregs);
	t->parked = true;
	return 0;
}

void park_give_back(struct trap *t)
{
	const struct guestcpu *g = t->g;

	t->regs = g->saved;
	/* Only what the stub's code ran on: the rest of t->sregs is this exit's, and an old
	 * copy would give KVM back an interrupt it has since delivered (interrupt_bitmap). */
	t->sregs.cs = g->saved_sregs.cs;
	t->sregs.ss = g->saved_sregs.ss;
}

int park_halt(struct trap *t)
{
	t->g->halted = true;
	return run_in_stub(t, STUB_IDLE, true) ?: transport_commit(t);
}

int park_port_io(struct trap *t, uint16_t port, unsigned size, bool in)
{
	static const unsigned op[2][5] = {
		{0, STUB_PIO_OUT8, STUB_PIO_OUT16, 0, STUB_PIO_OUT32},
		{0, STUB_PIO_IN8, STUB_PIO_IN16, 0, STUB_PIO_IN32},
	};
	struct kvm_regs guest = t->regs;
	int r;

	t->g->pio_pending = true;
	t->g->pio_size = size;
	t->g->pio_in = in;
	r = run_in_stub(t, STUB_PIO + op[in][size] * STUB_PIO_SIZE, false);
	if (r)
		return r;
	t->regs.rdx = port;
	t->regs.rax = guest.rax;
	return transport_commit(t);
}

int park_finish_port_io(struct trap *t)
{
	struct guestcpu *g = t->g;
	uint64_t value = t->regs.rax;

	g->pio_pending = false;
	park_give_back(t);
	if (g->pio_in) {
		if (g->pio_size == 4)
			t->regs.rax = (uint32_t)value;
		else if (g->pio_size == 2)
			t->regs.rax = (t->regs.rax & ~0xffffULL) | (value & 0xffff);
		else
			t->regs.rax = (t->regs.rax & ~0xffULL) | (value & 0xff);
	}
	g->stats.by_kind[TK_PIO]++;
	return park_step_trap(t);
}

int park_apic_write(struct trap *t, uint32_t offset, uint32_t value)
{
	int r;

	t->g->apic_pending = true;
	r = run_in_stub(t, STUB_APIC_W32, false);
	if (r)
		return r;
	t->regs.rdx = stub_linear(&t->g->stub, STUB_APIC_WINDOW + (offset & 0xffc));
	t->regs.rax = value;
	return transport_commit(t);
}

int park_finish_apic_write(struct trap *t)
{
	struct guestcpu *g = t->g;

	g->apic_pending = false;
	park_give_back(t);
	return park_step_trap(t);
}

int park_step_trap(struct trap *t)
{
	if (!(t->regs.rflags & RFLAGS_TF))
		return 0;
	t->vector = VEC_DB;
	t->has_error = false;
	t->error = 0;
	return t->g->pers->exception(t);
}

void park_wake(struct trap *t)
{
	struct guestcpu *g = t->g;

	g->halted = false;
	g->stats.by_kind[TK_HALT_WAKE]++;
	park_give_back(t);
}
