/*
 * disk-io - one block I/O pattern against a disk or an image file, for bench/disk.py.
 * Built static, so that the same binary runs inside a guest's busybox initramfs and on
 * the host (the host's own figure for the image file is the limit a guest can approach).
 *
 * Usage: disk-io PATH seqread|seqwrite|randread|randwrite BLOCK_BYTES QUEUE_DEPTH
 *                TOTAL_MIB [SPAN_MIB]
 * Queue depth N is N threads, each with one request in flight (pread/pwrite, O_DIRECT:
 * the page cache of whoever runs it is bypassed). Sequential patterns share one offset;
 * random ones pick block-aligned offsets in the first SPAN_MIB (default: the whole
 * device). Writes write a pattern and end with fdatasync, inside the timed interval.
 * Prints one line:
 *     disk-io: MODE bs=N qd=N bytes=N seconds=S MBps=X iops=Y
 * Exit status 0, or 1 with one line on stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct job {
	int fd;
	bool write, random;
	size_t bs;
	uint64_t span_blocks, total_ops;
	atomic_uint_fast64_t next; /* ops handed out (sequential offset = next * bs) */
	atomic_int failed;
};

static void *worker(void *arg)
{
	struct job *j = arg;
	void *buf;
	uint64_t rng = (uint64_t)(uintptr_t)&buf ^ 0x9e3779b97f4a7c15ULL;

	if (posix_memalign(&buf, 4096, j->bs)) {
		atomic_store(&j->failed, ENOMEM);
		return NULL;
	}
	memset(buf, 0xa5, j->bs);
	for (;;) {
		uint64_t op = atomic_fetch_add(&j->next, 1), block;
		ssize_t n;

		if (op >= j->total_ops || atomic_load(&j->failed))
			break;
		if (j->random) {
			rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17; /* xorshift64 */
			block = rng % j->span_blocks;
		} else {
			block = op % j->span_blocks;
		}
		if (j->write)
			n = pwrite(j->fd, buf, j->bs, (off_t)(block * j->bs));
		else
			n = pread(j->fd, buf, j->bs, (off_t)(block * j->bs));
		if (n != (ssize_t)j->bs) {
			atomic_store(&j->failed, n < 0 ? errno : EIO);
			break;
		}
	}
	free(buf);
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t size_of(int fd)
{
	struct stat st;
	uint64_t bytes = 0;

	if (fstat(fd, &st))
		return 0;
	if (S_ISBLK(st.st_mode))
		return ioctl(fd, BLKGETSIZE64, &bytes) ? 0 : bytes;
	return (uint64_t)st.st_size;
}

int main(int argc, char **argv)
{
	static struct job j;
	enum { MAX_QD = 64 };
	pthread_t threads[MAX_QD];
	uint64_t size, span_mib = 0, total_mib;
	unsigned qd;
	double t0, t1;

	if (argc < 6 || argc > 7) {
		fprintf(stderr,
			"usage: disk-io PATH seqread|seqwrite|randread|randwrite BLOCK_BYTES "
			"QUEUE_DEPTH TOTAL_MIB [SPAN_MIB]\n");
		return 1;
	}
	j.write = strstr(argv[2], "write") != NULL;
	j.random = strncmp(argv[2], "rand", 4) == 0;
	j.bs = strtoul(argv[3], NULL, 0);
	qd = (unsigned)strtoul(argv[4], NULL, 0);
	total_mib = strtoull(argv[5], NULL, 0);
	if (argc == 7)
		span_mib = strtoull(argv[6], NULL, 0);
	if (!j.bs || j.bs % 512 || j.bs > (64u << 20) || !qd || qd > MAX_QD || !total_mib) {
		fprintf(stderr, "disk-io: bad block size, queue depth (1..%d) or total\n", MAX_QD);
		return 1;
	}
	j.fd = open(argv[1], (j.write ? O_RDWR : O_RDONLY) | O_DIRECT | O_CLOEXEC);
	if (j.fd < 0) {
		fprintf(stderr, "disk-io: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	size = size_of(j.fd);
	if (span_mib && span_mib << 20 < size)
		size = span_mib << 20;
	j.span_blocks = size / j.bs;
	j.total_ops = (total_mib << 20) / j.bs;
	if (!j.span_blocks || !j.total_ops) {
		fprintf(stderr, "disk-io: %s: smaller than one block, or total under one block\n",
			argv[1]);
		return 1;
	}
	t0 = now_s();
	for (unsigned i = 0; i < qd; i++)
		if (pthread_create(&threads[i], NULL, worker, &j)) {
			fprintf(stderr, "disk-io: cannot start thread %u\n", i);
			return 1;
		}
	for (unsigned i = 0; i < qd; i++)
		pthread_join(threads[i], NULL);
	if (!atomic_load(&j.failed) && j.write && fdatasync(j.fd))
		atomic_store(&j.failed, errno);
	t1 = now_s();
	if (atomic_load(&j.failed)) {
		fprintf(stderr, "disk-io: %s: %s\n", argv[1], strerror(atomic_load(&j.failed)));
		return 1;
	}
	double secs = t1 - t0, bytes = (double)j.total_ops * (double)j.bs;

	printf("disk-io: %s bs=%zu qd=%u bytes=%.0f seconds=%.3f MBps=%.1f iops=%.0f\n", argv[2],
	       j.bs, qd, bytes, secs, bytes / secs / 1e6, (double)j.total_ops / secs);
	close(j.fd);
	return 0;
}
