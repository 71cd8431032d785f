/*
 * fuzz_loader.c - the ELF64 loader (src/boot/loader.c) on mutated kernel images.
 *
 * Input: an ELF image, loaded into 4 MiB of guest RAM (LODGER_RAM_MIN) with the boot
 * protocol's reserved RAM at its top, as vm.c does. The RAM lies between unmapped guard
 * regions, and each run starts with every page of it dropped (MADV_DONTNEED), so mincore
 * shows which pages the loader wrote. Checked besides crashes: a refused image leaves RAM
 * untouched and explains itself; an accepted one wrote only inside [low, high), never in
 * reserved RAM, and its entry point lies inside [low, high).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "boot/bootmap.h"
#include "boot/loader.h"
#include "fuzz_common.h"
#include "lodger/boot.h"

#define RAM_SIZE LODGER_RAM_MIN
#define PAGES	 (RAM_SIZE / 0x1000)

static struct guest_mem mem;
static struct mem_range reserved;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char resident[PAGES];
	struct boot_image img;
	char err[256] = "";
	int r;

	if (!mem.ram) {
		struct boot_layout layout;

		mem.ram = fuzz_map_guarded(RAM_SIZE);
		mem.ram_size = RAM_SIZE;
		boot_layout_init(&layout, RAM_SIZE);
		reserved = (struct mem_range){layout.reserved, LODGER_RESERVED_SIZE};
	}
	if (madvise(mem.ram, RAM_SIZE, MADV_DONTNEED) < 0)
		abort();

	r = elf_load(data, size, &mem, &reserved, 1, &img, err, sizeof(err));

	if (mincore(mem.ram, RAM_SIZE, resident) < 0)
		abort();
	if (r < 0) {
		FUZZ_CHECK(err[0] != '\0', "refused without a reason");
		for (unsigned p = 0; p < PAGES; p++)
			FUZZ_CHECK(!(resident[p] & 1), "refused (%s) but wrote page %#x", err,
				   p * 0x1000);
		return 0;
	}
	FUZZ_CHECK(r == 0, "elf_load returned %d", r);
	FUZZ_CHECK(img.low < img.high && img.high <= RAM_SIZE, "loaded [%#llx, %#llx)",
		   (unsigned long long)img.low, (unsigned long long)img.high);
	FUZZ_CHECK(img.entry >= img.low && img.entry < img.high,
		   "entry %#llx outside [%#llx, %#llx)", (unsigned long long)img.entry,
		   (unsigned long long)img.low, (unsigned long long)img.high);
	for (unsigned p = 0; p < PAGES; p++) {
		uint64_t page = (uint64_t)p * 0x1000;

		if (!(resident[p] & 1))
			continue;
		FUZZ_CHECK(page + 0x1000 > img.low && page < img.high,
			   "page %#llx written outside [%#llx, %#llx)", (unsigned long long)page,
			   (unsigned long long)img.low, (unsigned long long)img.high);
		FUZZ_CHECK(!ranges_overlap(page, 0x1000, reserved.start, reserved.size),
			   "reserved page %#llx written", (unsigned long long)page);
	}
	return 0;
}
