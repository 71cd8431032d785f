/*
 * fuzz_common.h - what the libFuzzer harnesses share: a reader over the fuzzer's bytes,
 * guest memory fenced by unmapped guard regions, invariant checks, and a fake KVM.
 *
 * The fake KVM lets the emulators run without /dev/kvm: the harnesses are linked with
 * -Wl,--wrap=ioctl, so every ioctl lodger's library makes reaches __wrap_ioctl, which
 * answers those on FUZZ_*_FD from struct fuzz_kvm and passes the rest to the real ioctl.
 */
#ifndef LODGER_FUZZ_COMMON_H
#define LODGER_FUZZ_COMMON_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The fuzzer's input, read front to back; reads past its end give zeros. */
struct fuzz_input {
	const uint8_t *p;
	size_t left;
};

uint8_t fin_u8(struct fuzz_input *in);
uint16_t fin_u16(struct fuzz_input *in);
uint32_t fin_u32(struct fuzz_input *in);
uint64_t fin_u64(struct fuzz_input *in);
/* Copies up to n bytes (zeros past the end); returns how many came from the input. */
size_t fin_bytes(struct fuzz_input *in, void *dst, size_t n);

/*
 * `size` bytes of zeroed read-write memory between two 1 GiB PROT_NONE regions: a host
 * access up to 1 GiB outside it is a SIGSEGV, which libFuzzer reports as a crash.
 * Exits the process if the mapping fails (a harness cannot run without it).
 */
void *fuzz_map_guarded(size_t size);

/* A broken invariant: prints what and where, then aborts (libFuzzer records a crash). */
#define FUZZ_CHECK(cond, ...)                                                                      \
	do {                                                                                       \
		if (!(cond))                                                                       \
			fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                         \
	} while (0)
__attribute__((noreturn, format(printf, 4, 5))) void
fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...);

/* Descriptors the fake KVM answers for (none of them is open in the process). */
#define FUZZ_KVM_FD  0x7ff0
#define FUZZ_VM_FD   0x7ff1
#define FUZZ_VCPU_FD 0x7ff2

#define FUZZ_MAX_MSRS 64

/* The fake vCPU's state, which KVM_GET_* return and KVM_SET_* replace. */
struct fuzz_kvm {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_vcpu_events events;
	unsigned ioctls; /* how many reached the fake */
	/* Every MSR index a KVM_GET_MSRS/KVM_SET_MSRS on the vCPU carried, in order. */
	uint32_t msr_index[FUZZ_MAX_MSRS];
	bool msr_write[FUZZ_MAX_MSRS];
	unsigned nmsrs;
};
extern struct fuzz_kvm fuzz_kvm;

/* Forgets every recorded ioctl (the registers are the caller's to set). */
void fuzz_kvm_reset(void);

#endif
