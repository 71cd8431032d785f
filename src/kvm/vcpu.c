/*
 * vcpu.c - vCPU lifecycle and the run loop.
 *
 * The loop only dispatches: enter KVM, count the exit, hand it to the one place that
 * deals with it, and go round until a device or a fatal exit stops the VM.
 */
#include "kvm/vcpu.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "front/exitcode.h"
#include "kvm/kvm.h"
#include "kvm/mode.h"
#include "front/log.h"
#include "gdb/server.h"
#include "kvm/vm.h"

#define KICK_SIGNAL SIGUSR1

static void kick_handler(int sig)
{
	(void)sig; /* only there to make KVM_RUN return EINTR */
}

int vcpu_create(struct vm *vm, unsigned id, struct vcpu **out)
{
	struct vcpu *vcpu = calloc(1, sizeof(*vcpu));
	struct sigaction sa = {.sa_handler = kick_handler};
	int mmap_size, r;

	if (!vcpu)
		return -ENOMEM;
	vcpu->vm = vm;
	vcpu->id = id;
	vcpu->fd = kvm_ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (vcpu->fd < 0)
		goto err_free;
	mmap_size = kvm_ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (mmap_size < 0)
		goto err_close;
	vcpu->run_size = mmap_size;
	vcpu->run = mmap(NULL, mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED) {
		pr_err("mmap of kvm_run: %s", strerror(errno));
		goto err_close;
	}
	sigaction(KICK_SIGNAL, &sa, NULL);
	vcpu->thread = pthread_self();
	*out = vcpu;
	return 0;

err_close:
	close(vcpu->fd);
err_free:
	r = -errno;
	free(vcpu);
	return r ? r : -EIO;
}

void vcpu_destroy(struct vcpu *vcpu)
{
	if (!vcpu)
		return;
	munmap(vcpu->run, vcpu->run_size);
	close(vcpu->fd);
	free(vcpu);
}

void vcpu_kick(struct vcpu *vcpu)
{
	vcpu->run->immediate_exit = 1;
	if (!pthread_equal(vcpu->thread, pthread_self()))
		pthread_kill(vcpu->thread, KICK_SIGNAL);
}

/* KVM_EXIT_IO: `count` accesses of `size` bytes each (rep ins/outs), in kvm_run.
 * Returns 0 or an exit status. */
static int exit_io(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size)
		io_dispatch(&vcpu->vm->pio, run->io.port, data, run->io.size,
			    run->io.direction == KVM_EXIT_IO_OUT);
	return 0;
}

static void exit_mmio(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;

	io_dispatch(&vcpu->vm->mmio, run->mmio.phys_addr, run->mmio.data, run->mmio.len,
		    run->mmio.is_write);
}

/* A fatal exit: one line naming it, then the registers. */
static int fatal_exit(struct vcpu *vcpu, int status, const char *what)
{
	pr_err("vcpu%u: %s", vcpu->id, what);
	cpu_dump(vcpu, stderr);
	return status;
}

static int exit_internal_error(struct vcpu *vcpu)
{
	char what[96];

	if (vcpu->run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION &&
	    emulate_after_failure(vcpu))
		return 0;
	snprintf(what, sizeof(what), "KVM internal error, suberror %u%s",
		 vcpu->run->internal.suberror,
		 vcpu->run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION
			 ? " (instruction emulation failed)"
			 : "");
	return fatal_exit(vcpu, EXIT_INTERNAL, what);
}

/* A triple fault: name the event being delivered, where KVM keeps it. */
static int exit_shutdown(struct vcpu *vcpu)
{
	struct kvm_vcpu_events ev;
	struct kvm_regs r;
	struct kvm_sregs s;
	char cause[160], what[200];

	if (ioctl(vcpu->fd, KVM_GET_VCPU_EVENTS, &ev) < 0 ||
	    ioctl(vcpu->fd, KVM_GET_REGS, &r) < 0 || ioctl(vcpu->fd, KVM_GET_SREGS, &s) < 0)
		snprintf(cause, sizeof(cause), "its state is unavailable: %s", strerror(errno));
	else
		cpu_shutdown_cause(&ev, &r, &s, cause, sizeof(cause));
	snprintf(what, sizeof(what), "guest triple fault (KVM_EXIT_SHUTDOWN), %s", cause);
	return fatal_exit(vcpu, EXIT_TRIPLE_FAULT, what);
}

static int exit_system_event(struct vcpu *vcpu)
{
	/* lodger does not reboot: a reset request ends the run like a power-off (docs/cli.md). */
	pr_debug(LOG_EXIT, "system event %u", vcpu->run->system_event.type);
	vm_request_exit(vcpu->vm, EXIT_GUEST_POWEROFF);
	return 0;
}

static int exit_fail_entry(struct vcpu *vcpu)
{
	char what[96];

	snprintf(what, sizeof(what), "KVM could not enter the guest (reason %#llx)",
		 (unsigned long long)vcpu->run->fail_entry.hardware_entry_failure_reason);
	return fatal_exit(vcpu, EXIT_INTERNAL, what);
}

/* Returns 0 to go on, or an exit status. */
static int dispatch_exit(struct vcpu *vcpu)
{
	unsigned reason = vcpu->run->exit_reason;
	const struct mode *mode = vcpu->vm->mode;

	vcpu->exits[reason < VCPU_EXIT_REASONS ? reason : 0]++;
	pr_debug(LOG_EXIT, "vcpu%u: exit %s", vcpu->id, kvm_exit_name(reason));
	if (mode && mode->exit) { /* the mode's own exits first (shadow: the stub's) */
		int r = mode->exit(vcpu);

		if (r != MODE_EXIT_UNCLAIMED)
			return r;
	}
	switch (reason) {
	case KVM_EXIT_IO:
		return exit_io(vcpu);
	case KVM_EXIT_MMIO:
		exit_mmio(vcpu);
		return 0;
	case KVM_EXIT_HLT: /* only without an in-kernel irqchip; nothing to do but go on */
	case KVM_EXIT_INTR:
		return 0;
	case KVM_EXIT_SHUTDOWN:
		return exit_shutdown(vcpu);
	case KVM_EXIT_INTERNAL_ERROR:
		return exit_internal_error(vcpu);
	case KVM_EXIT_SYSTEM_EVENT:
		return exit_system_event(vcpu);
	case KVM_EXIT_FAIL_ENTRY:
		return exit_fail_entry(vcpu);
	default: {
		char what[64];

		snprintf(what, sizeof(what), "unexpected KVM exit %s (%u)", kvm_exit_name(reason),
			 reason);
		return fatal_exit(vcpu, EXIT_INTERNAL, what);
	}
	}
}

int vcpu_loop(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;

	vcpu->thread = pthread_self();
	while (!vm->stop) {
		uint64_t entered, exited;
		int status;

		if (vm->gdb && gdb_stop_requested(vm->gdb) && vm->mode->debug_stop) {
			status = vm->mode->debug_stop(vcpu);
			if (status)
				return status;
			if (vm->stop)
				break;
		}
		entered = phase_now();
		if (kvm_raw_ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				vcpu->run->immediate_exit = 0;
				continue;
			}
			pr_err("vcpu%u: KVM_RUN: %s", vcpu->id, strerror(errno));
			return EXIT_HOST_ERROR;
		}
		exited = phase_now();
		phase_add(&vcpu->phases[PHASE_KVM_RUN], exited - entered);
		status = dispatch_exit(vcpu);
		phase_end(vcpu->phases, PHASE_EXIT, exited);
		if (status)
			return status;
	}
	return vm->exit_status;
}
