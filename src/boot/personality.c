/* personality.c - native or Xen PV, from the kernel's notes and the options. */
#include "boot/personality.h"

#include <stdio.h>
#include <stdlib.h>

#include "boot/loader.h"

enum personality_result personality_choose(struct config *cfg, const uint8_t *img, size_t len,
					   struct xen_notes *notes, char *err, size_t errlen)
{
	int r = xen_notes_parse(img, len, notes, err, errlen);

	/* A native kernel's malformed notes are the ELF loader's business, not ours. */
	if (r < 0 && cfg->personality == PERSONALITY_NATIVE)
		r = 0;
	if (r < 0)
		return PERSONALITY_BAD_IMAGE;
	if (cfg->personality == PERSONALITY_NATIVE)
		return PERSONALITY_OK;
	if (r == 0) {
		if (cfg->personality == PERSONALITY_XEN) {
			snprintf(err, errlen,
				 "personality=xen, but the kernel has no Xen ELF notes");
			return PERSONALITY_USAGE;
		}
		cfg->personality = PERSONALITY_NATIVE;
		return PERSONALITY_OK;
	}
	if (xen_notes_check(notes, err, errlen))
		return PERSONALITY_BAD_IMAGE;
	if (cfg->mode_set && cfg->mode == MODE_DIRECT) {
		snprintf(err, errlen,
			 "a Xen PV kernel runs in shadow mode only: mode=direct is refused");
		return PERSONALITY_USAGE;
	}
	cfg->personality = PERSONALITY_XEN;
	cfg->mode = MODE_SHADOW;
	return PERSONALITY_OK;
}

enum personality_result personality_choose_file(struct config *cfg, char *err, size_t errlen)
{
	struct xen_notes notes;
	enum personality_result r = PERSONALITY_OK;
	uint8_t *buf, *owned;
	const uint8_t *elf;
	size_t len, elf_len;

	/* What cannot be read or is no kernel, kernel_load names in its own words. */
	if (!cfg->kernel || load_file_max(cfg->kernel, cfg->mem_size, &buf, &len, err, errlen))
		return PERSONALITY_OK;
	if (!kernel_elf_bytes(buf, len, cfg->mem_size, &owned, &elf, &elf_len, err, errlen)) {
		r = personality_choose(cfg, elf, elf_len, &notes, err, errlen);
		free(owned);
	}
	free(buf);
	return r;
}
