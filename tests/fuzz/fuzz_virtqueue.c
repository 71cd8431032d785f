/*
 * fuzz_virtqueue.c - libFuzzer harness for the split-virtqueue parser and the virtio-blk
 * requests built on it (src/dev/virtqueue.c, virtio_blk.c).
 *
 * The input is guest RAM: its first bytes choose the queue's size and where its three
 * areas lie, the rest is descriptors, rings and buffers as a hostile guest would leave
 * them. Both the bare parser (vq_pop/vq_push until empty or broken) and the whole device
 * (through its MMIO registers, on a small in-memory image with synchronous I/O) run on
 * it. Guest RAM lies between unmapped guard regions, so a host access outside it is a
 * SIGSEGV. A crash, a sanitizer report or a hang is a finding; wrong answers are the unit
 * tests' business (tests/unit/test_virtio_blk.c).
 *
 * Input: u8 log2 of the parser's queue size, u8 the length it pushes back, u8 the size the
 * driver writes to QueueNum, u8 unused, then u32 descriptor, available and used area
 * addresses (taken modulo the RAM size), then guest RAM from address 0.
 */
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dev/virtio_blk.h"
#include "dev/virtqueue.h"
#include "fuzz_common.h"

#define RAM_SIZE 0x10000

static uint8_t *ram;
static struct blk_engine *engine;

static void no_irq(void *ctx, bool level)
{
	(void)ctx;
	(void)level;
}

static struct blk_engine *open_engine(void)
{
	struct blk_options opt = {.aio = BLK_AIO_THREADS};
	char path[64], err[128];
	int fd = memfd_create("fuzz-disk", 0);

	if (fd < 0 || ftruncate(fd, 64 * 1024) < 0)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	opt.path = path;
	if (blk_open(&engine, &opt, err, sizeof(err)))
		abort();
	return engine;
}

static uint32_t word(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static void mmio_write(struct virtio_blk *b, uint64_t off, uint32_t v)
{
	virtio_mmio_access(&b->transport, off, (uint8_t *)&v, 4, true);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct guest_mem mem = {.ram_size = RAM_SIZE};
	static struct vq_chain chain;
	static struct virtio_blk blk;
	struct virtq q = {0};

	if (size < 16)
		return 0;
	if (!engine) {
		engine = open_engine();
		ram = fuzz_map_guarded(RAM_SIZE);
	}
	mem.ram = ram;
	memset(ram, 0, RAM_SIZE);
	memcpy(ram, data + 16, size - 16 < RAM_SIZE ? size - 16 : RAM_SIZE);

	/* The bare parser. */
	q.num = (uint16_t)(1u << (data[0] % 8)); /* 1 .. 128 */
	q.desc_gpa = word(data + 4) % RAM_SIZE;
	q.avail_gpa = word(data + 8) % RAM_SIZE;
	q.used_gpa = word(data + 12) % RAM_SIZE;
	q.ready = vq_areas_ok(&mem, &q);
	for (unsigned i = 0; q.ready && i < 4 * VQ_MAX_SIZE; i++) {
		enum vq_pop r = vq_pop(&mem, &q, &chain);

		if (r == VQ_EMPTY || r == VQ_BROKEN)
			break;
		if (!vq_push(&mem, &q, chain.head, data[1]))
			break;
	}

	/* The device, set up through its registers as a driver would. */
	virtio_blk_init(&blk, engine, &mem, no_irq, NULL, "fuzz");
	mmio_write(&blk, VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	mmio_write(&blk, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	mmio_write(&blk, VIRTIO_MMIO_DRIVER_FEATURES, 1u << (VIRTIO_F_VERSION_1 - 32));
	mmio_write(&blk, VIRTIO_MMIO_STATUS, 0xb);
	mmio_write(&blk, VIRTIO_MMIO_QUEUE_NUM, data[2]);
	mmio_write(&blk, VIRTIO_MMIO_QUEUE_DESC_LOW, word(data + 4) % RAM_SIZE);
	mmio_write(&blk, VIRTIO_MMIO_QUEUE_AVAIL_LOW, word(data + 8) % RAM_SIZE);
	mmio_write(&blk, VIRTIO_MMIO_QUEUE_USED_LOW, word(data + 12) % RAM_SIZE);
	mmio_write(&blk, VIRTIO_MMIO_QUEUE_READY, 1);
	mmio_write(&blk, VIRTIO_MMIO_STATUS, 0xf);
	mmio_write(&blk, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	while (blk_inflight(engine))
		virtio_blk_complete(&blk);
	mmio_write(&blk, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	while (blk_inflight(engine))
		virtio_blk_complete(&blk);
	virtio_blk_destroy(&blk);
	return 0;
}
