/*
 * test_virtio_blk.c - virtio-mmio and virtio-blk (src/dev/virtio_*.c, virtqueue.c) driven
 * as a guest driver would, and as a hostile one would, on a fake guest memory and a
 * real image file. No KVM.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dev/virtio_blk.h"

#define RAM_SIZE  (1u << 20)
#define IMG_SIZE  (256u * 1024)
#define QNUM	  16
#define DESC_GPA  0x1000
#define AVAIL_GPA 0x2000
#define USED_GPA  0x3000
#define HDR_GPA	  0x4000
#define DATA_GPA  0x10000
#define STAT_GPA  0x5000

static uint8_t *ram;
static struct guest_mem mem;
static char path[256];
static struct blk_engine *engine;
static struct virtio_blk *blk;
static bool irq_level;
static unsigned irq_raises;
static uint16_t avail_idx;

static void set_irq(void *ctx, bool level)
{
	(void)ctx;
	if (level && !irq_level)
		irq_raises++;
	irq_level = level;
}

static uint32_t rd(uint64_t off)
{
	uint32_t v;

	virtio_mmio_access(&blk->transport, off, (uint8_t *)&v, 4, false);
	return v;
}

static void wr(uint64_t off, uint32_t v)
{
	virtio_mmio_access(&blk->transport, off, (uint8_t *)&v, 4, true);
}

static void open_device_aio(bool readonly, enum blk_aio aio)
{
	struct blk_options opt = {.path = path, .readonly = readonly, .aio = aio};
	char err[256];
	int fd;

	ram = calloc(1, RAM_SIZE);
	mem = (struct guest_mem){.ram = ram, .ram_size = RAM_SIZE};
	snprintf(path, sizeof(path), "%s/lodger-vblk-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	fd = mkstemp(path);
	cr_assert(fd >= 0);
	cr_assert_eq(ftruncate(fd, IMG_SIZE), 0);
	close(fd);
	cr_assert_eq(blk_open(&engine, &opt, err, sizeof(err)), 0, "%s", err);
	blk = malloc(sizeof(*blk));
	virtio_blk_init(blk, engine, &mem, set_irq, NULL, "lodger-disk0");
	irq_level = false;
	irq_raises = 0;
	avail_idx = 0;
}

static void open_device(bool readonly)
{
	open_device_aio(readonly, BLK_AIO_IO_URING);
}

static void driver_init(void)
{
	wr(VIRTIO_MMIO_STATUS, 0);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 1u << VIRTIO_BLK_F_FLUSH);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 1u << (VIRTIO_F_VERSION_1 - 32));
	wr(VIRTIO_MMIO_STATUS,
	   VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_FEATURES_OK);
	cr_assert(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK);
	wr(VIRTIO_MMIO_QUEUE_SEL, 0);
	cr_assert_eq(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), VQ_MAX_SIZE);
	wr(VIRTIO_MMIO_QUEUE_NUM, QNUM);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, DESC_GPA);
	wr(VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
	wr(VIRTIO_MMIO_QUEUE_AVAIL_LOW, AVAIL_GPA);
	wr(VIRTIO_MMIO_QUEUE_USED_LOW, USED_GPA);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	cr_assert_eq(rd(VIRTIO_MMIO_QUEUE_READY), 1u);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER |
				       VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK);
	avail_idx = 0;
	memset(ram + DESC_GPA, 0, 0x3000);
}

static void close_device(void)
{
	if (!blk)
		return;
	blk_close(engine);
	virtio_blk_destroy(blk);
	free(blk);
	free(ram);
	unlink(path);
	blk = NULL;
}

static void set_desc(unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	struct vring_desc d = {.addr = addr, .len = len, .flags = flags, .next = next};

	memcpy(ram + DESC_GPA + 16 * i, &d, 16);
}

static void set_hdr(uint64_t gpa, uint32_t type, uint64_t sector)
{
	struct virtio_blk_outhdr h = {.type = type, .sector = sector};

	memcpy(ram + gpa, &h, sizeof(h));
}

/* Puts head in the avail ring and publishes it (no notification). */
static void make_available(uint16_t head)
{
	uint16_t *ring = (uint16_t *)(ram + AVAIL_GPA + 4);

	ring[avail_idx % QNUM] = head;
	avail_idx++;
	memcpy(ram + AVAIL_GPA + 2, &avail_idx, 2);
}

static uint16_t used_idx(void)
{
	uint16_t v;

	memcpy(&v, ram + USED_GPA + 2, 2);
	return v;
}

static struct vring_used_elem used_elem(unsigned i)
{
	struct vring_used_elem e;

	memcpy(&e, ram + USED_GPA + 4 + 8 * (i % QNUM), 8);
	return e;
}

/* Notifies, then lets completions in as the I/O thread would, until `want` used. */
static void notify_and_wait(uint16_t want)
{
	struct pollfd p = {.fd = blk_event_fd(engine), .events = POLLIN};

	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	while (used_idx() < want && blk_inflight(engine)) {
		cr_assert_eq(poll(&p, 1, 5000), 1, "no completion within 5 s");
		virtio_blk_complete(blk);
	}
}

/* A three-descriptor request at heads h, h+1, h+2: header, data, status. */
static uint8_t simple_request(unsigned h, uint32_t type, uint64_t sector, uint64_t data_gpa,
			      uint32_t len)
{
	bool in = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;

	set_hdr(HDR_GPA + 16 * h, type, sector);
	ram[STAT_GPA + h] = 0xff;
	set_desc(h, HDR_GPA + 16 * h, 16, VRING_DESC_F_NEXT, h + 1);
	set_desc(h + 1, data_gpa, len, VRING_DESC_F_NEXT | (in ? VRING_DESC_F_WRITE : 0), h + 2);
	set_desc(h + 2, STAT_GPA + h, 1, VRING_DESC_F_WRITE, 0);
	make_available(h);
	notify_and_wait(avail_idx);
	return ram[STAT_GPA + h];
}

static bool needs_reset(void)
{
	return rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET;
}

TestSuite(virtio_blk, .fini = close_device);

Test(virtio_blk, identifies_as_a_modern_block_device)
{
	open_device(false);
	cr_assert_eq(rd(VIRTIO_MMIO_MAGIC_VALUE), 0x74726976u);
	cr_assert_eq(rd(VIRTIO_MMIO_VERSION), 2u);
	cr_assert_eq(rd(VIRTIO_MMIO_DEVICE_ID), (uint32_t)VIRTIO_ID_BLOCK);
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	cr_assert(rd(VIRTIO_MMIO_DEVICE_FEATURES) & 1u << (VIRTIO_F_VERSION_1 - 32));
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	cr_assert(rd(VIRTIO_MMIO_DEVICE_FEATURES) & 1u << VIRTIO_BLK_F_FLUSH);
	cr_assert_not(rd(VIRTIO_MMIO_DEVICE_FEATURES) & 1u << VIRTIO_BLK_F_RO);
	uint64_t cap = 0;
	for (unsigned i = 0; i < 8; i++) {
		uint8_t byte;

		virtio_mmio_access(&blk->transport, VIRTIO_MMIO_CONFIG + i, &byte, 1, false);
		cap |= (uint64_t)byte << (8 * i);
	}
	cr_assert_eq(cap, IMG_SIZE / 512, "capacity in config space");
}

Test(virtio_blk, features_ok_needs_version_1_and_a_subset)
{
	open_device(false);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 1u << VIRTIO_BLK_F_FLUSH);
	wr(VIRTIO_MMIO_STATUS, 0xb);
	cr_assert_not(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK, "legacy accepted");
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 1u << (VIRTIO_F_VERSION_1 - 32) | 1u << 30);
	wr(VIRTIO_MMIO_STATUS, 0xb);
	cr_assert_not(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK,
		      "a feature never offered accepted");
}

Test(virtio_blk, write_flush_read_round_trip_reaches_the_image)
{
	open_device(false);
	driver_init();
	for (unsigned i = 0; i < 4096; i++)
		ram[DATA_GPA + i] = (uint8_t)(i ^ 0x5a);
	cr_assert_eq(simple_request(0, VIRTIO_BLK_T_OUT, 8, DATA_GPA, 4096), VIRTIO_BLK_S_OK);
	cr_assert_eq(simple_request(3, VIRTIO_BLK_T_FLUSH, 0, DATA_GPA, 0), VIRTIO_BLK_S_OK);
	cr_assert_eq(simple_request(6, VIRTIO_BLK_T_IN, 8, DATA_GPA + 0x2000, 4096),
		     VIRTIO_BLK_S_OK);
	cr_assert_arr_eq(ram + DATA_GPA + 0x2000, ram + DATA_GPA, 4096);
	cr_assert_eq(used_elem(2).id, 6u);
	cr_assert_eq(used_elem(2).len, 4097u, "read length plus the status byte");
	cr_assert(irq_level, "the vring interrupt is not raised");
	cr_assert(rd(VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_VRING);
	wr(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	cr_assert_not(irq_level, "the line stays up after the ack");

	uint8_t file[4096];
	int fd = open(path, O_RDONLY);
	cr_assert_eq(pread(fd, file, 4096, 8 * 512), 4096);
	close(fd);
	cr_assert_arr_eq(file, ram + DATA_GPA, 4096);
}

Test(virtio_blk, the_synchronous_fallback_serves_a_batch_too)
{
	open_device_aio(false, BLK_AIO_THREADS);
	driver_init();
	memset(ram + DATA_GPA, 0x3c, 1024);
	set_hdr(HDR_GPA, VIRTIO_BLK_T_OUT, 4);
	set_desc(0, HDR_GPA, 16, VRING_DESC_F_NEXT, 1);
	set_desc(1, DATA_GPA, 1024, VRING_DESC_F_NEXT, 2);
	set_desc(2, STAT_GPA, 1, VRING_DESC_F_WRITE, 0);
	set_hdr(HDR_GPA + 16, VIRTIO_BLK_T_FLUSH, 0);
	set_desc(3, HDR_GPA + 16, 16, VRING_DESC_F_NEXT, 4);
	set_desc(4, STAT_GPA + 1, 1, VRING_DESC_F_WRITE, 0);
	ram[STAT_GPA] = ram[STAT_GPA + 1] = 0xff;
	make_available(0);
	make_available(3);
	notify_and_wait(2);
	cr_assert_eq(used_idx(), 2);
	cr_assert_eq(ram[STAT_GPA], VIRTIO_BLK_S_OK);
	cr_assert_eq(ram[STAT_GPA + 1], VIRTIO_BLK_S_OK);
	cr_assert_eq(simple_request(5, VIRTIO_BLK_T_IN, 4, DATA_GPA + 0x1000, 1024),
		     VIRTIO_BLK_S_OK);
	cr_assert_arr_eq(ram + DATA_GPA + 0x1000, ram + DATA_GPA, 1024);
}

Test(virtio_blk, any_framing_of_the_header_is_accepted)
{
	open_device(false);
	driver_init();
	/* header cut 5 + 11, data and status in one writable descriptor */
	set_hdr(HDR_GPA, VIRTIO_BLK_T_OUT, 2);
	memset(ram + DATA_GPA, 0xc3, 512);
	set_desc(0, HDR_GPA, 5, VRING_DESC_F_NEXT, 1);
	set_desc(1, HDR_GPA + 5, 11, VRING_DESC_F_NEXT, 2);
	set_desc(2, DATA_GPA, 512, VRING_DESC_F_NEXT, 3);
	set_desc(3, STAT_GPA, 1, VRING_DESC_F_WRITE, 0);
	make_available(0);
	notify_and_wait(1);
	cr_assert_eq(ram[STAT_GPA], VIRTIO_BLK_S_OK);
	set_hdr(HDR_GPA, VIRTIO_BLK_T_IN, 2);
	set_desc(0, HDR_GPA, 16, VRING_DESC_F_NEXT, 1);
	set_desc(1, DATA_GPA + 0x1000, 513, VRING_DESC_F_WRITE, 0); /* data + status */
	ram[DATA_GPA + 0x1000 + 512] = 0xff;
	make_available(0);
	notify_and_wait(2);
	cr_assert_eq(ram[DATA_GPA + 0x1000 + 512], VIRTIO_BLK_S_OK);
	cr_assert_arr_eq(ram + DATA_GPA + 0x1000, ram + DATA_GPA, 512);
}

/* VIRTIO_BLK_F_SIZE_MAX: a data descriptor longer than size_max is an I/O error (one
 * buffer aliased 126 times would otherwise let a notify move gigabytes); at size_max it
 * is served. */
Test(virtio_blk, a_descriptor_past_size_max_is_an_io_error)
{
	uint32_t size_max = 0;

	open_device(false);
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	cr_assert(rd(VIRTIO_MMIO_DEVICE_FEATURES) & 1u << VIRTIO_BLK_F_SIZE_MAX);
	for (unsigned i = 0; i < 4; i++) {
		uint8_t byte;

		virtio_mmio_access(&blk->transport,
				   VIRTIO_MMIO_CONFIG +
					   offsetof(struct virtio_blk_config, size_max) + i,
				   &byte, 1, false);
		size_max |= (uint32_t)byte << (8 * i);
	}
	cr_assert_eq(size_max, 64u << 10);
	driver_init();
	cr_expect_eq(simple_request(0, VIRTIO_BLK_T_IN, 0, DATA_GPA, size_max), VIRTIO_BLK_S_OK);
	cr_expect_eq(simple_request(3, VIRTIO_BLK_T_IN, 0, DATA_GPA, size_max + 512),
		     VIRTIO_BLK_S_IOERR);
	cr_expect_eq(simple_request(6, VIRTIO_BLK_T_OUT, 0, DATA_GPA, size_max + 512),
		     VIRTIO_BLK_S_IOERR);
	cr_assert_not(needs_reset());
}

Test(virtio_blk, sectors_past_the_end_are_io_errors)
{
	open_device(false);
	driver_init();
	cr_assert_eq(simple_request(0, VIRTIO_BLK_T_IN, IMG_SIZE / 512, DATA_GPA, 512),
		     VIRTIO_BLK_S_IOERR);
	cr_assert_eq(simple_request(3, VIRTIO_BLK_T_OUT, IMG_SIZE / 512 - 1, DATA_GPA, 1024),
		     VIRTIO_BLK_S_IOERR, "straddling the end");
	cr_assert_eq(simple_request(6, VIRTIO_BLK_T_IN, UINT64_MAX / 256, DATA_GPA, 512),
		     VIRTIO_BLK_S_IOERR, "a sector whose byte offset overflows");
	cr_assert_eq(simple_request(9, VIRTIO_BLK_T_IN, 0, DATA_GPA, 100), VIRTIO_BLK_S_IOERR,
		     "not whole sectors");
	cr_assert_eq(simple_request(12, VIRTIO_BLK_T_IN, 0, DATA_GPA, 512), VIRTIO_BLK_S_OK,
		     "the device stopped after errors");
	cr_assert_not(needs_reset());
}

Test(virtio_blk, buffers_outside_ram_or_in_monitor_memory_are_io_errors)
{
	open_device(false);
	uint8_t monitor[4096] = {0};
	mem.monitor = monitor;
	mem.monitor_gpa = 4ULL << 30;
	mem.monitor_size = sizeof(monitor);
	driver_init();
	cr_assert_eq(simple_request(0, VIRTIO_BLK_T_IN, 0, RAM_SIZE - 256, 512), VIRTIO_BLK_S_IOERR,
		     "a buffer running off the end of RAM");
	cr_assert_eq(simple_request(3, VIRTIO_BLK_T_IN, 0, 4ULL << 30, 512), VIRTIO_BLK_S_IOERR,
		     "a buffer in monitor memory");
	cr_assert_eq(simple_request(6, VIRTIO_BLK_T_IN, 0, UINT64_MAX - 255, 512),
		     VIRTIO_BLK_S_IOERR, "a buffer wrapping 2^64");
	for (unsigned i = 0; i < sizeof(monitor); i++)
		cr_assert_eq(monitor[i], 0, "monitor memory written");
	/* lengths that overflow 32 bits when summed */
	set_hdr(HDR_GPA, VIRTIO_BLK_T_IN, 0);
	set_desc(0, HDR_GPA, 16, VRING_DESC_F_NEXT, 1);
	set_desc(1, DATA_GPA, 0xffffffff, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	set_desc(2, STAT_GPA, 1, VRING_DESC_F_WRITE, 0);
	make_available(0);
	notify_and_wait(avail_idx);
	cr_assert_eq(ram[STAT_GPA], VIRTIO_BLK_S_IOERR);
	cr_assert_not(needs_reset());
}

Test(virtio_blk, a_looping_chain_needs_a_reset_and_a_reset_recovers)
{
	open_device(false);
	driver_init();
	set_hdr(HDR_GPA, VIRTIO_BLK_T_IN, 0);
	set_desc(0, HDR_GPA, 16, VRING_DESC_F_NEXT, 1);
	set_desc(1, DATA_GPA, 512, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 0); /* back to 0 */
	make_available(0);
	notify_and_wait(0);
	cr_assert(needs_reset());
	cr_assert(rd(VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	cr_assert_eq(used_idx(), 0);
	/* nothing is taken any more */
	simple_request(3, VIRTIO_BLK_T_IN, 0, DATA_GPA, 512);
	cr_assert_eq(used_idx(), 0);
	driver_init();
	cr_assert_not(needs_reset());
	cr_assert_eq(simple_request(0, VIRTIO_BLK_T_IN, 0, DATA_GPA, 512), VIRTIO_BLK_S_OK);
}

Test(virtio_blk, a_next_index_out_of_range_needs_a_reset)
{
	open_device(false);
	driver_init();
	set_hdr(HDR_GPA, VIRTIO_BLK_T_IN, 0);
	set_desc(0, HDR_GPA, 16, VRING_DESC_F_NEXT, QNUM);
	make_available(0);
	notify_and_wait(0);
	cr_assert(needs_reset());
}

Test(virtio_blk, an_indirect_descriptor_needs_a_reset)
{
	open_device(false);
	driver_init();
	set_desc(0, DATA_GPA, 64, VRING_DESC_F_INDIRECT, 0);
	make_available(0);
	notify_and_wait(0);
	cr_assert(needs_reset());
}

Test(virtio_blk, an_avail_index_jumping_past_the_ring_needs_a_reset)
{
	open_device(false);
	driver_init();
	uint16_t idx = QNUM + 1;
	memcpy(ram + AVAIL_GPA + 2, &idx, 2);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	cr_assert(needs_reset());
	cr_assert_eq(used_idx(), 0);
}

Test(virtio_blk, a_head_index_out_of_range_needs_a_reset)
{
	open_device(false);
	driver_init();
	make_available(0xffff);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	cr_assert(needs_reset());
}

Test(virtio_blk, the_same_head_twice_in_flight_needs_a_reset)
{
	open_device(false);
	driver_init();
	set_hdr(HDR_GPA, VIRTIO_BLK_T_IN, 0);
	set_desc(0, HDR_GPA, 16, VRING_DESC_F_NEXT, 1);
	set_desc(1, DATA_GPA, 512, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	set_desc(2, STAT_GPA, 1, VRING_DESC_F_WRITE, 0);
	make_available(0);
	make_available(0);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	cr_assert(needs_reset(), "head 0 made available again while in flight");
	/* the first one's completion, after the reset state, must not crash or write */
	struct pollfd p = {.fd = blk_event_fd(engine), .events = POLLIN};
	while (blk_inflight(engine)) {
		cr_assert_eq(poll(&p, 1, 5000), 1);
		virtio_blk_complete(blk);
	}
	cr_assert_eq(used_idx(), 0);
}

Test(virtio_blk, queue_areas_outside_ram_need_a_reset)
{
	open_device(false);
	wr(VIRTIO_MMIO_STATUS, 3);
	wr(VIRTIO_MMIO_QUEUE_NUM, QNUM);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, RAM_SIZE - 16);
	wr(VIRTIO_MMIO_QUEUE_AVAIL_LOW, AVAIL_GPA);
	wr(VIRTIO_MMIO_QUEUE_USED_LOW, USED_GPA);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	cr_assert_eq(rd(VIRTIO_MMIO_QUEUE_READY), 0u);
	cr_assert(needs_reset());
	wr(VIRTIO_MMIO_STATUS, 0);
	wr(VIRTIO_MMIO_QUEUE_NUM, 3); /* not a power of two */
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, DESC_GPA);
	wr(VIRTIO_MMIO_QUEUE_AVAIL_LOW, AVAIL_GPA);
	wr(VIRTIO_MMIO_QUEUE_USED_LOW, USED_GPA);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	cr_assert(needs_reset());
}

Test(virtio_blk, a_chain_without_a_status_byte_comes_back_empty)
{
	open_device(false);
	driver_init();
	set_hdr(HDR_GPA, VIRTIO_BLK_T_IN, 0);
	set_desc(0, HDR_GPA, 16, 0, 0);
	make_available(0);
	notify_and_wait(1);
	cr_assert_eq(used_idx(), 1);
	cr_assert_eq(used_elem(0).len, 0u);
	cr_assert_not(needs_reset());
}

Test(virtio_blk, readonly_images_refuse_writes)
{
	open_device(true);
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	cr_assert(rd(VIRTIO_MMIO_DEVICE_FEATURES) & 1u << VIRTIO_BLK_F_RO);
	driver_init();
	cr_assert_eq(simple_request(0, VIRTIO_BLK_T_OUT, 0, DATA_GPA, 512), VIRTIO_BLK_S_IOERR);
	cr_assert_eq(simple_request(3, VIRTIO_BLK_T_IN, 0, DATA_GPA, 512), VIRTIO_BLK_S_OK);
}

Test(virtio_blk, host_errors_are_io_errors_and_the_device_goes_on)
{
	open_device(false);
	driver_init();
	int full = open("/dev/full", O_RDWR | O_CLOEXEC), saved = dup(blk_fd(engine));

	dup2(full, blk_fd(engine));
	close(full);
	cr_assert_eq(simple_request(0, VIRTIO_BLK_T_OUT, 0, DATA_GPA, 512), VIRTIO_BLK_S_IOERR,
		     "ENOSPC");
	dup2(saved, blk_fd(engine));
	close(saved);
	cr_assert_eq(simple_request(3, VIRTIO_BLK_T_OUT, 0, DATA_GPA, 512), VIRTIO_BLK_S_OK);
}

Test(virtio_blk, get_id_and_unknown_types)
{
	open_device(false);
	driver_init();
	char id[20];

	memset(ram + DATA_GPA, 'x', 32);
	cr_assert_eq(simple_request(0, VIRTIO_BLK_T_GET_ID, 0, DATA_GPA, 20), VIRTIO_BLK_S_OK);
	memcpy(id, ram + DATA_GPA, 20);
	cr_assert_str_eq(id, "lodger-disk0");
	cr_assert_eq(simple_request(3, 0x77, 0, DATA_GPA, 512), VIRTIO_BLK_S_UNSUPP);
}

Test(virtio_blk, discard_zeroes_a_range)
{
	open_device(false);
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	bool offered = rd(VIRTIO_MMIO_DEVICE_FEATURES) & 1u << VIRTIO_BLK_F_DISCARD;
	driver_init();
	if (!offered) {
		/* A host that cannot punch holes: the feature is not offered, and a discard
		 * a driver sends anyway is the protocol's "unsupported", never a success. */
		struct virtio_blk_discard_write_zeroes any = {.sector = 0, .num_sectors = 8};

		memcpy(ram + DATA_GPA + 0x3000, &any, sizeof(any));
		cr_assert_eq(simple_request(0, VIRTIO_BLK_T_DISCARD, 0, DATA_GPA + 0x3000, 16),
			     VIRTIO_BLK_S_UNSUPP);
		return;
	}
	memset(ram + DATA_GPA, 0x99, 4096);
	cr_assert_eq(simple_request(0, VIRTIO_BLK_T_OUT, 0, DATA_GPA, 4096), VIRTIO_BLK_S_OK);
	struct virtio_blk_discard_write_zeroes seg = {.sector = 0, .num_sectors = 8};
	memcpy(ram + DATA_GPA + 0x3000, &seg, sizeof(seg));
	cr_assert_eq(simple_request(3, VIRTIO_BLK_T_DISCARD, 0, DATA_GPA + 0x3000, 16),
		     VIRTIO_BLK_S_OK);
	cr_assert_eq(simple_request(6, VIRTIO_BLK_T_IN, 0, DATA_GPA, 4096), VIRTIO_BLK_S_OK);
	cr_assert_eq(ram[DATA_GPA + 100], 0);
	seg.sector = IMG_SIZE / 512;
	memcpy(ram + DATA_GPA + 0x3000, &seg, sizeof(seg));
	cr_assert_eq(simple_request(9, VIRTIO_BLK_T_DISCARD, 0, DATA_GPA + 0x3000, 16),
		     VIRTIO_BLK_S_IOERR);
}
