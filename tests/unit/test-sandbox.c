/*
 * The seccomp sandbox: a role allows its calls and traps the rest with the
 * documented line and status; a thread started late by a confined thread
 * gets exactly its own role (the launcher); --no-sandbox confines nothing.
 * Each case runs in a child process, which the sandbox then owns.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include "lkvm/sandbox.h"
#include "unit.h"

/* Run fn in a child with the sandbox on; its exit status, stderr in err. */
static int in_child(void (*fn)(void), bool enabled, char *err, size_t cap)
{
	int pipefd[2], status;
	ssize_t n, got = 0;
	pid_t pid;

	if (pipe(pipefd))
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(pipefd[1], STDERR_FILENO);
		close(pipefd[0]);
		if (sandbox_init(enabled, -1))
			_exit(100);
		fn();
		_exit(0);
	}
	close(pipefd[1]);
	while ((n = read(pipefd[0], err + got, cap - 1 - (size_t)got)) > 0)
		got += n;
	err[got] = '\0';
	close(pipefd[0]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* The Seccomp field of the calling thread (needs openat and read). */
static int own_seccomp_mode(void)
{
	char buf[4096], *p;
	int fd = open("/proc/thread-self/status", O_RDONLY), mode = -1;
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (n > 0) {
		buf[n] = '\0';
		p = strstr(buf, "Seccomp:");
		if (p)
			mode = atoi(p + 8);
	}
	if (fd >= 0)
		close(fd);
	return mode;
}

static void *open_something(void *arg)
{
	int fd = open("/", O_RDONLY | O_DIRECTORY);

	*(int *)arg = own_seccomp_mode();
	if (fd >= 0)
		close(fd);
	return NULL;
}

static void aio_thread_then_forbidden(void)
{
	char c;
	int fd = open("/dev/zero", O_RDONLY);

	sandbox_enter(SANDBOX_DISK_AIO);
	if (pread(fd, &c, 1, 0) != 1)	/* allowed for disk threads */
		_exit(10);
	(void)getppid();		/* in no role */
	_exit(11);
}

static void test_forbidden_call_traps(void)
{
	char err[1024];

	CHECK_EQ(in_child(aio_thread_then_forbidden, true, err, sizeof(err)), LKVM_EXIT_SANDBOX);
	CHECK(strstr(err, "lkvm: seccomp: thread disk-aio made forbidden system call getppid (") == err);
	CHECK(strstr(err, "): this is a bug, please report it; --no-sandbox disables the sandbox\n"));
}

static void vcpu_starts_9p_worker(void)
{
	pthread_t t;
	int mode = -1;

	sandbox_enter(SANDBOX_VCPU);
	if (sandbox_thread_create(&t, NULL, SANDBOX_9P, open_something, &mode))
		_exit(20);
	pthread_join(t, NULL);
	_exit(mode == 2 ? 0 : 21);	/* the worker could open: its own role */
}

static void test_late_thread_gets_its_role(void)
{
	char err[1024];

	CHECK_EQ(in_child(vcpu_starts_9p_worker, true, err, sizeof(err)), 0);
	CHECK_STR(err, "");
}

static void vcpu_starts_aio_thread_that_opens(void)
{
	pthread_t t;
	int mode;

	sandbox_enter(SANDBOX_VCPU);
	if (sandbox_thread_create(&t, NULL, SANDBOX_DISK_AIO, open_something, &mode))
		_exit(20);
	pthread_join(t, NULL);
	_exit(22);
}

static void test_late_thread_gets_no_more(void)
{
	char err[1024];

	CHECK_EQ(in_child(vcpu_starts_aio_thread_that_opens, true, err, sizeof(err)),
		 LKVM_EXIT_SANDBOX);
	CHECK(strstr(err, "lkvm: seccomp: thread disk-aio made forbidden system call openat (") == err);
}

static void vcpu_opens(void)
{
	sandbox_enter(SANDBOX_VCPU);
	open("/", O_RDONLY);
	_exit(23);
}

static void test_vcpu_cannot_open(void)
{
	char err[1024];

	CHECK_EQ(in_child(vcpu_opens, true, err, sizeof(err)), LKVM_EXIT_SANDBOX);
	CHECK(strstr(err, "thread vcpu made forbidden system call openat ("));
}

static void mgmt_tty_ioctl(void)
{
	int n;

	sandbox_enter(SANDBOX_MGMT);
	ioctl(STDERR_FILENO, FIONREAD, &n);	/* ioctls are allowed by number */
	_exit(24);
}

static void test_ioctl_by_request(void)
{
	char err[1024];

	CHECK_EQ(in_child(mgmt_tty_ioctl, true, err, sizeof(err)), LKVM_EXIT_SANDBOX);
	CHECK(strstr(err, "thread mgmt made forbidden system call ioctl ("));
}

static void unconfined(void)
{
	sandbox_enter(SANDBOX_VCPU);
	(void)getppid();
	_exit(own_seccomp_mode() == 0 ? 0 : 25);
}

static void test_no_sandbox(void)
{
	char err[1024];

	CHECK_EQ(in_child(unconfined, false, err, sizeof(err)), 0);
	CHECK_STR(err, "");
}

static void test_role_names(void)
{
	for (int r = 0; r < SANDBOX_NR_ROLES; r++)
		CHECK_EQ(sandbox_role_by_name(sandbox_role_name(r)), r);
	CHECK_EQ(sandbox_role_by_name("nope"), -1);
}

int main(void)
{
	RUN(test_forbidden_call_traps);
	RUN(test_late_thread_gets_its_role);
	RUN(test_late_thread_gets_no_more);
	RUN(test_vcpu_cannot_open);
	RUN(test_ioctl_by_request);
	RUN(test_no_sandbox);
	RUN(test_role_names);
	return unit_summary();
}
