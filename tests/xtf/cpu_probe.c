/*
 * cpu_probe.c - what the CPU itself raises for the two XTF checks that fail on a nested
 * kvm_amd (docs/xen-pv.md, XTF results), from a native Linux program, so that a failure
 * can be told apart from lodger's: (1) a non-canonical access through %rbp, architecturally
 * #SS(0) (memop-seg); (2) xsa-298's far call through an LDT selector with `rex64 lcall`,
 * whose operand an AMD CPU reads as m16:32: #GP(0x1004) with Linux's empty LDT.
 * Not built by meson:
 *   gcc -O1 -static -o build/cpu_probe tests/xtf/cpu_probe.c && build/cpu_probe
 *   scripts/nested-kvm 'build/cpu_probe'     (the CPU that runs the nested guests)
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>
#include <string.h>

static void handler(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	printf("signal %d trapno %lld err %#llx\n", sig,
	       (long long)uc->uc_mcontext.gregs[REG_TRAPNO],
	       (long long)uc->uc_mcontext.gregs[REG_ERR]);
	fflush(stdout);
	_exit(0);
}

static void run(const char *name, void (*fn)(void))
{
	pid_t p = fork();
	if (!p) {
		struct sigaction sa = {0};
		sa.sa_sigaction = handler;
		sa.sa_flags = SA_SIGINFO;
		sigaction(SIGSEGV, &sa, 0);
		sigaction(SIGBUS, &sa, 0);
		printf("%s: ", name);
		fflush(stdout);
		fn();
		printf("no fault\n");
		_exit(0);
	}
	waitpid(p, 0, 0);
}

static void rbp_noncanon(void)
{
	unsigned long a = 0x8000000040000000UL, v;
	asm volatile("push %%rbp; mov %1, %%rbp; mov (%%rbp), %0; pop %%rbp" : "=r"(v) : "r"(a));
}

static void rax_noncanon(void)
{
	unsigned long a = 0x8000000040000000UL, v;
	asm volatile("mov (%1), %0" : "=r"(v) : "r"(a));
}

static unsigned char far[16] __attribute__((aligned(16)));
static void lcall_ldt(void)
{
	/* m16:32 at far+4 (AMD ignores REX.W): offset 0 at +4, selector 0x1007 at +8 */
	memset(far, 0, sizeof(far));
	far[8] = 0x07, far[9] = 0x10;
	asm volatile("rex64 lcall *%0" ::"m"(far[4]));
}

int main(void)
{
	run("mov (%rbp) non-canonical [expect #SS(0): trapno 12]", rbp_noncanon);
	run("mov (%rax) non-canonical [expect #GP(0): trapno 13]", rax_noncanon);
	run("rex64 lcall m16:32 LDT sel 0x1007 [AMD: #GP(0x1004)]", lcall_ldt);
	return 0;
}
