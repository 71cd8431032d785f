/*
 * bench.h - what guests/bench.c and its assembly (bench_entry.S) share: plain #defines.
 */
#ifndef GUEST_BENCH_H
#define GUEST_BENCH_H

#define BENCH_MAX_ROUNDS  1000
#define BENCH_SLICE_LOOP  10000 /* user loop iterations (imul; add) in one slice */
#define BENCH_SLICE_FRESH 4	/* fresh pages one slice writes */

#endif
