/* fuzz_common.c - input reader, guarded memory, invariant failures and the fake KVM. */
#include "fuzz_common.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#define GUARD (1ULL << 30)

uint8_t fin_u8(struct fuzz_input *in)
{
	uint8_t v = 0;

	fin_bytes(in, &v, 1);
	return v;
}

uint16_t fin_u16(struct fuzz_input *in)
{
	uint16_t v = 0;

	fin_bytes(in, &v, 2);
	return v;
}

uint32_t fin_u32(struct fuzz_input *in)
{
	uint32_t v = 0;

	fin_bytes(in, &v, 4);
	return v;
}

uint64_t fin_u64(struct fuzz_input *in)
{
	uint64_t v = 0;

	fin_bytes(in, &v, 8);
	return v;
}

size_t fin_bytes(struct fuzz_input *in, void *dst, size_t n)
{
	size_t take = n < in->left ? n : in->left;

	memcpy(dst, in->p, take);
	memset((uint8_t *)dst + take, 0, n - take);
	in->p += take;
	in->left -= take;
	return take;
}

void *fuzz_map_guarded(size_t size)
{
	uint8_t *base = mmap(NULL, GUARD + size + GUARD, PROT_NONE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (base == MAP_FAILED || mprotect(base + GUARD, size, PROT_READ | PROT_WRITE) < 0) {
		fprintf(stderr, "fuzz: cannot map %zu bytes of guarded memory: %s\n", size,
			strerror(errno));
		exit(1);
	}
	return base + GUARD;
}

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: fuzz invariant broken: %s: ", file, line, cond);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

struct fuzz_kvm fuzz_kvm;

void fuzz_kvm_reset(void)
{
	fuzz_kvm.ioctls = 0;
	fuzz_kvm.nmsrs = 0;
	memset(&fuzz_kvm.events, 0, sizeof(fuzz_kvm.events));
}

int __real_ioctl(int fd, unsigned long req, void *arg);
int __wrap_ioctl(int fd, unsigned long req, ...);

/* KVM_GET_MSRS / KVM_SET_MSRS: records the indices; reads give 0. Returns how many. */
static int fake_msrs(struct kvm_msrs *m, bool write)
{
	for (unsigned i = 0; i < m->nmsrs; i++) {
		if (fuzz_kvm.nmsrs < FUZZ_MAX_MSRS) {
			fuzz_kvm.msr_index[fuzz_kvm.nmsrs] = m->entries[i].index;
			fuzz_kvm.msr_write[fuzz_kvm.nmsrs++] = write;
		}
		if (!write)
			m->entries[i].data = 0;
	}
	return (int)m->nmsrs;
}

/* KVM_GET_SUPPORTED_CPUID / KVM_GET_CPUID2: one leaf, so code that looks finds little. */
static int fake_cpuid(struct kvm_cpuid2 *c)
{
	if (c->nent < 1) {
		errno = E2BIG;
		return -1;
	}
	c->nent = 1;
	c->entries[0] = (struct kvm_cpuid_entry2){.function = 0, .eax = 0xd};
	return 0;
}

int __wrap_ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (fd != FUZZ_KVM_FD && fd != FUZZ_VM_FD && fd != FUZZ_VCPU_FD)
		return __real_ioctl(fd, req, arg);
	fuzz_kvm.ioctls++;
	switch (req) {
	case KVM_GET_REGS:
		memcpy(arg, &fuzz_kvm.regs, sizeof(fuzz_kvm.regs));
		return 0;
	case KVM_SET_REGS:
		memcpy(&fuzz_kvm.regs, arg, sizeof(fuzz_kvm.regs));
		return 0;
	case KVM_GET_SREGS:
		memcpy(arg, &fuzz_kvm.sregs, sizeof(fuzz_kvm.sregs));
		return 0;
	case KVM_SET_SREGS:
		memcpy(&fuzz_kvm.sregs, arg, sizeof(fuzz_kvm.sregs));
		return 0;
	case KVM_GET_VCPU_EVENTS:
		memcpy(arg, &fuzz_kvm.events, sizeof(fuzz_kvm.events));
		return 0;
	case KVM_SET_VCPU_EVENTS:
		memcpy(&fuzz_kvm.events, arg, sizeof(fuzz_kvm.events));
		return 0;
	case KVM_GET_MSRS:
		return fake_msrs(arg, false);
	case KVM_SET_MSRS:
		return fake_msrs(arg, true);
	case KVM_GET_SUPPORTED_CPUID:
	case KVM_GET_CPUID2:
		return fake_cpuid(arg);
	case KVM_CHECK_EXTENSION:
		return 0;
	default:
		/* KVM_RUN, KVM_SET_USER_MEMORY_REGION, KVM_SET_CPUID2, ...: nothing to do */
		return 0;
	}
}
