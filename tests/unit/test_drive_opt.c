/*
 * test_drive_opt.c - -drive and [drive] (src/front/drive_opt.c, and their place in the
 * configuration's layers).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "front/config.h"

static enum config_action run(struct config *cfg, char **argv, int argc, char *err, size_t n)
{
	FILE *out = fopen("/dev/null", "w"), *e = fmemopen(err, n, "w");
	enum config_action a = config_from_args(cfg, argc, argv, out, e);

	fclose(out);
	fclose(e);
	return a;
}

Test(drive_opt, defaults_are_qemus)
{
	struct drive_list l = {0};
	char why[CONFIG_WHY_MAX];

	cr_assert_eq(drive_parse(&l, "file=disk.img", why), 0, "%s", why);
	cr_assert_eq(l.n, 1u);
	cr_assert_str_eq(l.d[0].file, "disk.img");
	cr_assert_eq(l.d[0].iface, DRIVE_IF_VIRTIO);
	cr_assert_eq(l.d[0].cache, BLK_CACHE_WRITEBACK);
	cr_assert_eq(l.d[0].aio, BLK_AIO_IO_URING);
	cr_assert_not(l.d[0].readonly);
	drive_list_free(&l);
}

Test(drive_opt, every_key)
{
	struct drive_list l = {0};
	char why[CONFIG_WHY_MAX];

	cr_assert_eq(drive_parse(&l,
				 "file=/x/d.img,format=raw,if=virtio,readonly=on,cache=directsync,"
				 "aio=threads,id=disk0,media=disk",
				 why),
		     0, "%s", why);
	cr_assert(l.d[0].readonly);
	cr_assert_eq(l.d[0].cache, BLK_CACHE_DIRECTSYNC);
	cr_assert_eq(l.d[0].aio, BLK_AIO_THREADS);
	drive_list_free(&l);
}

Test(drive_opt, if_xen)
{
	struct drive_list l = {0};
	char why[CONFIG_WHY_MAX];

	cr_assert_eq(drive_parse(&l, "file=a,if=xen", why), 0, "%s", why);
	cr_expect_eq(l.d[0].iface, DRIVE_IF_XEN);
	cr_assert_eq(drive_parse(&l, "file=b", why), 0, "%s", why);
	cr_expect_eq(l.d[1].iface, DRIVE_IF_VIRTIO);
	drive_list_free(&l);
}

Test(drive_opt, refusals_name_the_problem)
{
	static const struct {
		const char *arg, *words;
	} cases[] = {
		{"file=a,if=ide", "if=ide"},
		{"file=a,format=qcow2", "only raw"},
		{"file=a,cache=fast", "cache=fast"},
		{"file=a,aio=native", "aio=native"},
		{"file=a,readonly=maybe", "readonly=maybe"},
		{"file=a,frob=1", "unknown property 'frob'"},
		{"file=a,x", "'x' is not key=value"},
		{"format=raw", "no file="},
		{"file=", "empty path"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct drive_list l = {0};
		char why[CONFIG_WHY_MAX] = "";

		cr_assert_eq(drive_parse(&l, cases[i].arg, why), -1, "%s accepted", cases[i].arg);
		cr_assert(strstr(why, cases[i].words), "%s: got '%s'", cases[i].arg, why);
		drive_list_free(&l);
	}
}

Test(drive_opt, at_most_four_drives)
{
	struct drive_list l = {0};
	char why[CONFIG_WHY_MAX];

	for (int i = 0; i < DRIVE_MAX; i++)
		cr_assert_eq(drive_parse(&l, "file=a", why), 0);
	cr_assert_eq(drive_parse(&l, "file=a", why), -1);
	cr_assert(strstr(why, "too many drives"));
	drive_list_free(&l);
}

Test(drive_opt, files_drives_come_first_and_print_config_round_trips)
{
	char dir[] = "/tmp/lodger-drive-XXXXXX", cfgpath[64], printed[64], err[512] = "";
	struct config cfg, again;
	FILE *f;

	cr_assert(mkdtemp(dir));
	snprintf(cfgpath, sizeof(cfgpath), "%s/vm.cfg", dir);
	snprintf(printed, sizeof(printed), "%s/out.cfg", dir);
	f = fopen(cfgpath, "w");
	fputs("[drive \"d0\"]\n  file = \"from-file.img\"\n  cache = \"none\"\n"
	      "[drive]\n  file = \"second.img\"\n  readonly = \"on\"\n",
	      f);
	fclose(f);
	char *argv[] = {"lodger",      "-drive", "file=cmdline.img,aio=threads",
			"-readconfig", cfgpath,	 "k.elf"};
	cr_assert_eq(run(&cfg, argv, 6, err, sizeof(err)), CONFIG_RUN, "%s", err);
	cr_assert_eq(cfg.drives.n, 3u);
	cr_assert_str_eq(cfg.drives.d[0].file, "from-file.img");
	cr_assert_eq(cfg.drives.d[0].cache, BLK_CACHE_NONE);
	cr_assert(cfg.drives.d[1].readonly);
	cr_assert_str_eq(cfg.drives.d[2].file, "cmdline.img");
	cr_assert_eq(cfg.drives.d[2].aio, BLK_AIO_THREADS);

	f = fopen(printed, "w");
	config_print(&cfg, f);
	fclose(f);
	config_init_defaults(&again);
	cr_assert_eq(config_read_file(&again, printed, stderr), 0);
	cr_assert_eq(again.drives.n, 3u);
	for (unsigned i = 0; i < 3; i++) {
		cr_assert_str_eq(again.drives.d[i].file, cfg.drives.d[i].file);
		cr_assert_eq(again.drives.d[i].cache, cfg.drives.d[i].cache);
		cr_assert_eq(again.drives.d[i].aio, cfg.drives.d[i].aio);
		cr_assert_eq(again.drives.d[i].readonly, cfg.drives.d[i].readonly);
	}
	config_free(&cfg);
	config_free(&again);
	unlink(cfgpath);
	unlink(printed);
	rmdir(dir);
}

Test(drive_opt, too_many_across_file_and_command_line)
{
	char dir[] = "/tmp/lodger-drive-XXXXXX", cfgpath[64], err[512] = "";
	struct config cfg;
	FILE *f;

	cr_assert(mkdtemp(dir));
	snprintf(cfgpath, sizeof(cfgpath), "%s/vm.cfg", dir);
	f = fopen(cfgpath, "w");
	for (int i = 0; i < 3; i++)
		fputs("[drive]\n  file = \"f.img\"\n", f);
	fclose(f);
	char *argv[] = {"lodger", "-drive",	 "file=a", "-drive",
			"file=b", "-readconfig", cfgpath,  "k.elf"};
	cr_assert_eq(run(&cfg, argv, 8, err, sizeof(err)), CONFIG_EXIT_FAIL);
	cr_assert(strstr(err, "too many drives"), "got '%s'", err);
	config_free(&cfg);
	unlink(cfgpath);
	rmdir(dir);
}
