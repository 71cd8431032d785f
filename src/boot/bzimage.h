/*
 * bzimage.h - the Linux x86 bzImage as shipped: its boot setup header, and the vmlinux ELF
 * compressed inside it (Linux's Documentation/arch/x86/boot.rst).
 *
 * The protected-mode part starts at (setup_sects + 1) * 512; the payload lies at
 * payload_offset into it, payload_length bytes long, and ends with the decompressed size
 * as a little-endian u32 (Linux's size_append). Everything in the file is untrusted.
 */
#ifndef LODGER_BZIMAGE_H
#define LODGER_BZIMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Whether buf carries a bzImage setup header ("HdrS" at 0x202). */
bool bzimage_detect(const uint8_t *buf, size_t len);

/*
 * Copies the kernel release from the setup header's kernel_version string (its first
 * word, e.g. "6.1.0-57-amd64") into out; "" when the header has none or it is bad.
 */
void bzimage_release(const uint8_t *buf, size_t len, char *out, size_t outlen);

/*
 * Decompresses the payload of a bzImage into a malloc'd buffer (*elf, *elf_len): XZ
 * (liblzma), gzip (zlib), zstd (libzstd) or stored uncompressed; the other compressions
 * Linux offers are refused by name. The output is never larger than `limit` bytes (guest
 * RAM): a larger declared size is refused before decompressing, a payload that
 * decompresses past its declared size is refused when it does. On failure fills err with
 * one line (without the file name) and returns -1.
 */
int bzimage_extract(const uint8_t *buf, size_t len, uint64_t limit, uint8_t **elf, size_t *elf_len,
		    char *err, size_t errlen);

#endif
