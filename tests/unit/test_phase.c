/*
 * test_phase.c - per-phase timing (src/front/phase.c): what one occurrence adds, and the
 * percentile bounds -stats prints from the log2 histogram.
 */
#include <criterion/criterion.h>

#include "front/phase.h"

Test(phase, an_occurrence_adds_to_count_total_maximum_and_its_bucket)
{
	struct phase_stats s = {0};

	phase_add(&s, 3000); /* 2^11 <= 3000 < 2^12 */
	phase_add(&s, 1);
	cr_assert_eq(s.count, 2, "count: expected 2, seen %llu", (unsigned long long)s.count);
	cr_assert_eq(s.total_ns, 3001, "total: expected 3001, seen %llu",
		     (unsigned long long)s.total_ns);
	cr_assert_eq(s.max_ns, 3000, "max: expected 3000, seen %llu", (unsigned long long)s.max_ns);
	cr_assert_eq(s.log2_ns[11], 1, "3000 ns belongs in bucket 11");
	cr_assert_eq(s.log2_ns[0], 1, "1 ns belongs in bucket 0");
}

Test(phase, zero_and_huge_durations_land_in_the_end_buckets)
{
	struct phase_stats s = {0};

	phase_add(&s, 0);
	phase_add(&s, UINT64_MAX);
	cr_assert_eq(s.log2_ns[0], 1, "0 ns belongs in bucket 0");
	cr_assert_eq(s.log2_ns[PHASE_BUCKETS - 1], 1, "the longest belong in the last bucket");
}

Test(phase, the_p99_of_a_tail_of_stalls_is_the_stall)
{
	struct phase_stats s = {0};

	for (int i = 0; i < 97; i++)
		phase_add(&s, 30000); /* bucket 14: [16384, 32768) */
	for (int i = 0; i < 3; i++)
		phase_add(&s, 8000000); /* 8 ms: bucket 22 */
	cr_assert_eq(phase_percentile_ns(&s, 50), 32767,
		     "p50: expected the end of bucket 14, "
		     "seen %llu",
		     (unsigned long long)phase_percentile_ns(&s, 50));
	cr_assert_eq(phase_percentile_ns(&s, 99), 8000000,
		     "p99: expected the stall (8 ms), "
		     "seen %llu",
		     (unsigned long long)phase_percentile_ns(&s, 99));
}

Test(phase, the_p99_ignores_one_stall_in_two_hundred)
{
	struct phase_stats s = {0};

	for (int i = 0; i < 199; i++)
		phase_add(&s, 30000);
	phase_add(&s, 8000000);
	cr_assert_eq(phase_percentile_ns(&s, 99), 32767,
		     "p99: expected the end of bucket 14, "
		     "seen %llu",
		     (unsigned long long)phase_percentile_ns(&s, 99));
	cr_assert_eq(phase_percentile_ns(&s, 100), 8000000, "p100 is the maximum");
}

Test(phase, an_empty_phase_has_no_percentiles)
{
	struct phase_stats s = {0};

	cr_assert_eq(phase_percentile_ns(&s, 99), 0, "expected 0 for no samples");
}

Test(phase, phase_end_times_from_start_and_a_later_start_counts_zero)
{
	struct phase_stats table[PHASES] = {0};
	uint64_t start = phase_now();

	phase_end(table, PHASE_WALK, start);
	cr_assert_eq(table[PHASE_WALK].count, 1, "one occurrence of walk");
	cr_assert_lt(table[PHASE_WALK].total_ns, 1000000000ULL,
		     "a fresh start is not a second ago");
	phase_end(table, PHASE_FILL, phase_now() + 1000000000ULL);
	cr_assert_eq(table[PHASE_FILL].total_ns, 0, "a start in the future counts 0, seen %llu",
		     (unsigned long long)table[PHASE_FILL].total_ns);
}

Test(phase, every_phase_has_a_distinct_name)
{
	for (unsigned a = 0; a < PHASES; a++) {
		cr_assert(phase_names[a] && phase_names[a][0], "phase %u has no name", a);
		for (unsigned b = a + 1; b < PHASES; b++)
			cr_assert_str_neq(phase_names[a], phase_names[b], "phases %u and %u", a, b);
	}
}
