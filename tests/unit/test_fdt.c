/*
 * test_fdt.c - the guest's device tree (src/boot/devtree.c with the real device list),
 * built into a buffer and read back through libfdt.
 */
#include <criterion/criterion.h>
#include <libfdt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "front/config.h"
#include "dev/devices.h"
#include "boot/devtree.h"
#include "lodger/boot.h"
#include "kvm/vm.h"

#define RAM_SIZE (128ULL << 20)
#define BOOTARGS "console=ttyS0 earlyprintk=serial quiet"

static uint8_t fdt[LODGER_FDT_MAX_SIZE];
static struct config cfg;
static struct vm vm;
static char err[256];
static const struct mem_range rsv[2] = {
	{RAM_SIZE - LODGER_RESERVED_SIZE, LODGER_RESERVED_SIZE},
	{0x4000000ULL, 0x123000ULL},
};
static struct fdt_params params;

static void setup(void)
{
	config_init_defaults(&cfg);
	memset(&vm, 0, sizeof(vm));
	vm.cfg = &cfg;
	memset(fdt, 0, sizeof(fdt));
	memset(err, 0, sizeof(err));
	params = (struct fdt_params){
		.ram_size = RAM_SIZE,
		.bootargs = BOOTARGS,
		.mode = MODE_DIRECT,
		.nr_cpus = 1,
		.reserved = rsv,
		.nr_reserved = 1,
	};
}

static void teardown(void)
{
	config_free(&cfg);
}

TestSuite(fdt_build, .init = setup, .fini = teardown);

/* Builds the tree with `params` into `fdt` and checks it is a valid tree. */
static void build(void)
{
	int r = fdt_build(fdt, sizeof(fdt), &params, &vm, devices, nr_devices, err, sizeof(err));

	cr_assert_eq(r, 0, "expected fdt_build to succeed, got %d (%s)", r, err);
	r = fdt_check_header(fdt);
	cr_assert_eq(r, 0, "expected a valid header, got %s", fdt_strerror(r));
}

static int node(const char *path)
{
	int off = fdt_path_offset(fdt, path);

	cr_assert_geq(off, 0, "expected node %s, got %s", path, fdt_strerror(off));
	return off;
}

/* The property's value; fails the test if it is missing or not `len` bytes (len >= 0). */
static const void *prop(const char *path, const char *name, int want_len)
{
	int len;
	const void *v = fdt_getprop(fdt, node(path), name, &len);

	cr_assert_not_null(v, "expected property %s in %s, got %s", name, path, fdt_strerror(len));
	if (want_len >= 0)
		cr_assert_eq(len, want_len, "%s %s: expected %d bytes, got %d", path, name,
			     want_len, len);
	return v;
}

static uint32_t prop_u32(const char *path, const char *name)
{
	return fdt32_to_cpu(*(const fdt32_t *)prop(path, name, 4));
}

static uint64_t prop_u64(const char *path, const char *name)
{
	const fdt32_t *c = prop(path, name, 8);

	return (uint64_t)fdt32_to_cpu(c[0]) << 32 | fdt32_to_cpu(c[1]);
}

static const char *prop_str(const char *path, const char *name)
{
	int len;
	const char *s = fdt_getprop(fdt, node(path), name, &len);

	cr_assert_not_null(s, "expected property %s in %s, got %s", name, path, fdt_strerror(len));
	cr_assert(len > 0 && s[len - 1] == '\0', "expected %s %s to be a string", path, name);
	return s;
}

static bool has_prop(const char *path, const char *name)
{
	return fdt_getprop(fdt, node(path), name, NULL) != NULL;
}

static void assert_isa_reg(const char *path, uint32_t port, uint32_t size)
{
	const fdt32_t *reg = prop(path, "reg", 12);
	uint32_t got[3] = {fdt32_to_cpu(reg[0]), fdt32_to_cpu(reg[1]), fdt32_to_cpu(reg[2])};

	cr_assert(got[0] == 1 && got[1] == port && got[2] == size,
		  "%s reg: expected <1 %#x %#x>, got <%#x %#x %#x>", path, port, size, got[0],
		  got[1], got[2]);
}

Test(fdt_build, builds_a_valid_packed_tree)
{
	build();
	cr_assert_leq(fdt_totalsize(fdt), sizeof(fdt), "expected the tree to fit its buffer");
	cr_assert_eq(fdt_totalsize(fdt), fdt_off_dt_strings(fdt) + fdt_size_dt_strings(fdt),
		     "expected a packed tree: totalsize %u, end of strings %u", fdt_totalsize(fdt),
		     fdt_off_dt_strings(fdt) + fdt_size_dt_strings(fdt));
}

Test(fdt_build, the_root_has_two_address_and_two_size_cells)
{
	uint32_t ac, sc;

	build();
	ac = prop_u32("/", "#address-cells");
	sc = prop_u32("/", "#size-cells");
	cr_assert_eq(ac, 2, "expected #address-cells 2, got %u", ac);
	cr_assert_eq(sc, 2, "expected #size-cells 2, got %u", sc);
}

Test(fdt_build, memory_node_is_typed_memory)
{
	build();
	cr_assert_str_eq(prop_str("/memory@0", "device_type"), "memory",
			 "expected device_type \"memory\"");
}

Test(fdt_build, memory_node_reg_is_base_0_and_the_ram_size_in_64_bit_cells)
{
	const fdt32_t *reg;
	uint32_t c[4];

	build();
	reg = prop("/memory@0", "reg", 16);
	for (int i = 0; i < 4; i++)
		c[i] = fdt32_to_cpu(reg[i]);
	cr_assert(c[0] == 0 && c[1] == 0, "expected base <0 0>, got <%#x %#x>", c[0], c[1]);
	cr_assert(c[2] == (uint32_t)(RAM_SIZE >> 32) && c[3] == (uint32_t)RAM_SIZE,
		  "expected size <%#x %#x>, got <%#x %#x>", (uint32_t)(RAM_SIZE >> 32),
		  (uint32_t)RAM_SIZE, c[2], c[3]);
}

Test(fdt_build, memory_size_above_4g_uses_both_cells)
{
	const fdt32_t *reg;
	uint64_t size;

	params.ram_size = 0x123456789000ULL;
	build();
	reg = prop("/memory@0", "reg", 16); /* cells are 4-byte aligned only */
	size = (uint64_t)fdt32_to_cpu(reg[2]) << 32 | fdt32_to_cpu(reg[3]);
	cr_assert_eq(size, 0x123456789000ULL, "expected size 0x123456789000, got %#llx",
		     (unsigned long long)size);
}

Test(fdt_build, chosen_bootargs_is_the_given_string)
{
	build();
	cr_assert_str_eq(prop_str("/chosen", "bootargs"), BOOTARGS, "expected bootargs \"%s\"",
			 BOOTARGS);
}

Test(fdt_build, chosen_bootargs_is_empty_when_none_is_given)
{
	const char *s;

	params.bootargs = NULL;
	build();
	s = prop_str("/chosen", "bootargs");
	cr_assert_str_eq(s, "", "expected bootargs \"\", got \"%s\"", s);
}

Test(fdt_build, stdout_path_names_the_ns16550a_uart)
{
	const char *path;
	int off, len;
	const char *compat;

	build();
	path = prop_str("/chosen", "stdout-path");
	off = fdt_path_offset(fdt, path);
	cr_assert_geq(off, 0, "expected stdout-path \"%s\" to resolve, got %s", path,
		      fdt_strerror(off));
	compat = fdt_getprop(fdt, off, "compatible", &len);
	cr_assert_not_null(compat, "expected a compatible on %s", path);
	cr_assert_str_eq(compat, "ns16550a", "expected \"ns16550a\", got \"%s\"", compat);
}

Test(fdt_build, serial_none_has_no_uart_and_no_stdout_path)
{
	cfg.serial = SERIAL_NONE;
	build();
	cr_assert_lt(fdt_path_offset(fdt, "/isa/serial@i3f8"), 0,
		     "expected no UART node with -serial none");
	cr_assert_not(has_prop("/chosen", "stdout-path"),
		      "expected no stdout-path with -serial none (it would name a missing node)");
}

Test(fdt_build, the_uart_node_has_its_port_range_and_irq)
{
	uint32_t irq;

	build();
	assert_isa_reg("/isa/serial@i3f8", LODGER_UART_PORT, 8);
	irq = prop_u32("/isa/serial@i3f8", "interrupts");
	cr_assert_eq(irq, LODGER_UART_IRQ, "expected interrupts %d, got %u", LODGER_UART_IRQ, irq);
}

Test(fdt_build, the_reservation_block_lists_exactly_the_given_ranges)
{
	int n;

	params.nr_reserved = 2;
	build();
	n = fdt_num_mem_rsv(fdt);
	cr_assert_eq(n, 2, "expected 2 reservations, got %d", n);
	for (int i = 0; i < 2; i++) {
		uint64_t a, s;
		int r = fdt_get_mem_rsv(fdt, i, &a, &s);

		cr_assert_eq(r, 0, "fdt_get_mem_rsv(%d): %s", i, fdt_strerror(r));
		cr_assert(a == rsv[i].start && s == rsv[i].size,
			  "reservation %d: expected [%#llx, +%#llx), got [%#llx, +%#llx)", i,
			  (unsigned long long)rsv[i].start, (unsigned long long)rsv[i].size,
			  (unsigned long long)a, (unsigned long long)s);
	}
}

Test(fdt_build, the_reservation_block_is_empty_when_nothing_is_reserved)
{
	int n;

	params.nr_reserved = 0;
	build();
	n = fdt_num_mem_rsv(fdt);
	cr_assert_eq(n, 0, "expected 0 reservations, got %d", n);
}

Test(fdt_build, lodger_node_is_compatible_lodger_vmm)
{
	build();
	cr_assert_str_eq(prop_str(LODGER_FDT_NODE, "compatible"), LODGER_FDT_COMPATIBLE,
			 "expected compatible \"%s\"", LODGER_FDT_COMPATIBLE);
}

Test(fdt_build, lodger_node_says_direct_in_direct_mode)
{
	const char *mode;

	params.mode = MODE_DIRECT;
	build();
	mode = prop_str(LODGER_FDT_NODE, LODGER_FDT_PROP_MODE);
	cr_assert_str_eq(mode, "direct", "expected mode \"direct\", got \"%s\"", mode);
}

Test(fdt_build, lodger_node_says_shadow_in_shadow_mode)
{
	const char *mode;

	params.mode = MODE_SHADOW;
	build();
	mode = prop_str(LODGER_FDT_NODE, LODGER_FDT_PROP_MODE);
	cr_assert_str_eq(mode, "shadow", "expected mode \"shadow\", got \"%s\"", mode);
}

Test(fdt_build, lodger_node_gives_the_five_segment_selectors)
{
	static const struct {
		const char *name;
		uint32_t value;
	} sel[] = {
		{LODGER_FDT_PROP_KERNEL_CS, LODGER_SEL_KERNEL_CS},
		{LODGER_FDT_PROP_KERNEL_DS, LODGER_SEL_KERNEL_DS},
		{LODGER_FDT_PROP_USER_CS, LODGER_SEL_USER_CS},
		{LODGER_FDT_PROP_USER_DS, LODGER_SEL_USER_DS},
		{LODGER_FDT_PROP_USER32_CS, LODGER_SEL_USER32_CS},
	};

	build();
	for (unsigned i = 0; i < sizeof(sel) / sizeof(sel[0]); i++) {
		uint32_t v = prop_u32(LODGER_FDT_NODE, sel[i].name);

		cr_assert_eq(v, sel[i].value, "%s: expected %#x, got %#x", sel[i].name,
			     sel[i].value, v);
	}
}

Test(fdt_build, chosen_has_no_initrd_properties_without_an_initrd)
{
	build();
	cr_assert_not(has_prop("/chosen", "linux,initrd-start"),
		      "expected no linux,initrd-start without an initrd");
	cr_assert_not(has_prop("/chosen", "linux,initrd-end"),
		      "expected no linux,initrd-end without an initrd");
}

Test(fdt_build, chosen_gives_the_initrd_start_and_end)
{
	uint64_t start, end;

	params.initrd_start = 0x4000000ULL;
	params.initrd_size = 0x123000ULL;
	build();
	start = prop_u64("/chosen", "linux,initrd-start");
	end = prop_u64("/chosen", "linux,initrd-end");
	cr_assert_eq(start, 0x4000000ULL, "expected initrd-start 0x4000000, got %#llx",
		     (unsigned long long)start);
	cr_assert_eq(end, 0x4123000ULL, "expected initrd-end 0x4123000 (start + size), got %#llx",
		     (unsigned long long)end);
}

Test(fdt_build, cpus_lists_one_node_per_vcpu_with_its_apic_id)
{
	params.nr_cpus = 3;
	build();
	for (unsigned i = 0; i < 3; i++) {
		char path[32];
		uint32_t reg;

		snprintf(path, sizeof(path), "/cpus/cpu@%u", i);
		cr_assert_str_eq(prop_str(path, "device_type"), "cpu",
				 "expected %s device_type \"cpu\"", path);
		reg = prop_u32(path, "reg");
		cr_assert_eq(reg, i, "%s: expected reg %u, got %u", path, i, reg);
	}
	cr_assert_lt(fdt_path_offset(fdt, "/cpus/cpu@3"), 0, "expected no 4th cpu");
}

Test(fdt_build, the_isa_debug_exit_node_has_its_port)
{
	build();
	cr_assert_str_eq(prop_str("/isa/debug-exit@if4", "compatible"), "qemu,isa-debug-exit",
			 "expected compatible \"qemu,isa-debug-exit\"");
	assert_isa_reg("/isa/debug-exit@if4", LODGER_DEBUG_EXIT_PORT, 4);
}

Test(fdt_build, the_poweroff_node_has_its_port)
{
	uint32_t value;

	build();
	assert_isa_reg("/isa/poweroff@i604", LODGER_POWEROFF_PORT, 2);
	value = prop_u32("/isa/poweroff@i604", "value");
	cr_assert_eq(value, LODGER_POWEROFF_VALUE, "expected value %#x, got %#x",
		     LODGER_POWEROFF_VALUE, value);
}

Test(fdt_build, the_pit_node_is_on_the_isa_bus)
{
	int off;

	build();
	off = fdt_path_offset(fdt, "/isa/timer@i40");
	cr_assert_geq(off, 0, "expected /isa/timer@i40, got %s", fdt_strerror(off));
	assert_isa_reg("/isa/timer@i40", 0x40, 4);
}

Test(fdt_build, the_isa_bus_takes_interrupts_from_the_ioapic)
{
	uint32_t parent, phandle;

	build();
	phandle = prop_u32("/interrupt-controller@fec00000", "phandle");
	parent = prop_u32("/isa", "interrupt-parent");
	cr_assert_eq(parent, phandle,
		     "expected /isa interrupt-parent = the IOAPIC's phandle %u, "
		     "got %u",
		     phandle, parent);
}

Test(fdt_build, the_interrupt_controllers_are_under_the_root)
{
	build();
	cr_assert_str_eq(prop_str("/interrupt-controller@fee00000", "compatible"),
			 "intel,ce4100-lapic", "expected the local APIC");
	cr_assert_str_eq(prop_str("/interrupt-controller@fec00000", "compatible"),
			 "intel,ce4100-ioapic", "expected the IOAPIC");
}

Test(fdt_build, a_buffer_too_small_fails_cleanly_with_an_error)
{
	static uint8_t small[512];
	int r = fdt_build(small, sizeof(small), &params, &vm, devices, nr_devices, err,
			  sizeof(err));

	cr_assert_eq(r, -1, "expected -1, got %d", r);
	cr_assert_neq(err[0], '\0', "expected an error message");
	cr_assert(strstr(err, "NOSPACE"), "expected FDT_ERR_NOSPACE, got \"%s\"", err);
}

Test(fdt_build, a_buffer_smaller_than_the_header_fails_cleanly)
{
	static uint8_t tiny[16];
	int r = fdt_build(tiny, sizeof(tiny), &params, &vm, devices, nr_devices, err, sizeof(err));

	cr_assert_eq(r, -1, "expected -1, got %d", r);
	cr_assert_neq(err[0], '\0', "expected an error message");
}

Test(fdt_build, every_buffer_size_up_to_the_needed_one_fails_cleanly)
{
	size_t need;
	int r;

	build();
	need = fdt_totalsize(fdt);
	for (size_t size = 0; size < need; size += 8) {
		uint8_t *buf = malloc(size ? size : 1);

		err[0] = '\0';
		r = fdt_build(buf, size, &params, &vm, devices, nr_devices, err, sizeof(err));
		free(buf);
		cr_assert_eq(r, -1, "size %zu (< %zu): expected -1, got %d", size, need, r);
		cr_assert_neq(err[0], '\0', "size %zu: expected an error message", size);
	}
}

Test(fdt_build, a_huge_bootargs_fails_cleanly_in_the_maximum_size)
{
	size_t n = 100 * 1024;
	char *huge = malloc(n + 1);
	int r;

	cr_assert_not_null(huge, "malloc failed");
	memset(huge, 'a', n);
	huge[n] = '\0';
	params.bootargs = huge;
	r = fdt_build(fdt, LODGER_FDT_MAX_SIZE, &params, &vm, devices, nr_devices, err,
		      sizeof(err));
	free(huge);
	cr_assert_eq(r, -1, "expected -1, got %d", r);
	cr_assert(strstr(err, "NOSPACE"), "expected FDT_ERR_NOSPACE, got \"%s\"", err);
}
