/*
 * phase.h - where lodger's time goes, by phase, for -stats ("phases").
 *
 * A phase is a stretch of work that recurs: KVM_RUN, lodger's handling of one exit, a
 * memslot re-registration, and the steps of the shadow-mode trap path. Each occurrence
 * is timed with CLOCK_MONOTONIC (two vDSO reads, tens of ns, against a trap of tens of
 * µs on kvm_pvm) and added to its phase's count, total, maximum and log2 histogram, so
 * that -stats shows both the mean and the tail (a millisecond stall is one sample in the
 * 2^20 ns bucket, not lost in an average).
 *
 * Use: uint64_t t = phase_now(); ... phase_end(vcpu->phases, PHASE_X, t);
 */
#ifndef LODGER_PHASE_H
#define LODGER_PHASE_H

#include <stdbool.h>
#include <stdint.h>

enum phase {
	PHASE_KVM_RUN, /* one KVM_RUN: guest time, KVM and the stub until the exit */
	PHASE_EXIT,    /* lodger's handling of one exit, until the next KVM_RUN */
	PHASE_MEMSLOT, /* vm_flush_monitor: the monitor memslot removed and added again */
	/* Steps of the shadow-mode trap path (within PHASE_EXIT), timed there: */
	PHASE_COMPLETE, /* the KVM_RUN with immediate_exit that completes the stub's out */
	PHASE_REGS,	/* guest registers and the stub's frame, in and out */
	PHASE_DECODE,	/* decoding the instruction at RIP */
	PHASE_WALK,	/* walks of the guest's page tables */
	PHASE_FILL,	/* writing shadow entries */
	PHASE_FLUSH,	/* dropping shadow entries or roots (invlpg, CR3 writes, evictions) */
	PHASE_DELIVER,	/* delivering an event through the guest's IDT */
	PHASES
};

#define PHASE_BUCKETS 40 /* bucket b: [2^b, 2^(b+1)) ns (b = 0 also holds 0); the last, more */

struct phase_stats {
	uint64_t count;
	uint64_t total_ns;
	uint64_t max_ns;
	uint64_t log2_ns[PHASE_BUCKETS];
};

/* JSON keys, one per phase (docs/cli.md, -stats). */
extern const char *const phase_names[PHASES];

/* CLOCK_MONOTONIC in ns; 0 while timing is off. */
uint64_t phase_now(void);

/*
 * Timing on (the default) or off. lodger turns it off when no -stats file will show it:
 * a clock read is tens of ns with a TSC clocksource but a system call and an HPET read
 * (microseconds) on hosts whose kernel fell back to the HPET, ~8 per exit.
 */
void phase_timing(bool on);

/* Adds one occurrence of ns to s. */
void phase_add(struct phase_stats *s, uint64_t ns);

/* Adds the time since start (phase_now) to table[p]. */
void phase_end(struct phase_stats *table, enum phase p, uint64_t start);

/*
 * An upper bound of the q-th percentile (1 <= q <= 100) of what s holds: the end of the
 * histogram bucket it falls in, or the maximum when that is lower. 0 when s is empty.
 */
uint64_t phase_percentile_ns(const struct phase_stats *s, unsigned q);

#endif
