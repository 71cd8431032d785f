/*
 * floor - the cheapest round trip /dev/kvm allows, on this machine, for each path that
 * lodger's shadow mode takes: the floor every shadow-mode event is measured against
 * (bench/run.py runs this first and prints each event as a multiple of its floor).
 *
 *   (a) trap+exit  a CPL3 fault into a CPL0 handler that exits to userspace (`out`) and
 *                  resumes with nothing else done: a trap that reaches lodger;
 *   (b) trap       a CPL3 fault handled at CPL0 in the VM, no exit (a 3-instruction
 *                  handler ending in iretq): a trap the stub finishes itself;
 *   (c) exit       a bare exit, CPL0 `out` -> KVM_EXIT_IO -> KVM_RUN again;
 *   (d) syscall    a CPL3 `syscall` to LSTAR and back, as the backend delivers it.
 *
 * A VM of its own, set up the way the KVM selftests do it: 2 MiB of memory holding an
 * identity map, a GDT in the Linux layout, a TSS and an IDT, entered in long mode with
 * KVM_SET_SREGS; the guest code is floor_guest.S. Each loop is timed with rdtsc inside
 * the guest; the loop's own cost (interpreted on kvm_pvm at CPL0) is measured alone and
 * subtracted. Each test is first validated: 16 iterations must make exactly the exits
 * it should, and no unexpected exception.
 *
 * Usage: floor [-n ITERATIONS] [-r REPETITIONS] [-j]   (-j: one JSON object, for run.py)
 * Exit status: 0 measured; 1 a path could not be measured (the reason is printed); 2 bad
 * usage; 77 no usable /dev/kvm (one line).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "floor_layout.h"
#include "front/stats.h"
#include "kvm/kvm.h"

#define VALIDATION_ITERATIONS 16
#define MAX_REPETITIONS	      101

/* floor_guest.S, in this program's read-only data; copied into the VM at FLOOR_CODE */
extern const char floor_guest_start[], floor_guest_end[];
extern const char floor_loop0[], floor_exit0[], floor_enter_user[];
extern const char floor_loop3[], floor_trap3[], floor_syscall3[];
extern const char floor_gp_skip[], floor_gp_exit[], floor_ud_done[];
extern const char floor_syscall_entry[], floor_unexpected[];

struct floor {
	int kvm_fd, vm_fd, vcpu_fd;
	uint8_t *mem;	       /* FLOOR_MEM_SIZE bytes of guest-physical memory at 0 */
	struct kvm_run *run;   /* the vCPU's shared page(s) */
	size_t run_size;       /* their mmap size */
	struct kvm_sregs boot; /* long mode at CPL0, loaded before every test */
	uint32_t tsc_khz;      /* 0 if KVM does not say */
};

/* One round trip, or the loop overhead that is subtracted from others. */
struct path {
	const char *key;  /* stable name: bench/run.py reads it from the JSON */
	const char *what; /* the table's words */
	const char *cpl0; /* CPL0 test entry, or NULL */
	const char *cpl3; /* CPL3 test, entered through floor_enter_user */
	const char *gp;	  /* gate 13's handler */
	unsigned exits;	  /* FLOOR_PORT_BENCH exits per iteration */
	int loop;	  /* the row whose cost is subtracted, or -1 */
	bool required;	  /* a failure here is the program's failure */
};

enum { LOOP0, LOOP3 };

static const struct path paths[] = {
	[LOOP0] = {"loop0", "CPL0 loop alone (dec; jnz), subtracted from (c)", floor_loop0, NULL,
		   floor_gp_skip, 0, -1, true},
	[LOOP3] = {"loop3", "CPL3 loop alone (dec; jnz), subtracted from the CPL3 rows", NULL,
		   floor_loop3, floor_gp_skip, 0, -1, true},
	{"trap_exit", "(a) CPL3 #GP -> CPL0 handler, out -> KVM_EXIT_IO -> iretq", NULL,
	 floor_trap3, floor_gp_exit, 1, LOOP3, true},
	{"trap", "(b) CPL3 #GP -> CPL0 handler (3 instructions) -> iretq", NULL, floor_trap3,
	 floor_gp_skip, 0, LOOP3, true},
	{"exit", "(c) CPL0 out -> KVM_EXIT_IO -> KVM_RUN", floor_exit0, NULL, floor_gp_skip, 1,
	 LOOP0, true},
	{"syscall", "(d) CPL3 syscall -> LSTAR -> iretq", NULL, floor_syscall3, floor_gp_skip, 0,
	 LOOP3, false},
};
#define NPATHS (sizeof(paths) / sizeof(paths[0]))

struct result {
	bool ok;
	char why[160]; /* when !ok */
	double cycles; /* median over repetitions, per iteration, loop not subtracted */
	double cycles_min;
	double wall_ns; /* host CLOCK_MONOTONIC per iteration, median */
};

/* ---- the VM -------------------------------------------------------------------------- */

static uint64_t guest_addr(const char *sym)
{
	return FLOOR_CODE + (uint64_t)(sym - floor_guest_start);
}

static void put64(struct floor *f, uint64_t gpa, uint64_t v)
{
	memcpy(f->mem + gpa, &v, sizeof(v));
}

static void set_gate(struct floor *f, unsigned vector, uint64_t handler)
{
	uint64_t lo = (handler & 0xffff) | (uint64_t)FLOOR_KERNEL_CS << 16 |
		      (uint64_t)0x8e << 40 /* present 64-bit interrupt gate, DPL 0 */ |
		      ((handler >> 16) & 0xffff) << 48;

	put64(f, FLOOR_IDT + 16 * vector, lo);
	put64(f, FLOOR_IDT + 16 * vector + 8, handler >> 32);
}

static struct kvm_segment segment(uint16_t sel, bool code)
{
	return (struct kvm_segment){
		.selector = sel,
		.limit = 0xffffffff,   /* 4 GiB, byte-counted, as KVM wants it with G = 1 */
		.type = code ? 11 : 3, /* execute/read or read/write, accessed */
		.present = 1,
		.dpl = sel & 3,
		.db = !code,
		.s = 1,
		.l = code,
		.g = 1,
	};
}

/* Identity map, GDT, TSS, IDT and code in guest memory; nothing is read back from it. */
static void floor_build_memory(struct floor *f)
{
	size_t code = (size_t)(floor_guest_end - floor_guest_start);

	put64(f, FLOOR_PML4, FLOOR_PDPT | 7);
	put64(f, FLOOR_PDPT, FLOOR_PD | 7);
	put64(f, FLOOR_PD, FLOOR_PT | 7);
	for (uint64_t i = 1; i < 512; i++) /* page 0 stays unmapped */
		put64(f, FLOOR_PT + 8 * i, i << 12 | 7);

	put64(f, FLOOR_GDT + FLOOR_KERNEL_CS, 0x00af9b000000ffffULL);
	put64(f, FLOOR_GDT + FLOOR_KERNEL_DS, 0x00cf93000000ffffULL);
	put64(f, FLOOR_GDT + (FLOOR_USER32_CS & ~3), 0x00cffb000000ffffULL);
	put64(f, FLOOR_GDT + (FLOOR_USER_DS & ~3), 0x00cff3000000ffffULL);
	put64(f, FLOOR_GDT + (FLOOR_USER_CS & ~3), 0x00affb000000ffffULL);
	/* 64-bit TSS, busy (TR is loaded with it), limit 103 */
	put64(f, FLOOR_GDT + FLOOR_TSS_SEL,
	      103 | (uint64_t)(FLOOR_TSS & 0xffffff) << 16 | (uint64_t)0x8b << 40);
	put64(f, FLOOR_GDT + FLOOR_TSS_SEL + 8, 0);

	put64(f, FLOOR_TSS + 4, FLOOR_KSTACK_TOP); /* RSP0 */
	f->mem[FLOOR_TSS + 102] = 104;		   /* I/O map base: none */

	memcpy(f->mem + FLOOR_CODE, floor_guest_start, code);
	for (unsigned v = 0; v < FLOOR_VECTORS; v++)
		set_gate(f, v,
			 guest_addr(floor_unexpected) + (uint64_t)v * FLOOR_UNEXPECTED_STRIDE);
	set_gate(f, 6, guest_addr(floor_ud_done));
}

static int floor_fail(const char *what)
{
	fprintf(stderr, "floor: %s: %s\n", what, strerror(errno));
	return -1;
}

static int floor_set_cpuid(struct floor *f)
{
	for (unsigned n = 64; n <= 4096; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
		int r;

		if (!c)
			return floor_fail("calloc");
		c->nent = n;
		r = ioctl(f->kvm_fd, KVM_GET_SUPPORTED_CPUID, c);
		if (r == 0)
			r = ioctl(f->vcpu_fd, KVM_SET_CPUID2, c);
		free(c);
		if (r == 0)
			return 0;
		if (errno != E2BIG)
			return floor_fail("KVM_GET_SUPPORTED_CPUID/KVM_SET_CPUID2");
	}
	return floor_fail("KVM_GET_SUPPORTED_CPUID");
}

static int floor_set_msrs(struct floor *f)
{
	struct {
		struct kvm_msrs head;
		struct kvm_msr_entry e[3];
	} m = {
		.head.nmsrs = 3,
		.e =
			{
				{.index = 0xc0000081, /* STAR */
				 .data = (uint64_t)FLOOR_USER32_CS << 48 | (uint64_t)FLOOR_KERNEL_CS
										   << 32},
				{.index = 0xc0000082,
				 .data = guest_addr(floor_syscall_entry)}, /* LSTAR */
				{.index = 0xc0000084,
				 .data = 0x47700}, /* FMASK: TF DF IF IOPL NT AC */
			},
	};

	if (ioctl(f->vcpu_fd, KVM_SET_MSRS, &m) != 3)
		return floor_fail("KVM_SET_MSRS");
	return 0;
}

static int floor_set_sregs(struct floor *f)
{
	struct kvm_sregs *s = &f->boot;

	if (ioctl(f->vcpu_fd, KVM_GET_SREGS, s) < 0)
		return floor_fail("KVM_GET_SREGS");
	s->cs = segment(FLOOR_KERNEL_CS, true);
	s->ds = s->es = s->fs = s->gs = s->ss = segment(FLOOR_KERNEL_DS, false);
	s->tr = (struct kvm_segment){.base = FLOOR_TSS,
				     .limit = 103,
				     .selector = FLOOR_TSS_SEL,
				     .type = 11, /* busy 64-bit TSS */
				     .present = 1};
	s->ldt = (struct kvm_segment){.unusable = 1};
	s->gdt.base = FLOOR_GDT;
	s->gdt.limit = FLOOR_TSS_SEL + 15;
	s->idt.base = FLOOR_IDT;
	s->idt.limit = FLOOR_VECTORS * 16 - 1;
	s->cr0 = 0x80010033; /* PG WP NE ET MP PE */
	s->cr3 = FLOOR_PML4;
	s->cr4 = 0x620;	 /* OSXMMEXCPT OSFXSR PAE */
	s->efer = 0x501; /* LMA LME SCE */
	if (ioctl(f->vcpu_fd, KVM_SET_SREGS, s) < 0)
		return floor_fail("KVM_SET_SREGS");
	return 0;
}

/* 0, -1 after a message, or 77 when there is no /dev/kvm to measure. */
static int floor_open(struct floor *f)
{
	size_t code = (size_t)(floor_guest_end - floor_guest_start);
	struct kvm_userspace_memory_region slot = {
		.slot = 0, .guest_phys_addr = 0, .memory_size = FLOOR_MEM_SIZE};
	int size, khz;

	if (code > FLOOR_CODE_MAX) {
		fprintf(stderr, "floor: guest code is %zu bytes, more than its %d\n", code,
			FLOOR_CODE_MAX);
		return -1;
	}
	f->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (f->kvm_fd < 0) {
		printf("floor: /dev/kvm: %s: no floor to measure here\n", strerror(errno));
		return 77;
	}
	if (ioctl(f->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		fprintf(stderr, "floor: /dev/kvm: not KVM API version %d\n", KVM_API_VERSION);
		return -1;
	}
	f->vm_fd = ioctl(f->kvm_fd, KVM_CREATE_VM, 0);
	if (f->vm_fd < 0)
		return floor_fail("KVM_CREATE_VM");
	f->mem = mmap(NULL, FLOOR_MEM_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (f->mem == MAP_FAILED)
		return floor_fail("mmap guest memory");
	slot.userspace_addr = (uint64_t)(uintptr_t)f->mem;
	floor_build_memory(f);
	if (ioctl(f->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0)
		return floor_fail("KVM_SET_USER_MEMORY_REGION");
	f->vcpu_fd = ioctl(f->vm_fd, KVM_CREATE_VCPU, 0);
	if (f->vcpu_fd < 0)
		return floor_fail("KVM_CREATE_VCPU");
	size = ioctl(f->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (size < (int)sizeof(struct kvm_run))
		return floor_fail("KVM_GET_VCPU_MMAP_SIZE");
	f->run_size = (size_t)size;
	f->run = mmap(NULL, f->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, f->vcpu_fd, 0);
	if (f->run == MAP_FAILED)
		return floor_fail("mmap kvm_run");
	if (floor_set_cpuid(f) < 0 || floor_set_msrs(f) < 0 || floor_set_sregs(f) < 0)
		return -1;
	khz = ioctl(f->vcpu_fd, KVM_GET_TSC_KHZ, 0);
	f->tsc_khz = khz > 0 ? (uint32_t)khz : 0;
	return 0;
}

/* ---- one test ------------------------------------------------------------------------- */

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/*
 * KVM completes an `out` when the vCPU next enters; this entry does only that (it returns
 * at once with EINTR), so the registers set for the next test are not overwritten.
 */
static void floor_complete_io(struct floor *f)
{
	f->run->immediate_exit = 1;
	(void)ioctl(f->vcpu_fd, KVM_RUN, 0);
	f->run->immediate_exit = 0;
}

/* What an unexpected exception left: its vector (AL) and the faulting RIP on the stack. */
static void floor_describe_fault(struct floor *f, const struct kvm_regs *r, char *why, size_t size)
{
	unsigned vector = r->rax & 0xff;
	bool has_error = vector == 8 || (vector >= 10 && vector <= 14) || vector == 17;
	uint64_t at = r->rsp + (has_error ? 8 : 0), rip = 0;

	if (at < FLOOR_MEM_SIZE - 8)
		memcpy(&rip, f->mem + at, sizeof(rip));
	snprintf(why, size, "exception %u at RIP %#llx", vector, (unsigned long long)rip);
}

/* Runs p once for n iterations: *cycles = its loop's TSC cycles, *exits = bench exits. */
static int floor_run(struct floor *f, const struct path *p, uint64_t n, uint64_t *cycles,
		     uint64_t *exits, uint64_t *ns, char *why, size_t size)
{
	struct kvm_regs r = {
		.rflags = 2,
		.rsp = FLOOR_KSTACK_TOP,
		.r12 = n,
		.rip = guest_addr(p->cpl0 ? p->cpl0 : floor_enter_user),
		.rdi = p->cpl3 ? guest_addr(p->cpl3) : 0,
	};
	uint64_t t0;
	uint16_t port;

	set_gate(f, 13, guest_addr(p->gp));
	if (ioctl(f->vcpu_fd, KVM_SET_SREGS, &f->boot) < 0 ||
	    ioctl(f->vcpu_fd, KVM_SET_REGS, &r) < 0) {
		snprintf(why, size, "KVM_SET_SREGS/KVM_SET_REGS: %s", strerror(errno));
		return -1;
	}
	*exits = 0;
	t0 = now_ns();
	for (;;) {
		if (ioctl(f->vcpu_fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			snprintf(why, size, "KVM_RUN: %s", strerror(errno));
			return -1;
		}
		if (f->run->exit_reason != KVM_EXIT_IO || f->run->io.direction != KVM_EXIT_IO_OUT) {
			snprintf(why, size, "unexpected exit %s (%u)",
				 kvm_exit_name(f->run->exit_reason), f->run->exit_reason);
			return -1;
		}
		port = f->run->io.port; /* the completing entry below rewrites kvm_run */
		if (port == FLOOR_PORT_BENCH) {
			++*exits;
			continue;
		}
		*ns = now_ns() - t0;
		floor_complete_io(f);
		if (ioctl(f->vcpu_fd, KVM_GET_REGS, &r) < 0) {
			snprintf(why, size, "KVM_GET_REGS: %s", strerror(errno));
			return -1;
		}
		if (port == FLOOR_PORT_DONE) {
			*cycles = r.rbx;
			return 0;
		}
		if (port == FLOOR_PORT_ERR)
			floor_describe_fault(f, &r, why, size);
		else
			snprintf(why, size, "out to unexpected port %#x", port);
		return -1;
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void floor_measure(struct floor *f, const struct path *p, uint64_t n, unsigned reps,
			  struct result *res)
{
	double cyc[MAX_REPETITIONS], wall[MAX_REPETITIONS];
	uint64_t cycles, exits, ns;

	*res = (struct result){0};
	if (floor_run(f, p, VALIDATION_ITERATIONS, &cycles, &exits, &ns, res->why,
		      sizeof(res->why)) < 0)
		return;
	if (exits != (uint64_t)VALIDATION_ITERATIONS * p->exits) {
		snprintf(res->why, sizeof(res->why),
			 "%llu exits in %d iterations, expected %u each", (unsigned long long)exits,
			 VALIDATION_ITERATIONS, p->exits);
		return;
	}
	for (unsigned i = 0; i < reps; i++) {
		if (floor_run(f, p, n, &cycles, &exits, &ns, res->why, sizeof(res->why)) < 0)
			return;
		cyc[i] = (double)cycles / (double)n;
		wall[i] = (double)ns / (double)n;
	}
	qsort(cyc, reps, sizeof(cyc[0]), cmp_double);
	qsort(wall, reps, sizeof(wall[0]), cmp_double);
	res->cycles = reps % 2 ? cyc[reps / 2] : (cyc[reps / 2 - 1] + cyc[reps / 2]) / 2;
	res->cycles_min = cyc[0];
	res->wall_ns = reps % 2 ? wall[reps / 2] : (wall[reps / 2 - 1] + wall[reps / 2]) / 2;
	res->ok = true;
}

/* ---- the report ----------------------------------------------------------------------- */

static const char *backend_name(void)
{
	static const char *const modules[] = {"kvm_pvm", "kvm_intel", "kvm_amd"};
	char path[64];

	for (size_t i = 0; i < sizeof(modules) / sizeof(modules[0]); i++) {
		snprintf(path, sizeof(path), "/sys/module/%s", modules[i]);
		if (access(path, F_OK) == 0)
			return modules[i];
	}
	return "unknown";
}

/* The row's cost with its loop's cost taken off (never below 0). */
static double net_cycles(const struct result *res, unsigned i)
{
	int l = paths[i].loop;
	double c = res[i].cycles - (l >= 0 && res[l].ok ? res[l].cycles : 0);

	return c > 0 ? c : 0;
}

static void print_table(const struct floor *f, const struct result *res, uint64_t n, unsigned reps)
{
	double mhz = f->tsc_khz / 1000.0;

	printf("floor: backend %s, TSC %.0f MHz, %llu iterations, median of %u runs\n",
	       backend_name(), mhz, (unsigned long long)n, reps);
	printf("| %-58s | %9s | %9s | %8s | %8s |\n", "round trip", "cycles", "min", "us",
	       "wall us");
	printf("|%s|-----------|-----------|----------|----------|\n",
	       "------------------------------------------------------------");
	for (unsigned i = 0; i < NPATHS; i++) {
		if (!res[i].ok) {
			printf("| %-58s | n/a: %s\n", paths[i].what, res[i].why);
			continue;
		}
		printf("| %-58s | %9.0f | %9.0f | %8.2f | %8.2f |\n", paths[i].what,
		       net_cycles(res, i), res[i].cycles_min, mhz ? net_cycles(res, i) / mhz : 0,
		       res[i].wall_ns / 1000);
	}
	printf("cycles: the loop's own cost subtracted (min: not subtracted); wall: host clock "
	       "per iteration\n");
}

static void print_json(const struct floor *f, const struct result *res, uint64_t n, unsigned reps)
{
	struct json j;

	json_begin(&j, stdout);
	json_str(&j, "backend", backend_name());
	json_u64(&j, "tsc_khz", f->tsc_khz);
	json_u64(&j, "iterations", n);
	json_u64(&j, "repetitions", reps);
	json_open(&j, "paths");
	for (unsigned i = 0; i < NPATHS; i++) {
		json_open(&j, paths[i].key);
		json_str(&j, "what", paths[i].what);
		if (res[i].ok) {
			json_u64(&j, "cycles", (uint64_t)(net_cycles(res, i) + 0.5));
			json_u64(&j, "cycles_min", (uint64_t)(res[i].cycles_min + 0.5));
			json_u64(&j, "wall_ns", (uint64_t)(res[i].wall_ns + 0.5));
			json_u64(&j, "exits_per_iteration", paths[i].exits);
		} else {
			json_str(&j, "unavailable", res[i].why);
		}
		json_close(&j);
	}
	json_close(&j);
	json_close(&j);
}

static int usage(void)
{
	fprintf(stderr, "usage: floor [-n ITERATIONS] [-r REPETITIONS (1-%d)] [-j]\n",
		MAX_REPETITIONS);
	return 2;
}

int main(int argc, char **argv)
{
	struct floor f = {.kvm_fd = -1, .vm_fd = -1, .vcpu_fd = -1};
	struct result res[NPATHS];
	unsigned long long n = 10000;
	unsigned long reps = 5;
	bool json = false;
	int c, r, status = 0;
	char *end;

	while ((c = getopt(argc, argv, "n:r:j")) != -1) {
		switch (c) {
		case 'n':
			errno = 0;
			n = strtoull(optarg, &end, 0);
			if (errno || *end || n == 0 || n > 100000000)
				return usage();
			break;
		case 'r':
			errno = 0;
			reps = strtoul(optarg, &end, 0);
			if (errno || *end || reps == 0 || reps > MAX_REPETITIONS)
				return usage();
			break;
		case 'j':
			json = true;
			break;
		default:
			return usage();
		}
	}
	if (optind != argc)
		return usage();

	r = floor_open(&f);
	if (r == 77)
		return 77;
	if (r < 0)
		return 1;
	for (unsigned i = 0; i < NPATHS; i++) {
		floor_measure(&f, &paths[i], n, (unsigned)reps, &res[i]);
		if (!res[i].ok && paths[i].required) {
			fprintf(stderr, "floor: %s: %s\n", paths[i].what, res[i].why);
			status = 1;
		}
	}
	if (json)
		print_json(&f, res, n, (unsigned)reps);
	else
		print_table(&f, res, n, (unsigned)reps);
	return status;
}
