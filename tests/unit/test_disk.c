/*
 * test_disk.c - disks in the machine (src/dev/disk.c): opened from the configuration
 * before KVM, and described in the device tree as virtio-mmio nodes.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot/devtree.h"
#include "dev/devices.h"
#include "dev/disk.h"
#include "front/config.h"
#include "front/exitcode.h"
#include "kvm/vm.h"
#include "lodger/boot.h"

static uint8_t fdt[LODGER_FDT_MAX_SIZE];
static struct config cfg;
static struct vm vm;
static char paths[2][64];

static void make_drives(unsigned n)
{
	char why[CONFIG_WHY_MAX], arg[160];

	config_init_defaults(&cfg);
	for (unsigned i = 0; i < n; i++) {
		int fd;

		snprintf(paths[i], sizeof(paths[i]), "/tmp/lodger-disk-XXXXXX");
		fd = mkstemp(paths[i]);
		cr_assert(fd >= 0);
		cr_assert_eq(ftruncate(fd, 1 << 20), 0);
		close(fd);
		snprintf(arg, sizeof(arg), "file=%s", paths[i]);
		cr_assert_eq(drive_parse(&cfg.drives, arg, why), 0, "%s", why);
	}
	memset(&vm, 0, sizeof(vm));
	vm.cfg = &cfg;
}

static void teardown(void)
{
	disks_close();
	for (unsigned i = 0; i < 2; i++)
		if (paths[i][0])
			unlink(paths[i]);
	config_free(&cfg);
}

TestSuite(disk, .fini = teardown);

static uint64_t cells64(const fdt32_t *p)
{
	return (uint64_t)fdt32_to_cpu(p[0]) << 32 | fdt32_to_cpu(p[1]);
}

Test(disk, each_drive_is_a_virtio_mmio_node)
{
	struct fdt_params p = {.ram_size = 64 << 20, .nr_cpus = 1};
	char err[256];
	int len;

	make_drives(2);
	cr_assert_eq(disks_open(&vm), 0);
	cr_assert_eq(fdt_build(fdt, sizeof(fdt), &p, &vm, devices, nr_devices, err, sizeof(err)), 0,
		     "%s", err);
	for (unsigned i = 0; i < 2; i++) {
		char path[48];
		uint64_t base = LODGER_VIRTIO_MMIO_BASE + i * LODGER_VIRTIO_MMIO_STRIDE;

		snprintf(path, sizeof(path), "/virtio_mmio@%llx", (unsigned long long)base);
		int node = fdt_path_offset(fdt, path);
		cr_assert(node >= 0, "no %s", path);
		cr_assert_str_eq(fdt_getprop(fdt, node, "compatible", NULL), "virtio,mmio");
		const fdt32_t *reg = fdt_getprop(fdt, node, "reg", &len);
		cr_assert_eq(len, 16);
		cr_assert_eq(cells64(reg), base);
		cr_assert_eq(cells64(reg + 2), 0x200u);
		const fdt32_t *irq = fdt_getprop(fdt, node, "interrupts", &len);
		cr_assert_eq(len, 8);
		cr_assert_eq(fdt32_to_cpu(irq[0]), LODGER_VIRTIO_MMIO_IRQ_BASE + i);
		cr_assert_eq(fdt32_to_cpu(irq[1]), 1u, "level, active high");
		const fdt32_t *parent = fdt_getprop(fdt, node, "interrupt-parent", &len);
		int ioapic = fdt_path_offset(fdt, "/interrupt-controller@fec00000");
		cr_assert_eq(fdt32_to_cpu(*parent), fdt_get_phandle(fdt, ioapic));
		/* outside RAM, inside the device window, clear of the IOAPIC and LAPIC */
		cr_assert(base >= LODGER_RAM_MAX && base >= LODGER_DEVICE_WINDOW);
		cr_assert(base + 0x200 <= LODGER_IOAPIC_BASE);
	}
	cr_assert_lt(fdt_path_offset(fdt, "/virtio_mmio@d0000400"), 0);
}

Test(disk, no_drive_no_node)
{
	struct fdt_params p = {.ram_size = 64 << 20, .nr_cpus = 1};
	char err[256];

	make_drives(0);
	cr_assert_eq(disks_open(&vm), 0);
	cr_assert_eq(fdt_build(fdt, sizeof(fdt), &p, &vm, devices, nr_devices, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_lt(fdt_path_offset(fdt, "/virtio_mmio@d0000000"), 0);
}

Test(disk, a_bad_image_is_a_bad_image, .init = cr_redirect_stderr)
{
	char why[CONFIG_WHY_MAX];

	make_drives(1);
	cr_assert_eq(drive_parse(&cfg.drives, "file=/nonexistent/x.img", why), 0);
	cr_assert_eq(disks_open(&vm), EXIT_BAD_IMAGE);
	fflush(stderr);
	cr_assert_stderr_eq_str("lodger: drive /nonexistent/x.img: No such file or directory\n");
}
