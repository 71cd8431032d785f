/*
 * test_blk_engine.c - the block engine (src/block/engine.c) on real temporary files,
 * through io_uring and through the synchronous fallback: every test runs both.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "block/engine.h"

#define IMG_SIZE (64 * 1024)

static char path[256];

static void make_image(size_t size, uint8_t fill)
{
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	uint8_t *buf = malloc(size ? size : 1);
	int fd;

	snprintf(path, sizeof(path), "%s/lodger-blk-XXXXXX", dir);
	fd = mkstemp(path);
	cr_assert(fd >= 0, "mkstemp: %s", strerror(errno));
	memset(buf, fill, size);
	cr_assert_eq(write(fd, buf, size), (ssize_t)size);
	close(fd);
	free(buf);
}

static void remove_image(void)
{
	if (path[0])
		unlink(path);
}

static struct blk_engine *open_image(enum blk_aio aio, bool readonly, enum blk_cache cache)
{
	struct blk_options opt = {.path = path, .readonly = readonly, .cache = cache, .aio = aio};
	struct blk_engine *e = NULL;
	char err[256] = "";
	int r = blk_open(&e, &opt, err, sizeof(err));

	cr_assert_eq(r, 0, "blk_open(%s): %s", path, err);
	if (aio == BLK_AIO_THREADS)
		cr_assert_not(blk_uses_io_uring(e), "aio=threads must not use io_uring");
	return e;
}

struct done {
	int results[16];
	struct blk_req *reqs[16];
	unsigned n;
};

static void on_done(void *ctx, struct blk_req *req, int result)
{
	struct done *d = ctx;

	cr_assert_lt(d->n, 16u);
	d->reqs[d->n] = req;
	d->results[d->n++] = result;
}

/* Waits on the eventfd as the I/O thread does, until `want` requests have finished. */
static void wait_done(struct blk_engine *e, struct done *d, unsigned want)
{
	struct pollfd p = {.fd = blk_event_fd(e), .events = POLLIN};

	while (d->n < want) {
		int r = poll(&p, 1, 5000);

		cr_assert_eq(r, 1, "no completion signalled on the eventfd within 5 s");
		blk_complete(e, on_done, d);
	}
	cr_assert_eq(blk_inflight(e), 0u);
}

/* One request, submitted, kicked and waited for; returns its result. */
static int run_one(struct blk_engine *e, struct blk_req *req)
{
	struct done d = {0};
	int r = blk_submit(e, req);

	if (r)
		return r;
	blk_kick(e);
	wait_done(e, &d, 1);
	cr_assert_eq(d.reqs[0], req);
	return d.results[0];
}

static int rw(struct blk_engine *e, enum blk_op op, uint64_t off, void *buf, size_t len)
{
	struct iovec iov = {buf, len};
	struct blk_req req = {.op = op, .offset = off, .iov = &iov, .iovcnt = 1};

	return run_one(e, &req);
}

static const enum blk_aio modes[] = {BLK_AIO_IO_URING, BLK_AIO_THREADS};

TestSuite(blk_engine, .fini = remove_image);

Test(blk_engine, vectored_write_then_read_back_and_on_the_file)
{
	for (unsigned m = 0; m < 2; m++) {
		make_image(IMG_SIZE, 0);
		struct blk_engine *e = open_image(modes[m], false, BLK_CACHE_WRITEBACK);
		uint8_t a[512], b[1024], back[1536], file[1536];
		struct iovec iov[2] = {{a, sizeof(a)}, {b, sizeof(b)}};
		struct blk_req w = {.op = BLK_OP_WRITE, .offset = 4096, .iov = iov, .iovcnt = 2};
		struct blk_req f = {.op = BLK_OP_FLUSH};

		memset(a, 0xa5, sizeof(a));
		for (unsigned i = 0; i < sizeof(b); i++)
			b[i] = (uint8_t)i;
		cr_assert_eq(run_one(e, &w), 0, "mode %s", blk_aio_name(modes[m]));
		cr_assert_eq(w.len, 1536u);
		cr_assert_eq(run_one(e, &f), 0);
		cr_assert_eq(rw(e, BLK_OP_READ, 4096, back, sizeof(back)), 0);
		cr_assert_arr_eq(back, a, sizeof(a));
		cr_assert_arr_eq(back + 512, b, sizeof(b));
		blk_close(e);

		int fd = open(path, O_RDONLY);
		cr_assert_eq(pread(fd, file, sizeof(file), 4096), (ssize_t)sizeof(file));
		close(fd);
		cr_assert_arr_eq(file, back, sizeof(file), "the write is not in the file");
		remove_image();
	}
}

Test(blk_engine, a_batch_of_writes_and_a_flush_in_one_kick)
{
	for (unsigned m = 0; m < 2; m++) {
		make_image(IMG_SIZE, 0);
		struct blk_engine *e = open_image(modes[m], false, BLK_CACHE_WRITEBACK);
		static uint8_t bufs[8][512];
		struct iovec iov[8];
		struct blk_req reqs[9];
		struct done d = {0};

		for (unsigned i = 0; i < 8; i++) {
			memset(bufs[i], 0x10 + i, 512);
			iov[i] = (struct iovec){bufs[i], 512};
			reqs[i] = (struct blk_req){.op = BLK_OP_WRITE,
						   .offset = i * 512ull,
						   .iov = &iov[i],
						   .iovcnt = 1};
			cr_assert_eq(blk_submit(e, &reqs[i]), 0);
		}
		reqs[8] = (struct blk_req){.op = BLK_OP_FLUSH};
		cr_assert_eq(blk_submit(e, &reqs[8]), 0);
		blk_kick(e);
		wait_done(e, &d, 9);
		for (unsigned i = 0; i < 9; i++)
			cr_assert_eq(d.results[i], 0);
		uint8_t back[512];
		cr_assert_eq(rw(e, BLK_OP_READ, 7 * 512, back, 512), 0);
		cr_assert_arr_eq(back, bufs[7], 512);
		blk_close(e);
		remove_image();
	}
}

Test(blk_engine, sectors_past_the_end_and_unaligned_offsets_are_refused)
{
	for (unsigned m = 0; m < 2; m++) {
		make_image(IMG_SIZE, 0x77);
		struct blk_engine *e = open_image(modes[m], false, BLK_CACHE_WRITEBACK);
		uint8_t buf[1024];

		cr_assert_eq(blk_size(e), (uint64_t)IMG_SIZE);
		cr_assert_eq(rw(e, BLK_OP_READ, IMG_SIZE, buf, 512), -EINVAL);
		cr_assert_eq(rw(e, BLK_OP_READ, IMG_SIZE - 512, buf, 1024), -EINVAL,
			     "a read straddling the end");
		cr_assert_eq(rw(e, BLK_OP_WRITE, UINT64_MAX - 511, buf, 1024), -EINVAL,
			     "an offset that wraps");
		cr_assert_eq(rw(e, BLK_OP_READ, 100, buf, 512), -EINVAL, "unaligned offset");
		cr_assert_eq(rw(e, BLK_OP_READ, 0, buf, 100), -EINVAL, "unaligned length");
		cr_assert_eq(rw(e, BLK_OP_READ, IMG_SIZE - 512, buf, 512), 0, "the last sector");
		cr_assert_eq(buf[511], 0x77);
		blk_close(e);
		remove_image();
	}
}

Test(blk_engine, an_empty_image_has_no_sectors)
{
	make_image(0, 0);
	struct blk_engine *e = open_image(BLK_AIO_IO_URING, false, BLK_CACHE_WRITEBACK);
	uint8_t buf[512];

	cr_assert_eq(blk_size(e), 0u);
	cr_assert_eq(rw(e, BLK_OP_READ, 0, buf, 512), -EINVAL);
	blk_close(e);
}

Test(blk_engine, readonly_refuses_writes_and_discards_and_reads)
{
	for (unsigned m = 0; m < 2; m++) {
		make_image(IMG_SIZE, 0x5a);
		struct blk_engine *e = open_image(modes[m], true, BLK_CACHE_WRITEBACK);
		struct blk_req disc = {.op = BLK_OP_DISCARD, .offset = 0, .len = 512};
		uint8_t buf[512];

		cr_assert(blk_readonly(e));
		cr_assert_eq(rw(e, BLK_OP_WRITE, 0, buf, 512), -EROFS);
		cr_assert_eq(run_one(e, &disc), -EROFS);
		cr_assert_eq(rw(e, BLK_OP_READ, 0, buf, 512), 0);
		cr_assert_eq(buf[0], 0x5a);
		blk_close(e);
		remove_image();
	}
}

Test(blk_engine, discard_punches_zeros_or_says_unsupported)
{
	for (unsigned m = 0; m < 2; m++) {
		make_image(IMG_SIZE, 0xee);
		struct blk_engine *e = open_image(modes[m], false, BLK_CACHE_WRITEBACK);
		struct blk_req disc = {.op = BLK_OP_DISCARD, .offset = 8192, .len = 8192};
		uint8_t buf[512], zero[512] = {0};
		int r = run_one(e, &disc);

		if (r == -EOPNOTSUPP) {
			cr_log_info("discard unsupported on %s", path);
		} else {
			cr_assert_eq(r, 0);
			cr_assert_eq(rw(e, BLK_OP_READ, 8192 + 4096, buf, 512), 0);
			cr_assert_arr_eq(buf, zero, 512,
					 "a discarded sector did not read as zeros");
			cr_assert_eq(rw(e, BLK_OP_READ, 8192 + 8192, buf, 512), 0);
			cr_assert_eq(buf[0], 0xee, "discard went past its range");
		}
		struct blk_req past = {.op = BLK_OP_DISCARD, .offset = IMG_SIZE - 512, .len = 1024};
		cr_assert(run_one(e, &past) == -EINVAL || r == -EOPNOTSUPP);
		blk_close(e);
		remove_image();
	}
}

Test(blk_engine, a_second_writer_is_refused_with_a_clear_reason)
{
	make_image(IMG_SIZE, 0);
	struct blk_engine *e = open_image(BLK_AIO_IO_URING, false, BLK_CACHE_WRITEBACK), *e2 = NULL;
	struct blk_options opt = {.path = path};
	char err[256] = "";

	cr_assert_eq(blk_open(&e2, &opt, err, sizeof(err)), -EAGAIN);
	cr_assert(strstr(err, "locked by another process"), "got '%s'", err);
	opt.readonly = true;
	cr_assert_neq(blk_open(&e2, &opt, err, sizeof(err)), 0, "a reader beside a writer");
	blk_close(e);
	opt.readonly = false;
	cr_assert_eq(blk_open(&e2, &opt, err, sizeof(err)), 0, "the lock outlived blk_close");
	blk_close(e2);
}

Test(blk_engine, two_readers_may_share_an_image)
{
	make_image(IMG_SIZE, 0);
	struct blk_engine *a = open_image(BLK_AIO_IO_URING, true, BLK_CACHE_WRITEBACK);
	struct blk_engine *b = open_image(BLK_AIO_THREADS, true, BLK_CACHE_WRITEBACK);

	blk_close(a);
	blk_close(b);
}

Test(blk_engine, bad_images_are_named)
{
	struct blk_options opt = {.path = "/nonexistent/lodger.img"};
	struct blk_engine *e = NULL;
	char err[256] = "";

	cr_assert_eq(blk_open(&e, &opt, err, sizeof(err)), -ENOENT);
	cr_assert_str_eq(err, "No such file or directory");
	make_image(1000, 0);
	opt.path = path;
	cr_assert_eq(blk_open(&e, &opt, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "size 1000 is not a multiple of 512 bytes");
	opt.path = "/dev/null";
	cr_assert_eq(blk_open(&e, &opt, err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "not a regular file or block device");
}

/* A host error (here ENOSPC from /dev/full in the image's place) is that request's
 * error, and the engine goes on serving the next one. */
Test(blk_engine, host_errors_are_the_requests_error)
{
	for (unsigned m = 0; m < 2; m++) {
		make_image(IMG_SIZE, 0);
		struct blk_engine *e = open_image(modes[m], false, BLK_CACHE_WRITEBACK);
		int full = open("/dev/full", O_RDWR | O_CLOEXEC);
		uint8_t buf[512] = {1};

		cr_assert(full >= 0);
		cr_assert_eq(dup2(full, blk_fd(e)), blk_fd(e));
		close(full);
		cr_assert_eq(rw(e, BLK_OP_WRITE, 0, buf, 512), -ENOSPC, "mode %s",
			     blk_aio_name(modes[m]));
		cr_assert_eq(rw(e, BLK_OP_READ, 0, buf, 512), 0, "the engine stopped serving");
		cr_assert_eq(buf[0], 0, "/dev/full reads zeros");
		blk_close(e);
		remove_image();
	}
}

Test(blk_engine, cache_unsafe_acknowledges_flushes_without_the_host)
{
	make_image(IMG_SIZE, 0);
	struct blk_engine *e = open_image(BLK_AIO_IO_URING, false, BLK_CACHE_UNSAFE);
	int full = open("/dev/full", O_RDWR | O_CLOEXEC);
	struct blk_req f = {.op = BLK_OP_FLUSH};

	/* A real fdatasync of /dev/full fails: success means the host was not asked. */
	dup2(full, blk_fd(e));
	close(full);
	cr_assert_eq(run_one(e, &f), 0);
	blk_close(e);

	make_image(IMG_SIZE, 0);
	e = open_image(BLK_AIO_IO_URING, false, BLK_CACHE_WRITEBACK);
	full = open("/dev/full", O_RDWR | O_CLOEXEC);
	dup2(full, blk_fd(e));
	close(full);
	cr_assert_neq(run_one(e, &f), 0, "writeback's flush must reach the host");
	blk_close(e);
}

/* cache=none is O_DIRECT: unaligned guest buffers go through an aligned copy. */
Test(blk_engine, cache_none_serves_unaligned_buffers)
{
	for (unsigned m = 0; m < 2; m++) {
		make_image(IMG_SIZE, 0);
		struct blk_options opt = {.path = path, .cache = BLK_CACHE_NONE, .aio = modes[m]};
		struct blk_engine *e = NULL;
		char err[256];
		uint8_t *raw = malloc(4096 + 1), *buf = raw + 1, back[2048];

		if (blk_open(&e, &opt, err, sizeof(err))) {
			cr_log_warn("no O_DIRECT here (%s): skipped", err);
			free(raw);
			return;
		}
		for (unsigned i = 0; i < 2048; i++)
			buf[i] = (uint8_t)(i * 7);
		cr_assert_eq(rw(e, BLK_OP_WRITE, 2048, buf, 2048), 0);
		memset(buf, 0, 2048);
		cr_assert_eq(rw(e, BLK_OP_READ, 2048, buf, 2048), 0);
		for (unsigned i = 0; i < 2048; i++)
			back[i] = (uint8_t)(i * 7);
		cr_assert_arr_eq(buf, back, 2048);
		blk_close(e);
		free(raw);
		remove_image();
	}
}

Test(blk_engine, option_names_are_qemus)
{
	enum blk_cache c;
	enum blk_aio a;

	cr_assert_eq(blk_cache_parse("directsync", &c), 0);
	cr_assert_eq(c, BLK_CACHE_DIRECTSYNC);
	cr_assert_eq(blk_cache_parse("writeback", &c), 0);
	cr_assert_eq(c, BLK_CACHE_WRITEBACK);
	cr_assert_eq(blk_cache_parse("fast", &c), -1);
	cr_assert_eq(blk_aio_parse("threads", &a), 0);
	cr_assert_eq(a, BLK_AIO_THREADS);
	cr_assert_eq(blk_aio_parse("native", &a), -1);
	cr_assert_str_eq(blk_cache_name(BLK_CACHE_UNSAFE), "unsafe");
}
