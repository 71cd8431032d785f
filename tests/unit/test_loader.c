/*
 * test_loader.c - the ELF64 loader (src/boot/loader.c) on images built in memory, and
 * load_file on the file system.
 *
 * Each image is an Elf64_Ehdr, its program headers right after it, then payload at
 * PAYLOAD_OFF. Guest RAM is a calloc'd 4 MiB buffer with the last 256 KiB reserved, as
 * vm_load does.
 */
#include <criterion/criterion.h>
#include <elf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot/loader.h"

#define RAM_SIZE    (4ULL << 20)
#define RSV_SIZE    (256ULL << 10)
#define RSV_START   (RAM_SIZE - RSV_SIZE)
#define MAX_PHDRS   4
#define PAYLOAD_OFF 0x200
#define IMAGE_MAX   0x2000

/* The default good segment: loaded at 1 MiB, linked in the higher half. */
#define SEG_PADDR  0x100000ULL
#define SEG_VADDR  0xffffffff80100000ULL
#define SEG_FILESZ 0x100ULL
#define SEG_MEMSZ  0x300ULL
#define ENTRY	   (SEG_PADDR + 0x10)

struct image {
	uint8_t buf[IMAGE_MAX];
	size_t len;
	Elf64_Ehdr *eh;
	Elf64_Phdr *ph;
};

static struct image img;
static struct guest_mem mem;
static const struct mem_range reserved[] = {{RSV_START, RSV_SIZE}};
static struct boot_image out;
static char err[256];

/* A valid ET_EXEC image with `nph` program headers, the first being the default segment
 * and the others PT_NULL; the payload is SEG_FILESZ bytes of a counting pattern. */
static void image_init(unsigned nph)
{
	memset(&img, 0, sizeof(img));
	img.eh = (Elf64_Ehdr *)img.buf;
	img.ph = (Elf64_Phdr *)(img.buf + sizeof(Elf64_Ehdr));
	memcpy(img.eh->e_ident, ELFMAG, SELFMAG);
	img.eh->e_ident[EI_CLASS] = ELFCLASS64;
	img.eh->e_ident[EI_DATA] = ELFDATA2LSB;
	img.eh->e_ident[EI_VERSION] = EV_CURRENT;
	img.eh->e_type = ET_EXEC;
	img.eh->e_machine = EM_X86_64;
	img.eh->e_version = EV_CURRENT;
	img.eh->e_entry = ENTRY;
	img.eh->e_phoff = sizeof(Elf64_Ehdr);
	img.eh->e_ehsize = sizeof(Elf64_Ehdr);
	img.eh->e_phentsize = sizeof(Elf64_Phdr);
	img.eh->e_phnum = nph;
	img.ph[0] = (Elf64_Phdr){
		.p_type = PT_LOAD,
		.p_flags = PF_R | PF_X,
		.p_offset = PAYLOAD_OFF,
		.p_vaddr = SEG_VADDR,
		.p_paddr = SEG_PADDR,
		.p_filesz = SEG_FILESZ,
		.p_memsz = SEG_MEMSZ,
		.p_align = 0x1000,
	};
	for (unsigned i = 0; i < IMAGE_MAX - PAYLOAD_OFF; i++)
		img.buf[PAYLOAD_OFF + i] = (uint8_t)(i + 1);
	img.len = PAYLOAD_OFF + 0x1000;
}

/* Sets program header i to a PT_LOAD of `filesz` bytes at file offset `off`. */
static void set_load(unsigned i, uint64_t paddr, uint64_t off, uint64_t filesz, uint64_t memsz)
{
	img.ph[i] = (Elf64_Phdr){
		.p_type = PT_LOAD,
		.p_flags = PF_R | PF_W,
		.p_offset = off,
		.p_vaddr = paddr + 0xffffffff80000000ULL,
		.p_paddr = paddr,
		.p_filesz = filesz,
		.p_memsz = memsz,
		.p_align = 0x1000,
	};
}

static void setup(void)
{
	memset(&mem, 0, sizeof(mem));
	mem.ram = calloc(1, RAM_SIZE);
	cr_assert_not_null(mem.ram, "calloc failed");
	mem.ram_size = RAM_SIZE;
	memset(&out, 0, sizeof(out));
	memset(err, 0, sizeof(err));
	image_init(1);
}

static void teardown(void)
{
	free(mem.ram);
}

TestSuite(elf_load, .init = setup, .fini = teardown);
TestSuite(load_file);

static int load(void)
{
	return elf_load(img.buf, img.len, &mem, reserved, 1, &out, err, sizeof(err));
}

#define assert_fails_with(word)                                                                    \
	do {                                                                                       \
		int r_ = load();                                                                   \
		cr_assert_eq(r_, -1, "expected -1, got %d", r_);                                   \
		cr_assert(strstr(err, (word)), "expected an error mentioning \"%s\", got \"%s\"",  \
			  (word), err);                                                            \
	} while (0)

/* Good images */

Test(elf_load, a_good_image_loads_at_its_physical_address)
{
	int r = load();

	cr_assert_eq(r, 0, "expected 0, got %d (%s)", r, err);
	for (unsigned i = 0; i < SEG_FILESZ; i++)
		cr_assert_eq(mem.ram[SEG_PADDR + i], (uint8_t)(i + 1),
			     "byte %u at p_paddr: expected %#x, got %#x", i, (uint8_t)(i + 1),
			     mem.ram[SEG_PADDR + i]);
}

Test(elf_load, a_good_image_reports_its_entry_and_extent)
{
	int r = load();

	cr_assert_eq(r, 0, "expected 0, got %d (%s)", r, err);
	cr_assert_eq(out.entry, ENTRY, "expected entry %#llx, got %#llx", ENTRY,
		     (unsigned long long)out.entry);
	cr_assert_eq(out.low, SEG_PADDR, "expected low %#llx, got %#llx", SEG_PADDR,
		     (unsigned long long)out.low);
	cr_assert_eq(out.high, SEG_PADDR + SEG_MEMSZ, "expected high %#llx, got %#llx",
		     SEG_PADDR + SEG_MEMSZ, (unsigned long long)out.high);
}

Test(elf_load, bss_beyond_the_file_size_is_zeroed)
{
	int r;

	memset(mem.ram, 0x5a, RAM_SIZE);
	r = load();
	cr_assert_eq(r, 0, "expected 0, got %d (%s)", r, err);
	for (uint64_t i = SEG_FILESZ; i < SEG_MEMSZ; i++)
		cr_assert_eq(mem.ram[SEG_PADDR + i], 0, "bss byte +%#llx: expected 0, got %#x",
			     (unsigned long long)i, mem.ram[SEG_PADDR + i]);
	cr_assert_eq(mem.ram[SEG_PADDR + SEG_MEMSZ], 0x5a,
		     "expected the byte past the segment untouched (0x5a), got %#x",
		     mem.ram[SEG_PADDR + SEG_MEMSZ]);
	cr_assert_eq(mem.ram[SEG_PADDR - 1], 0x5a,
		     "expected the byte before the segment untouched (0x5a), got %#x",
		     mem.ram[SEG_PADDR - 1]);
}

Test(elf_load, nothing_is_written_at_the_virtual_address)
{
	int r;

	/* p_vaddr's low bits, taken as a physical address, are inside RAM: make sure the
	 * loader used p_paddr and not a truncated p_vaddr. */
	img.ph[0].p_vaddr = 0x200000;
	r = load();
	cr_assert_eq(r, 0, "expected 0, got %d (%s)", r, err);
	cr_assert_eq(mem.ram[0x200000], 0, "expected nothing at p_vaddr, got %#x",
		     mem.ram[0x200000]);
	cr_assert_eq(mem.ram[SEG_PADDR], 1, "expected the image at p_paddr, got %#x",
		     mem.ram[SEG_PADDR]);
}

Test(elf_load, several_segments_load_and_the_extent_covers_them_all)
{
	int r;

	image_init(3);
	set_load(1, 0x300000, PAYLOAD_OFF + 0x800, 0x10, 0x1000);
	img.ph[2].p_type = PT_NOTE; /* ignored */
	img.ph[2].p_offset = UINT64_MAX;
	img.ph[2].p_filesz = 0x1000;
	r = load();
	cr_assert_eq(r, 0, "expected 0, got %d (%s)", r, err);
	cr_assert_eq(mem.ram[0x300000], (uint8_t)(0x800 + 1), "expected %#x at 0x300000, got %#x",
		     (uint8_t)(0x800 + 1), mem.ram[0x300000]);
	cr_assert_eq(out.low, SEG_PADDR, "expected low %#llx, got %#llx", SEG_PADDR,
		     (unsigned long long)out.low);
	cr_assert_eq(out.high, 0x301000ULL, "expected high 0x301000, got %#llx",
		     (unsigned long long)out.high);
}

Test(elf_load, a_segment_just_below_reserved_ram_is_accepted)
{
	int r;

	image_init(2);
	set_load(1, RSV_START - 0x1000, PAYLOAD_OFF, 0x10, 0x1000);
	r = load();
	cr_assert_eq(r, 0, "expected a segment ending at the reserved range accepted, got %d (%s)",
		     r, err);
}

Test(elf_load, a_segment_ending_at_the_end_of_ram_is_accepted_without_reserved_ranges)
{
	int r;

	image_init(2);
	set_load(1, RAM_SIZE - 0x1000, PAYLOAD_OFF, 0x10, 0x1000);
	r = elf_load(img.buf, img.len, &mem, NULL, 0, &out, err, sizeof(err));
	cr_assert_eq(r, 0, "expected 0, got %d (%s)", r, err);
}

/* Not an ELF64 x86-64 executable */

Test(elf_load, a_text_file_is_not_an_elf)
{
	static const char text[] = "#!/bin/sh\necho this is not a kernel\n";
	int r = elf_load((const uint8_t *)text, sizeof(text) - 1, &mem, reserved, 1, &out, err,
			 sizeof(err));

	cr_assert_eq(r, -1, "expected -1, got %d", r);
	cr_assert(strstr(err, "not an ELF"), "expected \"not an ELF\", got \"%s\"", err);
}

Test(elf_load, an_empty_file_is_not_an_elf)
{
	img.len = 0;
	assert_fails_with("not an ELF");
}

Test(elf_load, a_file_shorter_than_the_elf_magic_is_not_an_elf)
{
	img.len = 3;
	assert_fails_with("not an ELF");
}

Test(elf_load, a_file_cut_inside_the_elf_header_is_refused)
{
	img.len = sizeof(Elf64_Ehdr) - 1;
	assert_fails_with("truncated");
}

Test(elf_load, a_32_bit_elf_is_refused_as_not_elfclass64)
{
	img.eh->e_ident[EI_CLASS] = ELFCLASS32;
	assert_fails_with("64");
	cr_assert(strstr(err, "ELFCLASS64") || strstr(err, "64-bit"),
		  "expected ELFCLASS64 or 64-bit, got \"%s\"", err);
}

Test(elf_load, a_big_endian_elf_is_refused)
{
	img.eh->e_ident[EI_DATA] = ELFDATA2MSB;
	assert_fails_with("little-endian");
}

Test(elf_load, an_aarch64_elf_is_refused_as_not_x86_64)
{
	img.eh->e_machine = EM_AARCH64;
	assert_fails_with("x86-64");
}

Test(elf_load, a_shared_object_is_refused)
{
	img.eh->e_type = ET_DYN;
	assert_fails_with("ET_EXEC");
}

Test(elf_load, a_wrong_program_header_size_is_refused)
{
	img.eh->e_phentsize = sizeof(Elf64_Phdr) - 8;
	assert_fails_with("program header size");
}

Test(elf_load, an_image_without_program_headers_is_refused)
{
	img.eh->e_phnum = 0;
	assert_fails_with("no program headers");
}

/* Offsets and sizes outside the file */

Test(elf_load, program_headers_past_the_end_of_the_file_are_refused)
{
	img.eh->e_phoff = img.len - sizeof(Elf64_Phdr) + 1;
	assert_fails_with("outside the file");
}

Test(elf_load, too_many_program_headers_for_the_file_are_refused)
{
	img.eh->e_phnum = 0xffff;
	assert_fails_with("outside the file");
}

Test(elf_load, a_program_header_offset_that_wraps_is_refused)
{
	img.eh->e_phoff = UINT64_MAX - 8;
	assert_fails_with("outside the file");
}

Test(elf_load, segment_data_past_the_end_of_the_file_is_refused)
{
	img.ph[0].p_offset = img.len - SEG_FILESZ + 1;
	assert_fails_with("outside the file");
}

Test(elf_load, a_segment_offset_that_wraps_is_refused)
{
	img.ph[0].p_offset = UINT64_MAX - 0x10;
	assert_fails_with("outside the file");
}

Test(elf_load, a_file_size_larger_than_the_memory_size_is_refused)
{
	img.ph[0].p_filesz = SEG_MEMSZ + 1;
	assert_fails_with("file size larger than memory size");
}

/* Where segments go */

Test(elf_load, a_segment_past_the_end_of_ram_is_refused)
{
	img.ph[0].p_paddr = RAM_SIZE - 0x100;
	img.eh->e_entry = RAM_SIZE - 0x100;
	assert_fails_with("outside guest RAM");
}

Test(elf_load, a_segment_entirely_above_ram_is_refused)
{
	img.ph[0].p_paddr = 0x100000000ULL;
	img.eh->e_entry = 0x100000000ULL;
	assert_fails_with("outside guest RAM");
}

Test(elf_load, a_segment_wrapping_past_two_to_the_64_is_refused)
{
	img.ph[0].p_paddr = UINT64_MAX - 0xff;
	img.eh->e_entry = UINT64_MAX - 0xff;
	assert_fails_with("outside guest RAM");
}

Test(elf_load, a_segment_reaching_into_reserved_ram_is_refused)
{
	image_init(2);
	set_load(1, RSV_START - 0x1000, PAYLOAD_OFF, 0x10, 0x1001);
	assert_fails_with("reserved");
}

Test(elf_load, a_segment_inside_reserved_ram_is_refused)
{
	img.ph[0].p_paddr = RSV_START + 0x1000;
	img.eh->e_entry = RSV_START + 0x1000;
	assert_fails_with("reserved");
}

Test(elf_load, an_image_without_pt_load_is_refused)
{
	img.ph[0].p_type = PT_NOTE;
	assert_fails_with("PT_LOAD");
}

Test(elf_load, an_image_whose_only_pt_load_is_empty_is_refused)
{
	img.ph[0].p_filesz = 0;
	img.ph[0].p_memsz = 0;
	assert_fails_with("PT_LOAD");
}

Test(elf_load, an_entry_just_past_the_segment_is_refused)
{
	img.eh->e_entry = SEG_PADDR + SEG_MEMSZ;
	assert_fails_with("entry");
}

Test(elf_load, an_entry_given_as_a_virtual_address_is_refused)
{
	img.eh->e_entry = SEG_VADDR + 0x10;
	assert_fails_with("entry");
}

Test(elf_load, an_entry_in_the_bss_is_accepted)
{
	int r;

	img.eh->e_entry = SEG_PADDR + SEG_MEMSZ - 1;
	r = load();
	cr_assert_eq(r, 0, "expected an entry in the last byte of memsz accepted, got %d (%s)", r,
		     err);
}

Test(elf_load, a_bad_image_leaves_ram_untouched)
{
	int r;

	/* Segment 0 is good and would be copied first; segment 1 lies outside RAM. */
	image_init(2);
	set_load(1, RAM_SIZE - 0x10, PAYLOAD_OFF, 0x10, 0x20);
	memset(mem.ram, 0x5a, RAM_SIZE);
	r = load();
	cr_assert_eq(r, -1, "expected -1, got %d", r);
	for (uint64_t i = 0; i < RAM_SIZE; i++)
		if (mem.ram[i] != 0x5a)
			cr_assert_fail("expected RAM untouched (0x5a), byte %#llx is %#x",
				       (unsigned long long)i, mem.ram[i]);
}

Test(elf_load, a_bad_entry_leaves_ram_untouched)
{
	int r;

	memset(mem.ram, 0x5a, RAM_SIZE);
	img.eh->e_entry = 0x10;
	r = load();
	cr_assert_eq(r, -1, "expected -1, got %d", r);
	cr_assert_eq(mem.ram[SEG_PADDR], 0x5a, "expected RAM untouched (0x5a), got %#x",
		     mem.ram[SEG_PADDR]);
}

Test(elf_load, the_error_message_fits_a_small_buffer)
{
	char small[8];
	int r;

	memset(small, 'x', sizeof(small));
	img.eh->e_machine = EM_AARCH64;
	r = elf_load(img.buf, img.len, &mem, reserved, 1, &out, small, sizeof(small));
	cr_assert_eq(r, -1, "expected -1, got %d", r);
	cr_assert_eq(small[sizeof(small) - 1], '\0', "expected a terminated, truncated message");
}

/* load_file */

Test(load_file, reads_a_whole_file)
{
	char path[] = "/tmp/lodger-test-loader-XXXXXX";
	static const char content[] = "\177ELF and some more bytes";
	uint8_t *buf = NULL;
	size_t len = 0;
	int fd = mkstemp(path);
	int r;

	cr_assert_geq(fd, 0, "mkstemp failed");
	cr_assert_eq(write(fd, content, sizeof(content)), (ssize_t)sizeof(content), "write");
	close(fd);
	r = load_file(path, &buf, &len, err, sizeof(err));
	unlink(path);
	cr_assert_eq(r, 0, "expected 0, got %d (%s)", r, err);
	cr_assert_eq(len, sizeof(content), "expected %zu bytes, got %zu", sizeof(content), len);
	cr_assert_arr_eq(buf, content, sizeof(content), "expected the file's bytes");
	free(buf);
}

Test(load_file, reads_an_empty_file_as_zero_bytes)
{
	char path[] = "/tmp/lodger-test-loader-XXXXXX";
	uint8_t *buf = NULL;
	size_t len = 99;
	int fd = mkstemp(path);
	int r;

	cr_assert_geq(fd, 0, "mkstemp failed");
	close(fd);
	r = load_file(path, &buf, &len, err, sizeof(err));
	unlink(path);
	cr_assert_eq(r, 0, "expected 0, got %d (%s)", r, err);
	cr_assert_eq(len, 0, "expected 0 bytes, got %zu", len);
	free(buf);
}

Test(load_file, a_missing_file_is_an_error_naming_the_cause)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int r = load_file("/nonexistent/lodger/kernel.elf", &buf, &len, err, sizeof(err));

	cr_assert_eq(r, -1, "expected -1, got %d", r);
	cr_assert(strstr(err, "No such file"), "expected \"No such file\", got \"%s\"", err);
}

Test(load_file, a_directory_is_refused)
{
	char dir[] = "/tmp/lodger-test-dir-XXXXXX";
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	cr_assert_not_null(mkdtemp(dir), "mkdtemp failed");
	r = load_file(dir, &buf, &len, err, sizeof(err));
	rmdir(dir);
	cr_assert_eq(r, -1, "expected -1, got %d", r);
	cr_assert(strstr(err, "not a regular file"), "expected \"not a regular file\", got \"%s\"",
		  err);
}
