/* phase.c - per-phase timing (phase.h): count, total, maximum and a log2 histogram. */
#include "front/phase.h"

#include <time.h>

const char *const phase_names[PHASES] = {
	[PHASE_KVM_RUN] = "kvm_run",   [PHASE_EXIT] = "exit", [PHASE_MEMSLOT] = "memslot",
	[PHASE_COMPLETE] = "complete", [PHASE_REGS] = "regs", [PHASE_DECODE] = "decode",
	[PHASE_WALK] = "walk",	       [PHASE_FILL] = "fill", [PHASE_FLUSH] = "flush",
	[PHASE_DELIVER] = "deliver",
};

static bool timing = true;

void phase_timing(bool on)
{
	timing = on;
}

uint64_t phase_now(void)
{
	struct timespec t;

	if (!timing)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static unsigned bucket_of(uint64_t ns)
{
	unsigned b = ns ? 63u - (unsigned)__builtin_clzll(ns) : 0;

	return b < PHASE_BUCKETS ? b : PHASE_BUCKETS - 1;
}

void phase_add(struct phase_stats *s, uint64_t ns)
{
	s->count++;
	s->total_ns += ns;
	if (ns > s->max_ns)
		s->max_ns = ns;
	s->log2_ns[bucket_of(ns)]++;
}

void phase_end(struct phase_stats *table, enum phase p, uint64_t start)
{
	uint64_t now;

	if (!timing)
		return;
	now = phase_now();

	/* CLOCK_MONOTONIC does not go back; a start from another clock would: count 0 */
	phase_add(&table[p], now > start ? now - start : 0);
}

uint64_t phase_percentile_ns(const struct phase_stats *s, unsigned q)
{
	/* the rank of the q-th percentile, rounded up: the 99th of 10 samples is the 10th */
	uint64_t rank = (s->count * q + 99) / 100, seen = 0;

	if (!s->count)
		return 0;
	for (unsigned b = 0; b + 1 < PHASE_BUCKETS; b++) {
		uint64_t end = (2ULL << b) - 1;

		seen += s->log2_ns[b];
		if (seen >= rank)
			return end < s->max_ns ? end : s->max_ns;
	}
	return s->max_ns;
}
