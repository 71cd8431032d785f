/*
 * blk - a disk through virtio-blk on virtio-mmio (docs/block.md): the guest finds the
 * device in the device tree, writes a pattern across the whole disk, flushes, reads it
 * all back and checks it, then checks that a read past the end is an I/O error and that
 * the device goes on serving after it. tests/guest checks the image afterwards on the
 * host: every sector must hold the pattern (blk_pattern in run_guest.py).
 */
#include "rt.h"
#include "virtio.h"

GUEST("blk");

#define CHUNK_SECTORS 128 /* 64 KiB per request: one descriptor over 16 pages */
#define CHUNK_BYTES   (CHUNK_SECTORS * 512)

/* Word w of sector s: the sector and the word, so a misplaced sector shows. */
static uint64_t pattern(uint64_t s, unsigned w)
{
	return s << 32 | (uint64_t)w << 16 | 0xb10c;
}

void guest_main(void)
{
	static struct rt_vblk disk;
	uint64_t *buf, sectors, bad = 0;

	STEP("find the virtio-blk device in the device tree and set it up");
	CHECK(rt_vblk_init(&disk, 0));
	CHECK(!disk.readonly);
	CHECK(disk.flush);
	sectors = disk.capacity;
	CHECK(sectors > 0 && sectors % CHUNK_SECTORS == 0);
	rt_printf("blk: a disk of %lu sectors\n", sectors);
	buf = rt_alloc_pages(CHUNK_BYTES / PAGE_SIZE, PAGE_SIZE);

	STEP("write the pattern across the whole disk");
	for (uint64_t s = 0; s < sectors; s += CHUNK_SECTORS) {
		for (unsigned i = 0; i < CHUNK_SECTORS; i++)
			for (unsigned w = 0; w < 64; w++)
				buf[i * 64 + w] = pattern(s + i, w);
		CHECK_EQ(rt_vblk_rw(&disk, true, s, buf, CHUNK_BYTES), VIRTIO_BLK_S_OK);
	}

	STEP("flush");
	CHECK_EQ(rt_vblk_flush(&disk), VIRTIO_BLK_S_OK);

	STEP("read everything back and check it");
	for (uint64_t s = 0; s < sectors; s += CHUNK_SECTORS) {
		rt_memset(buf, 0, CHUNK_BYTES);
		CHECK_EQ(rt_vblk_rw(&disk, false, s, buf, CHUNK_BYTES), VIRTIO_BLK_S_OK);
		for (unsigned i = 0; i < CHUNK_SECTORS; i++)
			for (unsigned w = 0; w < 64; w++)
				bad += buf[i * 64 + w] != pattern(s + i, w);
	}
	CHECK_EQ(bad, 0);
	rt_printf("blk: %lu sectors written, flushed and read back\n", sectors);

	STEP("a read past the end is an I/O error, and the device goes on");
	CHECK_EQ(rt_vblk_rw(&disk, false, sectors, buf, 512), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(rt_vblk_rw(&disk, false, sectors - 1, buf, 1024), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(rt_vblk_rw(&disk, false, 0, buf, 512), VIRTIO_BLK_S_OK);
	CHECK_EQ(buf[1], pattern(0, 1));

	DONE();
}
