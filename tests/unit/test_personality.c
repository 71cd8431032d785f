/*
 * test_personality.c - choosing native or Xen PV (src/boot/personality.c) from synthetic
 * images and the options: auto, explicit, the shadow-mode rule, the refusals.
 */
#include <criterion/criterion.h>
#include <stdint.h>

#include "boot/personality.h"
#include "xen_image.h"

static struct xi x;
static struct config cfg;
static struct xen_notes n;
static char err[256];

static enum personality_result choose(void)
{
	err[0] = '\0';
	return personality_choose(&cfg, x.buf, x.len, &n, err, sizeof(err));
}

static void xen_kernel(void)
{
	xi_init(&x, 0x100000, 0, 0x100010);
	xi_xtf_notes(&x, 0x101000);
}

Test(personality, auto_picks_xen_and_shadow_mode)
{
	config_init_defaults(&cfg);
	xen_kernel();
	cr_assert_eq(choose(), PERSONALITY_OK, "%s", err);
	cr_expect_eq(cfg.personality, PERSONALITY_XEN);
	cr_expect_eq(cfg.mode, MODE_SHADOW);
	config_free(&cfg);
}

Test(personality, auto_picks_native_without_notes)
{
	config_init_defaults(&cfg);
	xi_init(&x, 0x100000, 0, 0x100010);
	cr_assert_eq(choose(), PERSONALITY_OK, "%s", err);
	cr_expect_eq(cfg.personality, PERSONALITY_NATIVE);
	cr_expect_eq(cfg.mode, MODE_DIRECT);
	config_free(&cfg);
}

Test(personality, explicit_direct_mode_is_refused)
{
	char why[CONFIG_WHY_MAX];

	config_init_defaults(&cfg);
	cr_assert_eq(config_set_mode(&cfg, "direct", why), 0);
	xen_kernel();
	cr_expect_eq(choose(), PERSONALITY_USAGE);
	cr_expect(strstr(err, "mode=direct"), "%s", err);
	config_free(&cfg);
}

Test(personality, explicit_xen_without_notes_is_refused)
{
	char why[CONFIG_WHY_MAX];

	config_init_defaults(&cfg);
	cr_assert_eq(config_set_personality(&cfg, "xen", why), 0);
	xi_init(&x, 0x100000, 0, 0x100010);
	cr_expect_eq(choose(), PERSONALITY_USAGE);
	cr_expect(strstr(err, "no Xen ELF notes"), "%s", err);
	config_free(&cfg);
}

Test(personality, explicit_native_keeps_a_xen_kernel_native)
{
	char why[CONFIG_WHY_MAX];

	config_init_defaults(&cfg);
	cr_assert_eq(config_set_personality(&cfg, "native", why), 0);
	xen_kernel();
	cr_expect_eq(choose(), PERSONALITY_OK);
	cr_expect_eq(cfg.personality, PERSONALITY_NATIVE);
	cr_expect_eq(cfg.mode, MODE_DIRECT);
	cr_expect_eq(config_set_personality(&cfg, "hvm", why), -1);
	config_free(&cfg);
}

Test(personality, unrunnable_pv_kernel_is_a_bad_image)
{
	config_init_defaults(&cfg);
	xen_kernel();
	xi_note_str(&x, XEN_ELFNOTE_FEATURES, "!supervisor_mode_kernel");
	cr_expect_eq(choose(), PERSONALITY_BAD_IMAGE);
	cr_expect(strstr(err, "supervisor_mode_kernel"), "%s", err);
	config_free(&cfg);
}
