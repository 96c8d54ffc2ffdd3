/*
 * Rate-limited log messages (lkvm/log.h): a burst per message site, then
 * silence, then one "N more messages like ... suppressed" line when the
 * next interval begins.  stderr goes to a temporary file to be measured.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "lkvm/log.h"
#include "unit.h"

#define INTERVAL_MS 300

static FILE *capture;
static int saved_stderr;

static void capture_begin(void)
{
	fflush(stderr);
	capture = tmpfile();
	saved_stderr = dup(2);
	if (!capture || saved_stderr < 0 || dup2(fileno(capture), 2) < 0) {
		perror("capture");
		exit(2);
	}
}

/* Stop capturing: the bytes logged, their text in buf (NUL-terminated). */
static long capture_end(char *buf, size_t cap)
{
	struct stat st;
	size_t n;

	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	fstat(fileno(capture), &st);
	rewind(capture);
	n = fread(buf, 1, cap - 1, capture);
	buf[n] = '\0';
	fclose(capture);
	return (long)st.st_size;
}

static int count_lines(const char *s, const char *needle)
{
	int n = 0;

	for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void guest_message(int i)
{
	pr_warn_ratelimited("virtio-test: driver did something odd (#%d)", i);
}

static void other_message(void)
{
	pr_err_ratelimited("virtio-test: another site");
}

static void test_flood_is_bounded(void)
{
	static char out[65536];
	long bytes;

	log_ratelimit_reset();
	log_ratelimit_interval_ms = 60000;	/* however slow the loop */
	capture_begin();
	for (int i = 0; i < 100000; i++)
		guest_message(i);
	bytes = capture_end(out, sizeof(out));
	CHECK_EQ(count_lines(out, "driver did something odd"), LOG_RATELIMIT_BURST);
	CHECK(strstr(out, "lkvm: warning: virtio-test: driver did something odd (#0)\n"));
	CHECK(bytes < 100 * LOG_RATELIMIT_BURST);
	CHECK(!strstr(out, "suppressed"));

	/* The next interval: the count of what was swallowed, then the message. */
	log_ratelimit_interval_ms = INTERVAL_MS;
	usleep((INTERVAL_MS + 100) * 1000);
	capture_begin();
	guest_message(100000);
	bytes = capture_end(out, sizeof(out));
	CHECK(strstr(out, "lkvm: warning: 99990 more messages like \"virtio-test: driver did "
			  "something odd (#9)\" suppressed\n"));
	CHECK(strstr(out, "(#100000)\n"));
	CHECK_EQ(count_lines(out, "\n"), 2);
	CHECK(bytes < 200);
}

static void test_sites_are_independent(void)
{
	static char out[65536];

	log_ratelimit_reset();
	log_ratelimit_interval_ms = 60000;
	capture_begin();
	for (int i = 0; i < 1000; i++) {
		guest_message(i);
		other_message();
	}
	capture_end(out, sizeof(out));
	CHECK_EQ(count_lines(out, "lkvm: warning: virtio-test: driver did something odd"),
		 LOG_RATELIMIT_BURST);
	CHECK_EQ(count_lines(out, "lkvm: error: virtio-test: another site\n"),
		 LOG_RATELIMIT_BURST);
}

static void test_debug_only_with_debug(void)
{
	static char out[4096];

	log_ratelimit_reset();
	log_ratelimit_interval_ms = 60000;
	capture_begin();
	pr_debug_ratelimited("not shown %d", 1);
	log_debug_enabled = 1;
	for (int i = 0; i < 100; i++)
		pr_debug_ratelimited("shown %d", i);
	log_debug_enabled = 0;
	capture_end(out, sizeof(out));
	CHECK(!strstr(out, "not shown"));
	CHECK_EQ(count_lines(out, "lkvm: debug: shown "), LOG_RATELIMIT_BURST);
}

int main(void)
{
	RUN(test_flood_is_bounded);
	RUN(test_sites_are_independent);
	RUN(test_debug_only_with_debug);
	return unit_summary();
}
