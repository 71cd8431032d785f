/*
 * fuzz_config.c - the command line and -readconfig files (src/front/cli.c, config.c).
 *
 * Input: ARGV "\0\0" FILE. ARGV is the arguments, NUL-separated (argv[0] is added); an
 * argument "@" stands for a -readconfig path holding FILE. Input without "\0\0" whose
 * first byte is '[' or '#' is FILE alone, read with config_read_file.
 *
 * Checked besides crashes: a failure prints exactly one line "lodger: ...\n" of
 * printable ASCII (docs/cli.md), success prints nothing on stderr, and a configuration
 * that is accepted survives --print-config: printed, read back and printed again, the
 * two texts are the same.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "front/config.h"
#include "fuzz_common.h"

#define MAX_ARGS 64

static int file_fd = -1, back_fd = -1;
static char file_path[64], back_path[64];

static int memfd_path(const char *name, char *path, size_t len)
{
	int fd = memfd_create(name, 0);

	if (fd < 0) {
		perror("fuzz: memfd_create");
		exit(1);
	}
	snprintf(path, len, "/proc/self/fd/%d", fd);
	return fd;
}

static void memfd_fill(int fd, const void *data, size_t len)
{
	if (ftruncate(fd, 0) < 0 || (len && pwrite(fd, data, len, 0) != (ssize_t)len)) {
		perror("fuzz: memfd write");
		exit(1);
	}
}

/* Lines each "lodger: " then printable ASCII (a command line's problems are reported all
 * at once, one line each; docs/cli.md), or nothing when `ok`. */
static void check_err(const char *text, size_t len, bool ok)
{
	if (ok) {
		FUZZ_CHECK(len == 0, "success with a message: %s", text);
		return;
	}
	FUZZ_CHECK(len > 8 && strncmp(text, "lodger: ", 8) == 0, "failure without its line: '%s'",
		   text);
	FUZZ_CHECK(text[len - 1] == '\n', "error line not ended: '%s'", text);
	for (size_t i = 0; i + 1 < len; i++) {
		if (text[i] == '\n') {
			FUZZ_CHECK(strncmp(text + i + 1, "lodger: ", 8) == 0,
				   "a line without 'lodger: ' at %zu: '%s'", i + 1, text);
			continue;
		}
		FUZZ_CHECK(text[i] >= 0x20 && text[i] < 0x7f,
			   "byte %#x at %zu of the error line: '%s'", (unsigned char)text[i], i,
			   text);
	}
}

/* print -> read back -> print gives the same text. */
static void check_round_trip(const struct config *cfg)
{
	char *first = NULL, *second = NULL, *err = NULL;
	size_t first_len = 0, second_len = 0, err_len = 0;
	FILE *f = open_memstream(&first, &first_len);
	FILE *e = open_memstream(&err, &err_len);
	struct config back;
	int r;

	if (!f || !e)
		abort();
	config_print(cfg, f);
	fclose(f);
	memfd_fill(back_fd, first, first_len);
	config_init_defaults(&back);
	r = config_read_file(&back, back_path, e);
	fclose(e);
	FUZZ_CHECK(r == 0, "--print-config output not read back: %s\n%s", err, first);
	f = open_memstream(&second, &second_len);
	if (!f)
		abort();
	config_print(&back, f);
	fclose(f);
	FUZZ_CHECK(first_len == second_len && memcmp(first, second, first_len) == 0,
		   "read back differently:\n%s---\n%s", first, second);
	config_free(&back);
	free(first);
	free(second);
	free(err);
}

static void run_file(const uint8_t *data, size_t len)
{
	char *err = NULL;
	size_t err_len = 0;
	FILE *e = open_memstream(&err, &err_len);
	struct config cfg;
	int r;

	if (!e)
		abort();
	memfd_fill(file_fd, data, len);
	config_init_defaults(&cfg);
	r = config_read_file(&cfg, file_path, e);
	if (r == 0)
		r = config_validate(&cfg, e);
	fclose(e);
	check_err(err, err_len, r == 0);
	if (r == 0)
		check_round_trip(&cfg);
	config_free(&cfg);
	free(err);
}

static void run_args(const uint8_t *data, size_t len, const uint8_t *file, size_t file_len)
{
	char *argv[MAX_ARGS + 1], *copy = malloc(len + 1);
	char *out = NULL, *err = NULL;
	size_t out_len = 0, err_len = 0;
	FILE *o, *e;
	struct config cfg;
	enum config_action action;
	int argc = 1;

	if (!copy)
		abort();
	memcpy(copy, data, len);
	copy[len] = '\0';
	argv[0] = "lodger";
	for (size_t i = 0; i < len && argc < MAX_ARGS; i += strlen(copy + i) + 1)
		argv[argc++] = strcmp(copy + i, "@") == 0 ? file_path : copy + i;
	argv[argc] = NULL;
	if (memmem(data, len, "@", 1)) /* the file is read only through "@" */
		memfd_fill(file_fd, file, file_len);

	o = open_memstream(&out, &out_len);
	e = open_memstream(&err, &err_len);
	if (!o || !e)
		abort();
	action = config_from_args(&cfg, argc, argv, o, e);
	fclose(o);
	fclose(e);
	check_err(err, err_len, action != CONFIG_EXIT_FAIL);
	if (action == CONFIG_RUN) {
		FUZZ_CHECK(cfg.kernel && *cfg.kernel, "running without a kernel");
		FUZZ_CHECK(config_validate(&cfg, stderr) == 0, "an invalid configuration runs");
		check_round_trip(&cfg);
	}
	config_free(&cfg);
	free(out);
	free(err);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *sep = memmem(data, size, "\0\0", 2);

	if (file_fd < 0) {
		file_fd = memfd_path("fuzz-config", file_path, sizeof(file_path));
		back_fd = memfd_path("fuzz-config-back", back_path, sizeof(back_path));
	}
	if (!sep && size && (data[0] == '[' || data[0] == '#'))
		run_file(data, size);
	else if (sep)
		run_args(data, (size_t)(sep - data), sep + 2, size - (size_t)(sep + 2 - data));
	else
		run_args(data, size, NULL, 0);
	return 0;
}
