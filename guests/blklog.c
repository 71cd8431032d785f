/*
 * blklog - numbered records, each flushed before it is reported: the guest side of the
 * kill test (tests/guest/kill_test.py, docs/block.md "Durability").
 *
 * Record n lives in sector n: a magic, the run's generation (bootarg gen=0x...), n, and a
 * check word. After each record's flush completes with VIRTIO_BLK_S_OK the guest prints
 * "blklog: durable n". lodger is killed with SIGKILL at a random moment; the test then
 * requires every record up to the last one reported to be on the image, from this run.
 * When the disk is full the guest powers off.
 */
#include "rt.h"
#include "virtio.h"

GUEST("blklog");

#define RECORD_MAGIC 0x4c4f4447524543ULL /* "LODGREC" */

void guest_main(void)
{
	static struct rt_vblk disk;
	uint64_t gen = rt_bootarg_hex("gen");
	uint64_t *rec;

	CHECK(rt_vblk_init(&disk, 0));
	CHECK(disk.flush);
	rec = rt_alloc_page();
	rt_printf("blklog: generation 0x%lx, %lu records\n", gen, disk.capacity);
	for (uint64_t n = 0; n < disk.capacity; n++) {
		rt_memset(rec, 0, 512);
		rec[0] = RECORD_MAGIC;
		rec[1] = gen;
		rec[2] = n;
		rec[3] = RECORD_MAGIC ^ gen ^ n;
		CHECK_EQ(rt_vblk_rw(&disk, true, n, rec, 512), VIRTIO_BLK_S_OK);
		CHECK_EQ(rt_vblk_flush(&disk), VIRTIO_BLK_S_OK);
		rt_printf("blklog: durable %lu\n", n);
	}
	DONE();
}
