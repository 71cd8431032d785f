/*
 * test_vm_start.c - the exit status of a VM that cannot be created: 6 only when KVM is
 * absent or unusable, 12 when the host ran out of descriptors or memory (docs/cli.md).
 *
 * /dev/null stands in for /dev/kvm, and a KVM that is a function (kvm_ioctl_hook)
 * answers the API version and the irqchip check, then fails KVM_CREATE_VM with the errno
 * the test picks.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "front/config.h"
#include "front/exitcode.h"
#include "kvm/kvm.h"
#include "kvm/vm.h"

static int create_vm_errno;
static unsigned create_vm_calls;

static int fake_kvm(int fd, unsigned long req, void *arg)
{
	(void)fd;
	(void)arg;
	switch (req) {
	case KVM_GET_API_VERSION:
		return KVM_API_VERSION;
	case KVM_CHECK_EXTENSION:
		return 1;
	case KVM_CREATE_VM:
		create_vm_calls++;
		errno = create_vm_errno;
		return -1;
	default:
		errno = ENOTTY;
		return -1;
	}
}

static struct config cfg;
static struct vm vm;

static void setup(void)
{
	config_init_defaults(&cfg);
	memset(&vm, 0, sizeof(vm));
	vm.cfg = &cfg;
	vm.kvm_fd = vm.vm_fd = -1;
	kvm_ioctl_hook = fake_kvm;
	create_vm_calls = 0;
	setenv("LODGER_KVM_DEVICE", "/dev/null", 1);
}

static void teardown(void)
{
	kvm_ioctl_hook = NULL;
	vm_destroy(&vm);
	config_free(&cfg);
}

TestSuite(vm_start, .init = setup, .fini = teardown);

static void expect_status(int err, int want)
{
	int r;

	create_vm_errno = err;
	r = vm_start(&vm);
	cr_assert_eq(create_vm_calls, 1, "expected one KVM_CREATE_VM, got %u", create_vm_calls);
	cr_assert_eq(r, want, "KVM_CREATE_VM failing with %s: expected status %d, got %d",
		     strerror(err), want, r);
}

Test(vm_start, out_of_descriptors_in_create_vm_is_a_host_error)
{
	expect_status(EMFILE, EXIT_HOST_ERROR);
}

Test(vm_start, system_file_table_full_in_create_vm_is_a_host_error)
{
	expect_status(ENFILE, EXIT_HOST_ERROR);
}

Test(vm_start, out_of_memory_in_create_vm_is_a_host_error)
{
	expect_status(ENOMEM, EXIT_HOST_ERROR);
}

Test(vm_start, a_kvm_that_refuses_the_vm_is_kvm_unavailable)
{
	expect_status(EINVAL, EXIT_NO_KVM);
}

Test(vm_start, a_missing_device_is_kvm_unavailable)
{
	int r;

	setenv("LODGER_KVM_DEVICE", "/nonexistent/kvm", 1);
	r = vm_start(&vm);
	cr_assert_eq(r, EXIT_NO_KVM, "expected status %d, got %d", EXIT_NO_KVM, r);
}

Test(vm_start, no_descriptor_left_to_open_the_device_is_a_host_error)
{
	struct rlimit rl;
	int r;

	/* Every descriptor this process may have is taken: the limit is the lowest free one
	 * (the test framework keeps the ones it has). */
	int lowest = dup(0);

	cr_assert_geq(lowest, 0);
	close(lowest);
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	rl.rlim_cur = (rlim_t)lowest;
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0, "setrlimit: %s", strerror(errno));
	r = vm_start(&vm);
	cr_assert_eq(r, EXIT_HOST_ERROR, "expected status %d with EMFILE, got %d", EXIT_HOST_ERROR,
		     r);
}
