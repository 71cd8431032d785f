/* kvm.c - opening /dev/kvm and naming its ioctls and exits. */
#include "kvm/kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "front/exitcode.h"
#include "front/log.h"

int (*kvm_ioctl_hook)(int fd, unsigned long req, void *arg);

int kvm_raw_ioctl(int fd, unsigned long req, void *arg)
{
	return kvm_ioctl_hook ? kvm_ioctl_hook(fd, req, arg) : ioctl(fd, req, arg);
}

int kvm_ioctl_named(int fd, unsigned long req, void *arg, const char *name)
{
	int r;

	do
		r = kvm_raw_ioctl(fd, req, arg);
	while (r < 0 && errno == EINTR && req != KVM_RUN);
	if (r < 0) {
		int e = errno;

		pr_err("%s: %s", name, strerror(e));
		errno = e;
	}
	return r;
}

int kvm_open(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	int version;

	if (fd < 0) {
		int e = errno;

		pr_err("cannot open %s: %s%s", path, strerror(e),
		       e == ENOENT   ? " (is the kvm module loaded?)"
		       : e == EACCES ? " (are you in the kvm group?)"
				     : "");
		return -e;
	}
	version = kvm_raw_ioctl(fd, KVM_GET_API_VERSION, NULL);
	if (version < 0) {
		pr_err("%s: not a KVM device (KVM_GET_API_VERSION: %s)", path, strerror(errno));
		close(fd);
		return -ENOTTY;
	}
	if (version != KVM_API_VERSION) {
		pr_err("%s: KVM API version %d, lodger needs %d", path, version, KVM_API_VERSION);
		close(fd);
		return -ENOTSUP;
	}
	return fd;
}

const char *kvm_exit_name(unsigned reason)
{
	static const char *const names[] = {
		[KVM_EXIT_UNKNOWN] = "UNKNOWN",
		[KVM_EXIT_EXCEPTION] = "EXCEPTION",
		[KVM_EXIT_IO] = "IO",
		[KVM_EXIT_HYPERCALL] = "HYPERCALL",
		[KVM_EXIT_DEBUG] = "DEBUG",
		[KVM_EXIT_HLT] = "HLT",
		[KVM_EXIT_MMIO] = "MMIO",
		[KVM_EXIT_IRQ_WINDOW_OPEN] = "IRQ_WINDOW_OPEN",
		[KVM_EXIT_SHUTDOWN] = "SHUTDOWN",
		[KVM_EXIT_FAIL_ENTRY] = "FAIL_ENTRY",
		[KVM_EXIT_INTR] = "INTR",
		[KVM_EXIT_SET_TPR] = "SET_TPR",
		[KVM_EXIT_TPR_ACCESS] = "TPR_ACCESS",
		[KVM_EXIT_NMI] = "NMI",
		[KVM_EXIT_INTERNAL_ERROR] = "INTERNAL_ERROR",
		[KVM_EXIT_SYSTEM_EVENT] = "SYSTEM_EVENT",
	};

	if (reason < sizeof(names) / sizeof(names[0]) && names[reason])
		return names[reason];
	return "unknown exit";
}

int kvm_failure_status(int err)
{
	/* Out of descriptors or memory is this host's state, not a missing KVM. */
	return err == EMFILE || err == ENFILE || err == ENOMEM ? EXIT_HOST_ERROR : EXIT_NO_KVM;
}

bool kvm_backend_is_pvm(void)
{
	return access("/sys/module/kvm_pvm", F_OK) == 0;
}

/* A module parameter that reads Y or 1; false when it cannot be read. */
static bool module_param_on(const char *path)
{
	char value[8] = "";
	FILE *f = fopen(path, "re");

	if (!f)
		return false;
	if (!fgets(value, sizeof(value), f))
		value[0] = 0;
	fclose(f);
	return value[0] == 'Y' || value[0] == '1';
}

bool kvm_backend_has_tdp(void)
{
	if (kvm_backend_is_pvm())
		return false;
	return module_param_on("/sys/module/kvm_intel/parameters/ept") ||
	       module_param_on("/sys/module/kvm_amd/parameters/npt");
}
