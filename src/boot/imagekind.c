/* imagekind.c - naming a kernel image by its magic numbers and its ELF notes. */
#include "boot/imagekind.h"

#include <elf.h>
#include <stdio.h>
#include <string.h>
#include <xen/elfnote.h>

#include "boot/bzimage.h"

static uint32_t le32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

/*
 * Calls match(name, type) for each note of each PT_NOTE segment inside the file; stops
 * and returns true when match does. Every offset is checked against the file.
 */
static bool each_note(const uint8_t *buf, size_t len,
		      bool (*match)(const char *name, uint32_t namesz, uint32_t type))
{
	Elf64_Ehdr eh;

	if (len < sizeof(eh))
		return false;
	memcpy(&eh, buf, sizeof(eh));
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phoff > len ||
	    (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > len - eh.e_phoff)
		return false;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		memcpy(&ph, buf + eh.e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_NOTE || ph.p_offset > len || ph.p_filesz > len - ph.p_offset)
			continue;
		/* Notes are 4-byte aligned, or 8 in a segment that says so (GNU properties). */
		uint64_t align = ph.p_align == 8 ? 8 : 4;
		uint64_t pos = ph.p_offset, end = ph.p_offset + ph.p_filesz;

		while (end - pos >= sizeof(Elf64_Nhdr)) {
			Elf64_Nhdr nh;

			memcpy(&nh, buf + pos, sizeof(nh));
			pos += sizeof(nh);
			uint64_t name_room = (nh.n_namesz + align - 1) & ~(align - 1);
			uint64_t desc_room = (nh.n_descsz + align - 1) & ~(align - 1);

			if (name_room > end - pos || desc_room > end - pos - name_room)
				break;
			if (match((const char *)buf + pos, nh.n_namesz, nh.n_type))
				return true;
			pos += name_room + desc_room;
		}
	}
	return false;
}

static bool name_is(const char *name, uint32_t namesz, const char *want)
{
	size_t n = strlen(want) + 1;

	return namesz == n && memcmp(name, want, n) == 0;
}

static bool xen_entry(const char *name, uint32_t namesz, uint32_t type)
{
	return type == XEN_ELFNOTE_ENTRY && name_is(name, namesz, "Xen");
}

static bool linux_note(const char *name, uint32_t namesz, uint32_t type)
{
	(void)type;
	return name_is(name, namesz, "Linux");
}

bool elf_has_xen_pv_entry(const uint8_t *buf, size_t len)
{
	return each_note(buf, len, xen_entry);
}

bool elf_has_linux_note(const uint8_t *buf, size_t len)
{
	return each_note(buf, len, linux_note);
}

/* A multiboot (1 or 2) header where its specification puts it, checksum included. */
static const char *multiboot(const uint8_t *buf, size_t len)
{
	for (size_t off = 0; off + 12 <= len && off < 8192; off += 4)
		if (le32(buf + off) == 0x1badb002 &&
		    le32(buf + off) + le32(buf + off + 4) + le32(buf + off + 8) == 0)
			return "multiboot";
	for (size_t off = 0; off + 16 <= len && off < 32768; off += 8)
		if (le32(buf + off) == 0xe85250d6 && le32(buf + off) + le32(buf + off + 4) +
								     le32(buf + off + 8) +
								     le32(buf + off + 12) ==
							     0)
			return "multiboot2";
	return NULL;
}

static const char *pe_machine(uint16_t m)
{
	switch (m) {
	case 0x8664:
		return "x86-64";
	case 0x14c:
		return "i386";
	case 0xaa64:
		return "arm64";
	default:
		return "another machine";
	}
}

enum image_kind image_identify(const uint8_t *buf, size_t len, char *what, size_t whatlen)
{
	static const struct {
		const char *magic;
		size_t len;
		const char *name;
	} data[] = {
		{"\x1f\x8b", 2, "gzip-compressed data (a compressed vmlinux? decompress it first)"},
		{"\xfd\x37\x7a\x58\x5a\x00", 6,
		 "xz-compressed data (a compressed vmlinux? decompress it first)"},
		{"\x28\xb5\x2f\xfd", 4,
		 "zstd-compressed data (a compressed vmlinux? decompress it first)"},
		{"BZh", 3, "bzip2-compressed data (a compressed vmlinux? decompress it first)"},
		{"\x04\x22\x4d\x18", 4, "lz4-compressed data"},
		{"\x02\x21\x4c\x18", 4, "lz4-compressed data"},
		{"\x89LZO", 4, "lzo-compressed data"},
		{"070701", 6, "cpio archive (an initramfs? give it with -initrd)"},
		{"070702", 6, "cpio archive (an initramfs? give it with -initrd)"},
		{"#!", 2, "script (not an ELF file)"},
	};
	const char *mb;

	snprintf(what, whatlen, "%s", "");
	if (len >= SELFMAG && memcmp(buf, ELFMAG, SELFMAG) == 0) {
		if (len > EI_CLASS && buf[EI_CLASS] == ELFCLASS32) {
			mb = multiboot(buf, len);
			snprintf(what, whatlen, "32-bit ELF (ELFCLASS32)%s%s", mb ? " with a " : "",
				 mb ? mb : "");
			if (mb)
				strncat(what, " header", whatlen - strlen(what) - 1);
			return IMAGE_OTHER;
		}
		if (elf_has_xen_pv_entry(buf, len))
			return IMAGE_XEN_PV;
		if (elf_has_linux_note(buf, len))
			return IMAGE_LINUX_NO_XEN;
		return IMAGE_ELF64;
	}
	/* Before MZ: a bzImage built with the EFI stub starts with "MZ" too. */
	if (bzimage_detect(buf, len))
		return IMAGE_BZIMAGE;
	if (len >= 0x40 && buf[0] == 'M' && buf[1] == 'Z') {
		uint32_t pe = le32(buf + 0x3c);

		if (pe <= len - 6 && memcmp(buf + pe, "PE\0\0", 4) == 0) {
			uint16_t m = (uint16_t)(buf[pe + 4] | buf[pe + 5] << 8);

			snprintf(what, whatlen, "PE/COFF executable for %s (an EFI application?)",
				 pe_machine(m));
		} else {
			snprintf(what, whatlen, "DOS MZ executable");
		}
		return IMAGE_OTHER;
	}
	if (len >= 0x40 && memcmp(buf + 0x38, "ARM\x64", 4) == 0) {
		snprintf(what, whatlen, "arm64 Linux Image");
		return IMAGE_OTHER;
	}
	for (size_t i = 0; i < sizeof(data) / sizeof(data[0]); i++)
		if (len >= data[i].len && memcmp(buf, data[i].magic, data[i].len) == 0) {
			snprintf(what, whatlen, "%s", data[i].name);
			return IMAGE_OTHER;
		}
	mb = multiboot(buf, len);
	if (mb)
		snprintf(what, whatlen, "%s kernel (a raw image with a %s header)", mb, mb);
	else
		snprintf(what, whatlen, "%s",
			 len ? "not an ELF file nor a Linux bzImage"
			     : "empty file (not an ELF file)");
	return IMAGE_OTHER;
}
