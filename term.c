/*
 * Console plumbing between the host terminal and the guest's console
 * device.  Raw mode lets the guest see every key (Ctrl-C included); the
 * Ctrl-A prefix keeps a way out for the user.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include "lkvm/boot-trace.h"
#include "lkvm/deadline.h"
#include "lkvm/kvm.h"
#include "lkvm/log.h"
#include "lkvm/term.h"
#include "lkvm/sandbox.h"

#define CTRL_A 0x01

static struct {
	struct kvm *kvm;
	struct termios saved;
	bool raw;
	bool escape;
	bool eof_to_guest;	/* send ^D at the end of piped input */
	bool held;		/* stdin not read until the guest is ready */
	u8 last;		/* the last byte delivered */
	struct console_input input;
	pthread_mutex_t lock;
	pthread_cond_t room;
	pthread_mutex_t out_lock;
	/* Guest output not yet written (see console_write). */
	pthread_cond_t out_pending;
	bool out_flusher;		/* the flusher thread runs */
	size_t out_len;
	u8 out_buf[4096];
} term = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.room = PTHREAD_COND_INITIALIZER,
	.out_lock = PTHREAD_MUTEX_INITIALIZER,
	.out_pending = PTHREAD_COND_INITIALIZER,
};

static void write_all(const u8 *buf, size_t n)
{
	while (n) {
		ssize_t w = write(STDOUT_FILENO, buf, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;	/* stdout gone: the guest keeps running */
		buf += w;
		n -= w;
	}
}

/* With out_lock held (or from a fatal path, where nothing else runs). */
static void flush_locked(void)
{
	write_all(term.out_buf, term.out_len);
	term.out_len = 0;
}

void console_flush(void)
{
	/* Also from fatal-signal paths, where the lock may be held already. */
	bool locked = pthread_mutex_trylock(&term.out_lock) == 0;

	flush_locked();
	if (locked)
		pthread_mutex_unlock(&term.out_lock);
}

void term_restore(void)
{
	console_flush();
	if (term.raw) {
		tcsetattr(STDIN_FILENO, TCSANOW, &term.saved);
		term.raw = false;
	}
}

static void fatal_signal(int sig)
{
	term_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

void term_init(struct kvm *kvm)
{
	struct termios raw;

	term.kvm = kvm;
	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &term.saved))
		return;
	raw = term.saved;
	cfmakeraw(&raw);
	/* Keep output post-processing off too: the guest sends its own \r\n. */
	if (tcsetattr(STDIN_FILENO, TCSANOW, &raw))
		return;
	term.raw = true;
	atexit(term_restore);
	signal(SIGSEGV, fatal_signal);
	signal(SIGABRT, fatal_signal);
	signal(SIGBUS, fatal_signal);
}

void term_set_input(const struct console_input *in)
{
	pthread_mutex_lock(&term.lock);
	term.input = *in;
	pthread_mutex_unlock(&term.lock);
}

void term_input_ready(void)
{
	pthread_mutex_lock(&term.lock);
	pthread_cond_broadcast(&term.room);
	pthread_mutex_unlock(&term.lock);
}

/*
 * A UART hands over its output one byte per port write.  A write() per
 * byte costs a system call, and a wake-up of whatever reads lkvm's stdout
 * (a pipe into a CI log, a terminal): in a nested guest that is a large
 * part of a full-console boot.  So bytes are gathered and written a line
 * at a time; a partial line (a prompt, an echoed key) is written by the
 * flusher thread once the guest has been quiet for FLUSH_IDLE_MS, or
 * FLUSH_MAX_MS after it was started, whichever is first.  Without the
 * flusher (it could not start) every write goes out at once.
 */
#define FLUSH_IDLE_MS	5
#define FLUSH_MAX_MS	50

static u64 out_serial;	/* bytes ever appended: the flusher sees progress */

void console_write(const u8 *buf, size_t n)
{
	boot_trace_mark(BOOT_FIRST_CONSOLE);
	pthread_mutex_lock(&term.out_lock);
	if (!term.out_flusher || n > sizeof(term.out_buf) - term.out_len) {
		flush_locked();
		if (!term.out_flusher || n > sizeof(term.out_buf)) {
			write_all(buf, n);
			pthread_mutex_unlock(&term.out_lock);
			return;
		}
	}
	if (!term.out_len)
		pthread_cond_signal(&term.out_pending);
	memcpy(term.out_buf + term.out_len, buf, n);
	term.out_len += n;
	out_serial += n;
	if (memchr(buf, '\n', n))
		flush_locked();
	pthread_mutex_unlock(&term.out_lock);
}

static void *flusher_thread(void *arg UNUSED)
{
	pthread_setname_np(pthread_self(), "console-out");
	pthread_mutex_lock(&term.out_lock);
	for (;;) {
		struct timespec ts;
		int waited = 0;

		while (!term.out_len)
			pthread_cond_wait(&term.out_pending, &term.out_lock);
		/* Wait while the guest is still writing this line. */
		for (;;) {
			u64 seen = out_serial;

			/* out_pending waits on CLOCK_MONOTONIC (start_flusher). */
			ts = deadline_after_ms(CLOCK_MONOTONIC, FLUSH_IDLE_MS);
			while (term.out_len && out_serial == seen &&
			       pthread_cond_timedwait(&term.out_pending, &term.out_lock, &ts) == 0)
				;
			waited += FLUSH_IDLE_MS;
			if (!term.out_len || out_serial == seen || waited >= FLUSH_MAX_MS)
				break;
		}
		flush_locked();
	}
	return NULL;
}

static void start_flusher(void)
{
	static pthread_condattr_t ca;
	pthread_attr_t attr;
	pthread_t t;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&term.out_pending, &ca);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	pthread_mutex_lock(&term.out_lock);
	term.out_flusher = !sandbox_thread_create(&t, &attr, SANDBOX_CONSOLE_OUT,
						  flusher_thread, NULL);
	pthread_mutex_unlock(&term.out_lock);
	atexit(console_flush);	/* every exit path: the guest's last words */
	pthread_attr_destroy(&attr);
}

/* Hand bytes to the console device, waiting while it is full. */
static void deliver(const u8 *buf, size_t n)
{
	pthread_mutex_lock(&term.lock);
	while (n && !kvm_stopping(term.kvm)) {
		size_t took = term.input.push ? term.input.push(term.input.opaque, buf, n) : n;

		buf += took;
		n -= took;
		if (n) {
			/* Bounded wait in case a device forgets to call us. */
			struct timespec ts = deadline_after_ms(CLOCK_REALTIME, 20);

			pthread_cond_timedwait(&term.room, &term.lock, &ts);
		}
	}
	pthread_mutex_unlock(&term.lock);
}

/* Ctrl-A x quits, Ctrl-A Ctrl-A sends one Ctrl-A; only on a terminal. */
static size_t filter_escapes(const u8 *buf, size_t n, u8 *dst)
{
	size_t out = 0;

	for (size_t i = 0; i < n; i++) {
		u8 c = buf[i];

		if (term.escape) {
			term.escape = false;
			if (c == 'x' || c == 'X') {
				term_restore();
				fputs("\r\nlkvm: Ctrl-A x: stopping the guest\r\n", stderr);
				kvm_request_stop(term.kvm, VM_STOP_USER);
				return out;
			}
			if (c != CTRL_A)
				dst[out++] = CTRL_A;
		} else if (c == CTRL_A) {
			term.escape = true;
			continue;
		}
		dst[out++] = c;
	}
	return out;
}

void term_send_eof(bool on)
{
	term.eof_to_guest = on;
}

void term_hold_input(void)
{
	term.held = true;
}

void term_release_input(void)
{
	pthread_mutex_lock(&term.lock);
	term.held = false;
	pthread_cond_broadcast(&term.room);
	pthread_mutex_unlock(&term.lock);
}

/* Until released, or the VM stops (checked every 200 ms). */
static void wait_until_released(void)
{
	pthread_mutex_lock(&term.lock);
	while (term.held && !kvm_stopping(term.kvm)) {
		struct timespec ts = deadline_after_ms(CLOCK_REALTIME, 200);

		pthread_cond_timedwait(&term.room, &term.lock, &ts);
	}
	pthread_mutex_unlock(&term.lock);
}

/*
 * A guest tty in canonical mode reads ^D as end of file only at the start
 * of a line: after a partial line the first ^D ends the line.
 */
static void deliver_eof(void)
{
	static const u8 eot[2] = { 0x04, 0x04 };

	deliver(eot, term.last == '\n' || term.last == 0 ? 1 : 2);
}

static void *term_thread(void *arg UNUSED)
{
	u8 buf[256], filtered[2 * sizeof(buf)];

	pthread_setname_np(pthread_self(), "console-in");
	wait_until_released();
	while (!kvm_stopping(term.kvm)) {
		struct pollfd p = { .fd = STDIN_FILENO, .events = POLLIN };
		int r = poll(&p, 1, 200);
		ssize_t n;

		if (r <= 0)
			continue;
		n = read(STDIN_FILENO, buf, sizeof(buf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			if (n == 0 && term.eof_to_guest && !term.raw)
				deliver_eof();
			break;	/* EOF: the guest keeps running without input */
		}
		if (term.raw)
			deliver(filtered, filter_escapes(buf, n, filtered));
		else
			deliver(buf, n);
		term.last = buf[n - 1];
	}
	return NULL;
}

void term_start(void)
{
	pthread_t t;
	pthread_attr_t attr;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (sandbox_thread_create(&t, &attr, SANDBOX_CONSOLE_IN, term_thread, NULL))
		pr_warn("cannot start the console input thread: no guest input");
	pthread_attr_destroy(&attr);
	start_flusher();
}
