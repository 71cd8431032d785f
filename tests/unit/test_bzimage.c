/*
 * test_bzimage.c - Linux bzImages built in memory (a small ELF64 compressed with liblzma,
 * zlib or libzstd behind a boot setup header), taken apart by src/boot/bzimage.c; the
 * naming of every other format (src/boot/imagekind.c); kernel_load's dispatch; and
 * load_file_max on FIFOs and files larger than its bound.
 */
#include <asm/bootparam.h>
#include <criterion/criterion.h>
#include <elf.h>
#include <fcntl.h>
#include <lzma.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xen/elfnote.h>
#include <zlib.h>
#include <zstd.h>

#include "boot/bzimage.h"
#include "boot/imagekind.h"
#include "boot/loader.h"

#define RAM_SIZE    (4ULL << 20)
#define SETUP_SECTS 1
#define PM_START    ((SETUP_SECTS + 1) * 512)
#define PAYLOAD_OFF 0x40
#define ELF_MAX	    0x3000
#define BZ_MAX	    (64 << 10)
#define RELEASE	    "6.1.0-99-amd64"

enum notes { NOTES_NONE, NOTES_LINUX, NOTES_XEN };

static uint8_t elf[ELF_MAX];
static size_t elf_len;
static uint8_t bz[BZ_MAX];
static size_t bz_len;
static char err[256];

/* Appends one 4-byte-aligned note to p; returns its size. */
static size_t put_note(uint8_t *p, const char *name, uint32_t type, uint64_t desc)
{
	Elf64_Nhdr nh = {.n_namesz = strlen(name) + 1, .n_descsz = 8, .n_type = type};
	size_t name_room = (nh.n_namesz + 3) & ~3U;

	memcpy(p, &nh, sizeof(nh));
	memset(p + sizeof(nh), 0, name_room);
	memcpy(p + sizeof(nh), name, nh.n_namesz);
	memcpy(p + sizeof(nh) + name_room, &desc, 8);
	return sizeof(nh) + name_room + 8;
}

/*
 * A loadable ELF64 kernel: one PT_LOAD of 0x1000 counting bytes at 1 MiB, and a PT_NOTE
 * with a GNU note, then a "Linux" note, then (NOTES_XEN) Xen GUEST_OS and ENTRY notes.
 */
static void make_elf(enum notes notes)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)elf;
	Elf64_Phdr *ph = (Elf64_Phdr *)(elf + sizeof(*eh));
	size_t note_off = sizeof(*eh) + 2 * sizeof(*ph), n = 0;

	memset(elf, 0, sizeof(elf));
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_EXEC;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_entry = 0x100000;
	eh->e_phoff = sizeof(*eh);
	eh->e_ehsize = sizeof(*eh);
	eh->e_phentsize = sizeof(*ph);
	eh->e_phnum = 2;
	n += put_note(elf + note_off + n, "GNU", 3, 0x1234);
	if (notes != NOTES_NONE)
		n += put_note(elf + note_off + n, "Linux", 0x100, 0);
	if (notes == NOTES_XEN) {
		n += put_note(elf + note_off + n, "Xen", XEN_ELFNOTE_GUEST_OS, 0x78756e696c);
		n += put_note(elf + note_off + n, "Xen", XEN_ELFNOTE_ENTRY, 0xffffffff81000000);
	}
	ph[0] = (Elf64_Phdr){.p_type = PT_LOAD,
			     .p_flags = PF_R | PF_X,
			     .p_offset = 0x1000,
			     .p_vaddr = 0x100000,
			     .p_paddr = 0x100000,
			     .p_filesz = 0x1000,
			     .p_memsz = 0x1000,
			     .p_align = 0x1000};
	ph[1] = (Elf64_Phdr){.p_type = PT_NOTE,
			     .p_flags = PF_R,
			     .p_offset = note_off,
			     .p_filesz = n,
			     .p_align = 4};
	for (unsigned i = 0; i < 0x1000; i++)
		elf[0x1000 + i] = (uint8_t)(i * 7 + 1);
	elf_len = 0x2000;
}

static size_t compress_xz(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	size_t pos = 0;
	lzma_ret r = lzma_easy_buffer_encode(6, LZMA_CHECK_CRC32, NULL, in, n, out, &pos, cap);

	cr_assert_eq(r, LZMA_OK, "lzma_easy_buffer_encode: %d", r);
	return pos;
}

static size_t compress_gzip(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	z_stream s;

	memset(&s, 0, sizeof(s));
	cr_assert_eq(deflateInit2(&s, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
	s.next_in = (Bytef *)in;
	s.avail_in = n;
	s.next_out = out;
	s.avail_out = cap;
	cr_assert_eq(deflate(&s, Z_FINISH), Z_STREAM_END);
	deflateEnd(&s);
	return cap - s.avail_out;
}

static size_t compress_zstd(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	/* With a checksum, as Linux's `zstd -22 --ultra` writes it. */
	ZSTD_CCtx *c = ZSTD_createCCtx();
	size_t r;

	cr_assert_not_null(c);
	ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 19);
	ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
	r = ZSTD_compress2(c, out, cap, in, n);
	ZSTD_freeCCtx(c);
	cr_assert(!ZSTD_isError(r), "ZSTD_compress2: %s", ZSTD_getErrorName(r));
	return r;
}

/*
 * Wraps `payload` (n bytes) in a bzImage: setup header (protocol 2.15, setup_sects 1,
 * kernel_version), payload_offset PAYLOAD_OFF into the protected-mode part, and the
 * declared decompressed size appended as Linux's size_append does.
 */
static void make_bz(const uint8_t *payload, size_t n, uint32_t declared)
{
	struct boot_params bp;

	memset(bz, 0, sizeof(bz));
	memset(&bp, 0, sizeof(bp));
	bp.hdr.setup_sects = SETUP_SECTS;
	bp.hdr.boot_flag = 0xaa55;
	memcpy(&bp.hdr.header, "HdrS", 4);
	bp.hdr.version = 0x020f;
	bp.hdr.kernel_version = 0x100; /* the string at 0x300 */
	bp.hdr.payload_offset = PAYLOAD_OFF;
	bp.hdr.payload_length = n + 4;
	memcpy(bz, &bp, 0x300);
	strcpy((char *)bz + 0x300, RELEASE " (test@lodger) #1 SMP");
	cr_assert(PM_START + PAYLOAD_OFF + n + 4 <= sizeof(bz), "payload too large for the test");
	memcpy(bz + PM_START + PAYLOAD_OFF, payload, n);
	memcpy(bz + PM_START + PAYLOAD_OFF + n, &declared, 4);
	bz_len = PM_START + PAYLOAD_OFF + n + 4;
}

static void make_bz_with(size_t (*compress)(const uint8_t *, size_t, uint8_t *, size_t))
{
	static uint8_t c[BZ_MAX];

	make_bz(c, compress(elf, elf_len, c, sizeof(c) - 0x1000), elf_len);
}

static void assert_extracts_the_elf(void)
{
	uint8_t *out = NULL;
	size_t n = 0;
	int r = bzimage_extract(bz, bz_len, RAM_SIZE, &out, &n, err, sizeof(err));

	cr_assert_eq(r, 0, "expected 0, got %d (%s)", r, err);
	cr_assert_eq(n, elf_len, "expected %zu bytes, got %zu", elf_len, n);
	cr_assert(memcmp(out, elf, n) == 0, "the extracted ELF differs from the original");
	free(out);
}

static void assert_refused(uint64_t limit, const char *word)
{
	uint8_t *out = (uint8_t *)1;
	int r = bzimage_extract(bz, bz_len, limit, &out, &(size_t){0}, err, sizeof(err));

	cr_assert_eq(r, -1, "expected -1, got %d", r);
	cr_assert(strstr(err, word), "expected an error naming \"%s\", got \"%s\"", word, err);
	cr_assert(!strchr(err, '\n'), "expected one line, got \"%s\"", err);
	cr_assert_eq(out, (uint8_t *)1, "the output pointer was written on failure");
}

static void setup(void)
{
	make_elf(NOTES_LINUX);
	memset(err, 0, sizeof(err));
}

TestSuite(bzimage, .init = setup);

Test(bzimage, an_xz_payload_decompresses_to_the_elf)
{
	make_bz_with(compress_xz);
	assert_extracts_the_elf();
}

Test(bzimage, a_gzip_payload_decompresses_to_the_elf)
{
	make_bz_with(compress_gzip);
	assert_extracts_the_elf();
}

Test(bzimage, a_zstd_payload_decompresses_to_the_elf)
{
	make_bz_with(compress_zstd);
	assert_extracts_the_elf();
}

Test(bzimage, the_release_is_the_first_word_of_kernel_version)
{
	char rel[64];

	make_bz_with(compress_xz);
	bzimage_release(bz, bz_len, rel, sizeof(rel));
	cr_assert_str_eq(rel, RELEASE);
}

Test(bzimage, the_other_linux_compressions_are_refused_by_name)
{
	static const struct {
		const char *magic;
		const char *name;
	} other[] = {{"BZh91AY", "bzip2"},
		     {"\x5d\x00\x00\x80\x00", "lzma"},
		     {"\x89LZO\x00", "lzo"},
		     {"\x02\x21\x4c\x18\x00", "lz4"}};

	for (unsigned i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		uint8_t p[64] = {0};

		memcpy(p, other[i].magic, strlen(other[i].magic) + 1);
		make_bz(p, sizeof(p), 0x1000);
		assert_refused(RAM_SIZE, other[i].name);
	}
}

Test(bzimage, an_unknown_payload_is_refused)
{
	uint8_t p[64];

	memset(p, 0xa5, sizeof(p));
	make_bz(p, sizeof(p), 0x1000);
	assert_refused(RAM_SIZE, "unknown format");
}

Test(bzimage, a_payload_beyond_the_end_of_the_file_is_refused)
{
	make_bz_with(compress_xz);
	bz_len -= 100; /* the file cut short: payload_length now reaches past its end */
	assert_refused(RAM_SIZE, "outside the file");
	bz_len += 100;
	((struct boot_params *)bz)->hdr.payload_offset = 0xfffffff0;
	assert_refused(RAM_SIZE, "outside the file");
}

Test(bzimage, a_truncated_stream_is_refused)
{
	static uint8_t c[BZ_MAX];
	size_t (*each[])(const uint8_t *, size_t, uint8_t *, size_t) = {compress_xz, compress_gzip,
									compress_zstd};

	for (unsigned i = 0; i < 3; i++) {
		size_t n = each[i](elf, elf_len, c, sizeof(c) - 0x1000);

		make_bz(c, n / 2, elf_len); /* half the stream, then the size */
		assert_refused(RAM_SIZE, i == 0 ? "xz" : i == 1 ? "gzip" : "zstd");
		cr_assert(strstr(err, "truncated") || strstr(err, "corrupt"),
			  "expected truncated or corrupt, got \"%s\"", err);
	}
}

Test(bzimage, a_corrupt_stream_is_refused)
{
	static uint8_t c[BZ_MAX];
	size_t (*each[])(const uint8_t *, size_t, uint8_t *, size_t) = {compress_xz, compress_gzip,
									compress_zstd};

	for (unsigned i = 0; i < 3; i++) {
		size_t n = each[i](elf, elf_len, c, sizeof(c) - 0x1000);

		for (size_t j = n / 3; j < n / 3 + 16; j++)
			c[j] ^= 0x5a;
		make_bz(c, n, elf_len);
		assert_refused(RAM_SIZE, i == 0 ? "xz" : i == 1 ? "gzip" : "zstd");
	}
}

Test(bzimage, a_declared_size_larger_than_ram_is_refused_before_decompressing)
{
	make_bz_with(compress_xz);
	assert_refused(elf_len - 1, "more than guest RAM");
}

Test(bzimage, a_bomb_never_decompresses_past_its_declared_size)
{
	/* 16 MiB of zeros compresses to a few KiB; declared as 8 KiB, under a 4 MiB limit. */
	size_t big = 16 << 20;
	uint8_t *zeros = calloc(1, big);
	size_t (*each[])(const uint8_t *, size_t, uint8_t *, size_t) = {compress_xz, compress_gzip,
									compress_zstd};
	static uint8_t c[BZ_MAX];

	cr_assert_not_null(zeros);
	for (unsigned i = 0; i < 3; i++) {
		size_t n = each[i](zeros, big, c, sizeof(c) - 0x1000);

		make_bz(c, n, 8192);
		assert_refused(RAM_SIZE, "more than its declared");
		/* And honest about its size: refused by the bound, before any work. */
		make_bz(c, n, big);
		assert_refused(RAM_SIZE, "more than guest RAM");
	}
	free(zeros);
}

Test(bzimage, an_old_boot_protocol_is_refused)
{
	make_bz_with(compress_xz);
	((struct boot_params *)bz)->hdr.version = 0x0204;
	assert_refused(RAM_SIZE, "2.08");
}

Test(bzimage, no_cut_of_a_bzimage_crashes)
{
	make_bz_with(compress_xz);
	for (size_t n = 0; n <= bz_len; n += 7) {
		uint8_t *out = NULL;
		size_t len = 0;

		if (bzimage_extract(bz, n, RAM_SIZE, &out, &len, err, sizeof(err)) == 0) {
			cr_assert_eq(n, bz_len, "a file cut to %zu bytes extracted", n);
			free(out);
		}
	}
}

/* What each format is called, and the notes that decide between Linux and Xen PV. */

TestSuite(imagekind, .init = setup);

Test(imagekind, the_notes_decide_the_kind_of_an_elf64)
{
	char what[128];

	make_elf(NOTES_NONE);
	cr_assert_eq(image_identify(elf, elf_len, what, sizeof(what)), IMAGE_ELF64);
	make_elf(NOTES_LINUX);
	cr_assert_eq(image_identify(elf, elf_len, what, sizeof(what)), IMAGE_LINUX_NO_XEN);
	cr_assert(!elf_has_xen_pv_entry(elf, elf_len));
	make_elf(NOTES_XEN);
	cr_assert_eq(image_identify(elf, elf_len, what, sizeof(what)), IMAGE_XEN_PV);
	cr_assert(elf_has_xen_pv_entry(elf, elf_len));
	cr_assert(elf_has_linux_note(elf, elf_len));
}

Test(imagekind, a_note_running_past_its_segment_is_not_read)
{
	make_elf(NOTES_XEN);
	Elf64_Phdr *ph = (Elf64_Phdr *)(elf + sizeof(Elf64_Ehdr));

	ph[1].p_filesz -= 1; /* the ENTRY note's descriptor now ends past the segment */
	cr_assert(!elf_has_xen_pv_entry(elf, elf_len));
	ph[1].p_offset = UINT64_MAX - 8;
	cr_assert(!elf_has_linux_note(elf, elf_len));
}

static void assert_named(const void *buf, size_t len, const char *word)
{
	char what[128];

	cr_assert_eq(image_identify(buf, len, what, sizeof(what)), IMAGE_OTHER,
		     "expected IMAGE_OTHER for %s", word);
	cr_assert(strstr(what, word), "expected \"%s\", got \"%s\"", word, what);
}

Test(imagekind, every_other_format_is_named)
{
	uint8_t b[0x400] = {0};
	uint32_t mb[3] = {0x1badb002, 0, -0x1badb002U};

	make_elf(NOTES_NONE);
	elf[EI_CLASS] = ELFCLASS32;
	assert_named(elf, elf_len, "32-bit ELF");
	memcpy(elf + 0x1000, mb, sizeof(mb));
	assert_named(elf, elf_len, "multiboot");
	memcpy(b + 0x100, mb, sizeof(mb));
	assert_named(b, sizeof(b), "multiboot kernel");
	memset(b, 0, sizeof(b));
	memcpy(b, "MZ", 2);
	b[0x3c] = 0x80;
	memcpy(b + 0x80, "PE\0\0\x64\x86", 6);
	assert_named(b, sizeof(b), "PE/COFF executable for x86-64");
	assert_named("\x1f\x8b\x08\x00", 4, "gzip");
	assert_named("\xfd\x37\x7a\x58\x5a\x00", 6, "xz");
	assert_named("\x28\xb5\x2f\xfd", 4, "zstd");
	assert_named("070701", 6, "cpio");
	assert_named("", 0, "empty");
	for (unsigned i = 0; i < sizeof(b); i++)
		b[i] = (uint8_t)(i * 131 + 17);
	assert_named(b, sizeof(b), "not an ELF file");
}

Test(imagekind, a_bzimage_with_the_efi_stub_is_a_bzimage)
{
	char what[128];

	make_bz_with(compress_xz);
	memcpy(bz, "MZ", 2);
	cr_assert_eq(image_identify(bz, bz_len, what, sizeof(what)), IMAGE_BZIMAGE);
}

/* kernel_load: a plain ELF64 and a bzImage go the same way. */

static struct guest_mem mem;
static const struct mem_range reserved[] = {{RAM_SIZE - 0x40000, 0x40000}};

static int load(const uint8_t *buf, size_t len)
{
	struct boot_image img;

	memset(&mem, 0, sizeof(mem));
	mem.ram = calloc(1, RAM_SIZE);
	mem.ram_size = RAM_SIZE;
	int r = kernel_load(buf, len, &mem, reserved, 1, &img, err, sizeof(err));

	if (!r)
		cr_assert_eq(mem.ram[0x100001], elf[0x1001], "the segment was not loaded");
	free(mem.ram);
	return r;
}

Test(imagekind, an_elf64_without_notes_loads)
{
	make_elf(NOTES_NONE);
	cr_assert_eq(load(elf, elf_len), 0, "%s", err);
}

Test(imagekind, linux_without_xen_notes_is_refused_by_name)
{
	make_elf(NOTES_LINUX);
	cr_assert_eq(load(elf, elf_len), -1);
	cr_assert(strstr(err, "Linux kernel (vmlinux) without Xen PV support"), "%s", err);
	make_elf(NOTES_NONE); /* out of a bzImage, an ELF is Linux, notes or not */
	make_bz_with(compress_xz);
	cr_assert_eq(load(bz, bz_len), -1);
	cr_assert(strstr(err, "Linux kernel (bzImage " RELEASE ") without Xen PV support"), "%s",
		  err);
}

Test(imagekind, a_xen_pv_kernel_reaches_the_xen_branch)
{
	make_elf(NOTES_XEN);
	make_bz_with(compress_xz);
	cr_assert_eq(load(bz, bz_len), -1);
	cr_assert(strstr(err, "Linux kernel (bzImage " RELEASE ") with Xen PV support"), "%s", err);
}

/* load_file_max on what is not a plain file, or too big. */

TestSuite(load_file_max);

Test(load_file_max, a_fifo_is_refused_without_waiting_for_a_writer)
{
	char dir[] = "/tmp/lodger-fifo-XXXXXX", path[64];
	uint8_t *buf;
	size_t len;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/f", dir);
	cr_assert_eq(mkfifo(path, 0600), 0);
	alarm(10); /* a hang fails the test instead of stalling the suite */
	int r = load_file_max(path, RAM_SIZE, &buf, &len, err, sizeof(err));

	alarm(0);
	unlink(path);
	rmdir(dir);
	cr_assert_eq(r, -1);
	cr_assert(strstr(err, "not a regular file (a FIFO)"), "%s", err);
}

Test(load_file_max, a_file_larger_than_the_bound_is_refused_by_its_size)
{
	char path[] = "/tmp/lodger-big-XXXXXX";
	int fd = mkstemp(path);
	uint8_t *buf;
	size_t len;
	struct timespec t0, t1;

	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, 3LL << 30), 0, "a sparse 3 GiB file");
	close(fd);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int r = load_file_max(path, 64 << 20, &buf, &len, err, sizeof(err));

	clock_gettime(CLOCK_MONOTONIC, &t1);
	unlink(path);
	cr_assert_eq(r, -1);
	cr_assert(strstr(err, "larger than guest RAM (64 MiB)"), "%s", err);
	cr_assert_lt(t1.tv_sec - t0.tv_sec, 2, "refusing took %ld s: it read the file",
		     (long)(t1.tv_sec - t0.tv_sec));
}
