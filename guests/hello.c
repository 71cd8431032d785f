/*
 * hello - lodger's boot contract, seen from the guest (docs/guest-contract.md).
 *
 * The guest is entered with the magic in RSI and a device tree in RDI; the tree has the
 * root cells, /memory, /chosen with bootargs and stdout-path, and /lodger with the mode
 * and the selectors; the reserved RAM is in the reservation block. The guest echoes the
 * bootargs it was given. Must behave identically in direct and shadow mode: nothing
 * mode-dependent is printed (the mode is checked, never shown).
 */
#include "rt.h"

GUEST("hello");

static bool str_eq(const char *a, const char *b)
{
	if (!a || !b)
		return false;
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

void guest_main(void)
{
	const void *fdt = rt_boot.fdt;
	const char *mode, *bootargs;
	int root, memory, chosen, lodger;
	uint32_t cells, kernel_cs;
	struct rt_segments segs;
	uint64_t addr, size, ram;
	const uint8_t *reg;
	uint32_t len;
	int nrsv;

	STEP("lodger's magic is in RSI, a device tree in RDI");
	CHECK_EQ(rt_boot.magic, LODGER_BOOT_MAGIC);
	CHECK(rt_fdt_valid(fdt));
	CHECK_EQ((uint64_t)fdt & 7, 0);

	STEP("the root has two address cells and two size cells");
	root = rt_fdt_path_offset(fdt, "/");
	CHECK(root >= 0);
	CHECK(rt_fdt_getprop_u32(fdt, root, "#address-cells", &cells));
	CHECK_EQ(cells, 2);
	CHECK(rt_fdt_getprop_u32(fdt, root, "#size-cells", &cells));
	CHECK_EQ(cells, 2);

	STEP("/memory@0 describes RAM from address 0");
	memory = rt_fdt_path_offset(fdt, "/memory@0");
	CHECK(memory >= 0);
	CHECK_EQ(rt_fdt_path_offset(fdt, "/memory"), memory);
	CHECK(str_eq(rt_fdt_getprop_string(fdt, memory, "device_type"), "memory"));
	reg = rt_fdt_getprop(fdt, memory, "reg", &len);
	CHECK(reg != NULL);
	CHECK_EQ(len, 16);
	CHECK_EQ(rt_be64(reg), 0);
	ram = rt_be64(reg + 8);
	CHECK(ram >= LODGER_RAM_MIN && ram <= LODGER_RAM_MAX);
	CHECK_EQ(ram % LODGER_RAM_ALIGN, 0);
	rt_printf("hello: memory %lu MiB\n", ram >> 20);

	STEP("the reserved RAM is listed and holds the device tree");
	nrsv = rt_fdt_num_mem_rsv(fdt);
	CHECK(nrsv >= 1);
	bool fdt_reserved = false;
	for (int i = 0; i < nrsv; i++) {
		CHECK(rt_fdt_get_mem_rsv(fdt, i, &addr, &size));
		CHECK(size > 0 && addr + size <= ram);
		if ((uint64_t)fdt >= addr && (uint64_t)fdt + rt_fdt_totalsize(fdt) <= addr + size)
			fdt_reserved = true;
	}
	CHECK(fdt_reserved);
	/* The image lies outside it: the loader refuses overlaps. */
	extern char __image_start[], _end[];
	for (int i = 0; i < nrsv; i++) {
		CHECK(rt_fdt_get_mem_rsv(fdt, i, &addr, &size));
		CHECK((uint64_t)_end <= addr || (uint64_t)__image_start >= addr + size);
	}

	STEP("/chosen has the bootargs and a stdout-path");
	chosen = rt_fdt_path_offset(fdt, "/chosen");
	CHECK(chosen >= 0);
	bootargs = rt_fdt_getprop_string(fdt, chosen, "bootargs");
	CHECK(bootargs != NULL);
	CHECK(rt_fdt_getprop_string(fdt, chosen, "stdout-path") != NULL);
	rt_printf("hello: bootargs=\"%s\"\n", bootargs);

	STEP("/lodger says which mode and which selectors");
	lodger = rt_fdt_path_offset(fdt, LODGER_FDT_NODE);
	CHECK(lodger >= 0);
	CHECK(str_eq(rt_fdt_getprop_string(fdt, lodger, "compatible"), LODGER_FDT_COMPATIBLE));
	mode = rt_fdt_getprop_string(fdt, lodger, LODGER_FDT_PROP_MODE);
	CHECK(mode != NULL);
	CHECK(str_eq(mode, "direct") || str_eq(mode, "shadow"));
	CHECK(rt_fdt_getprop_u32(fdt, lodger, LODGER_FDT_PROP_KERNEL_CS, &kernel_cs));
	/* The runtime is already running on them, from its own GDT: an exception frame, the
	 * view the guest contract guarantees in both modes, shows them. */
	segs = rt_frame_segments();
	CHECK_EQ(segs.cs, rt_boot.kernel_cs);
	CHECK_EQ(kernel_cs, rt_boot.kernel_cs);
	CHECK_EQ(segs.ss, rt_boot.kernel_ds);

	STEP("a path that is not there is not found");
	CHECK_EQ(rt_fdt_path_offset(fdt, "/no-such-node"), (uint64_t)-1);
	CHECK_EQ(rt_fdt_path_offset(fdt, "/chosen/bootargs"), (uint64_t)-1);

	/* With `wait-for-key` (tests/console), the guest keeps running until a key reaches
	 * its UART, so a test can signal lodger while a guest runs. */
	char flag[2];
	if (rt_bootarg("wait-for-key", flag, sizeof(flag))) {
		rt_printf("hello: waiting for a key\n");
		while (!(inb(LODGER_UART_PORT + 5) & 1)) /* LSR.DR */
			__asm__ volatile("pause");
		rt_printf("hello: key %#x\n", inb(LODGER_UART_PORT));
	}

	DONE();
}
