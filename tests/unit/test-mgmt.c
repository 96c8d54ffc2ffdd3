/*
 * Management protocol and naming (no KVM): VM names, the socket
 * directory, request and reply lines, the line reader; then the server
 * of mgmt.c on a VM without vCPUs, driven by raw protocol lines and by
 * the subcommands themselves: info, pause/resume, stop with its EOF,
 * errors, version check, duplicate names and stale sockets.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include "lkvm/kvm.h"
#include "lkvm/kvm-cpu.h"
#include "lkvm/mgmt.h"
#include "unit.h"

static char tmpdir[64];

static void set_runtime_dir(const char *sub)
{
	char d[128];

	snprintf(d, sizeof(d), "%s/%s", tmpdir, sub);
	mkdir(d, 0700);
	setenv("XDG_RUNTIME_DIR", d, 1);
}

/* ---- names and paths ---- */

static void test_names(void)
{
	char longest[MGMT_NAME_MAX + 2];

	CHECK(mgmt_name_valid("guest-1234"));
	CHECK(mgmt_name_valid("a"));
	CHECK(mgmt_name_valid("web_01.test"));
	CHECK(!mgmt_name_valid(""));
	CHECK(!mgmt_name_valid("."));
	CHECK(!mgmt_name_valid(".."));
	CHECK(!mgmt_name_valid(".hidden"));
	CHECK(!mgmt_name_valid("-all"));
	CHECK(!mgmt_name_valid("a/b"));
	CHECK(!mgmt_name_valid("../x"));
	CHECK(!mgmt_name_valid("sp ace"));
	CHECK(!mgmt_name_valid("new\nline"));
	CHECK(!mgmt_name_valid("caf\xc3\xa9"));
	memset(longest, 'x', MGMT_NAME_MAX);
	longest[MGMT_NAME_MAX] = '\0';
	CHECK(mgmt_name_valid(longest));
	longest[MGMT_NAME_MAX] = 'x';
	longest[MGMT_NAME_MAX + 1] = '\0';
	CHECK(!mgmt_name_valid(longest));
}

static void test_dir_and_path(void)
{
	char dir[MGMT_PATH_MAX], path[MGMT_PATH_MAX], want[MGMT_PATH_MAX];
	struct stat st;

	set_runtime_dir("xdg");
	CHECK_EQ(mgmt_dir(dir, sizeof(dir), false), -ENOENT);
	CHECK_EQ(mgmt_dir(dir, sizeof(dir), true), 0);
	snprintf(want, sizeof(want), "%s/xdg/lkvm", tmpdir);
	CHECK_STR(dir, want);
	CHECK(stat(dir, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700);
	/* Too open: tightened. */
	chmod(dir, 0755);
	CHECK_EQ(mgmt_dir(dir, sizeof(dir), false), 0);
	CHECK(stat(dir, &st) == 0 && (st.st_mode & 0777) == 0700);
	CHECK_EQ(mgmt_socket_path("vm1", false, path, sizeof(path)), 0);
	snprintf(want, sizeof(want), "%s/xdg/lkvm/vm1.sock", tmpdir);
	CHECK_STR(path, want);
	CHECK_EQ(mgmt_socket_path("../vm1", false, path, sizeof(path)), -EINVAL);
	CHECK_EQ(mgmt_socket_path("vm1", false, path, 10), -ENAMETOOLONG);

	/* A relative XDG_RUNTIME_DIR is ignored: ~/.lkvm instead. */
	setenv("XDG_RUNTIME_DIR", "relative", 1);
	snprintf(want, sizeof(want), "%s/home", tmpdir);
	mkdir(want, 0700);
	setenv("HOME", want, 1);
	CHECK_EQ(mgmt_dir(dir, sizeof(dir), true), 0);
	snprintf(want, sizeof(want), "%s/home/.lkvm", tmpdir);
	CHECK_STR(dir, want);

	/* Something else in the directory's place is refused. */
	set_runtime_dir("file");
	snprintf(want, sizeof(want), "%s/file/lkvm", tmpdir);
	close(open(want, O_CREAT | O_WRONLY, 0600));
	CHECK_EQ(mgmt_dir(dir, sizeof(dir), true), -ENOTDIR);
	set_runtime_dir("link");
	snprintf(want, sizeof(want), "%s/link/lkvm", tmpdir);
	CHECK(symlink(tmpdir, want) == 0);
	CHECK_EQ(mgmt_dir(dir, sizeof(dir), true), -ENOTDIR);
}

/* ---- protocol lines ---- */

static void test_request_lines(void)
{
	const char *words[] = { "balloon", "inflate", "64" };
	struct mgmt_request req;
	char line[MGMT_LINE_MAX], big[MGMT_LINE_MAX + 8];
	int n;

	n = mgmt_format_request(line, sizeof(line), 3, words);
	CHECK_EQ(n, (int)strlen("LKVM/1 balloon inflate 64\n"));
	CHECK_STR(line, "LKVM/1 balloon inflate 64\n");
	line[n - 1] = '\0';
	CHECK_EQ(mgmt_parse_request(line, &req), 0);
	CHECK_EQ(req.argc, 3);
	CHECK_STR(req.argv[0], "balloon");
	CHECK_STR(req.argv[2], "64");

	CHECK_EQ(mgmt_parse_request("LKVM/1 info", &req), 0);
	CHECK_EQ(req.argc, 1);
	CHECK_EQ(mgmt_parse_request("LKVM/2 info", &req), -EPROTO);
	CHECK_EQ(mgmt_parse_request("LKVM/10 info", &req), -EPROTO);
	CHECK_EQ(mgmt_parse_request("info", &req), -EPROTO);
	CHECK_EQ(mgmt_parse_request("", &req), -EPROTO);
	CHECK_EQ(mgmt_parse_request("LKVM/1", &req), -EINVAL);
	CHECK_EQ(mgmt_parse_request("LKVM/1 ", &req), -EINVAL);
	CHECK_EQ(mgmt_parse_request("LKVM/1 a  b", &req), -EINVAL);
	CHECK_EQ(mgmt_parse_request("LKVM/1 a b ", &req), -EINVAL);
	CHECK_EQ(mgmt_parse_request("LKVM/1 a\tb", &req), -EINVAL);
	CHECK_EQ(mgmt_parse_request("LKVM/1 a b c d", &req), 0);
	CHECK_EQ(mgmt_parse_request("LKVM/1 a b c d e", &req), -EINVAL);
	/* The longest line that fits with its newline, and one byte more. */
	memset(big, 'x', sizeof(big));
	memcpy(big, "LKVM/1 ", 7);
	big[MGMT_LINE_MAX - 1] = '\0';
	CHECK_EQ(mgmt_parse_request(big, &req), 0);
	big[MGMT_LINE_MAX - 1] = 'x';
	big[MGMT_LINE_MAX] = '\0';
	CHECK_EQ(mgmt_parse_request(big, &req), -EINVAL);

	CHECK_EQ(mgmt_format_request(line, sizeof(line), 0, words), -EINVAL);
	CHECK_EQ(mgmt_format_request(line, sizeof(line), 1, (const char *[]){ "two words" }), -EINVAL);
	CHECK_EQ(mgmt_format_request(line, sizeof(line), 1, (const char *[]){ "" }), -EINVAL);
	CHECK_EQ(mgmt_format_request(line, 12, 3, words), -E2BIG);
}

static void test_reply_kinds(void)
{
	const char *t;

	CHECK_EQ(mgmt_reply_kind("OK", &t), MGMT_REPLY_OK);
	CHECK_EQ(mgmt_reply_kind("DATA state=paused", &t), MGMT_REPLY_DATA);
	CHECK_STR(t, "state=paused");
	CHECK_EQ(mgmt_reply_kind("DATA", &t), MGMT_REPLY_DATA);
	CHECK_STR(t, "");
	CHECK_EQ(mgmt_reply_kind("ERR no such thing", &t), MGMT_REPLY_ERR);
	CHECK_STR(t, "no such thing");
	CHECK_EQ(mgmt_reply_kind("OKAY", &t), MGMT_REPLY_BAD);
	CHECK_EQ(mgmt_reply_kind("DATAx", &t), MGMT_REPLY_BAD);
	CHECK_EQ(mgmt_reply_kind("", &t), MGMT_REPLY_BAD);
}

/* Number arguments: digits only, no sign, space or suffix, at most max. */
static void test_number_arguments(void)
{
	u64 v = 7;

	CHECK(mgmt_parse_u64("0", 10, &v));
	CHECK_EQ(v, 0);
	CHECK(mgmt_parse_u64("4294967296", MGMT_BALLOON_MAX_MIB, &v));
	CHECK_EQ(v, MGMT_BALLOON_MAX_MIB);
	v = 7;
	CHECK(!mgmt_parse_u64("4294967297", MGMT_BALLOON_MAX_MIB, &v));
	CHECK(!mgmt_parse_u64("18446744073709551616", UINT64_MAX, &v));	/* ERANGE */
	CHECK(!mgmt_parse_u64("", 10, &v));
	CHECK(!mgmt_parse_u64("-1", 10, &v));
	CHECK(!mgmt_parse_u64("+1", 10, &v));
	CHECK(!mgmt_parse_u64(" 1", 10, &v));
	CHECK(!mgmt_parse_u64("1 ", 10, &v));
	CHECK(!mgmt_parse_u64("1k", 10, &v));
	CHECK(!mgmt_parse_u64("0x1", 10, &v));
	CHECK_EQ(v, 7);		/* untouched when refused */
}

static void test_line_reader(void)
{
	struct mgmt_reader r;
	char line[MGMT_LINE_MAX], big[MGMT_LINE_MAX + 10];
	struct timeval tv = { .tv_usec = 100000 };
	int sv[2];

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	mgmt_reader_init(&r, sv[0]);
	CHECK(write(sv[1], "DATA a\nDA", 9) == 9);
	CHECK_EQ(mgmt_read_line(&r, line, sizeof(line)), 6);
	CHECK_STR(line, "DATA a");
	CHECK(write(sv[1], "TA b\nOK\n", 8) == 8);
	CHECK_EQ(mgmt_read_line(&r, line, sizeof(line)), 6);
	CHECK_STR(line, "DATA b");
	CHECK_EQ(mgmt_read_line(&r, line, sizeof(line)), 2);
	CHECK_STR(line, "OK");
	/* Nothing more for a while: a timeout, not a hang. */
	setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	CHECK_EQ(mgmt_read_line(&r, line, sizeof(line)), -ETIMEDOUT);
	/* A line longer than the protocol allows. */
	memset(big, 'x', sizeof(big));
	CHECK(write(sv[1], big, sizeof(big)) == (ssize_t)sizeof(big));
	CHECK_EQ(mgmt_read_line(&r, line, sizeof(line)), -E2BIG);
	close(sv[1]);
	close(sv[0]);

	/* EOF: clean between lines, an error in the middle of one. */
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	mgmt_reader_init(&r, sv[0]);
	CHECK(write(sv[1], "OK\npart", 7) == 7);
	close(sv[1]);
	CHECK_EQ(mgmt_read_line(&r, line, sizeof(line)), 2);
	CHECK_EQ(mgmt_read_line(&r, line, sizeof(line)), -EPIPE);
	close(sv[0]);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	mgmt_reader_init(&r, sv[0]);
	close(sv[1]);
	CHECK_EQ(mgmt_read_line(&r, line, sizeof(line)), 0);
	close(sv[0]);
}

/* ---- the server, on a VM without vCPUs ---- */

static struct kvm vm;
static struct lkvm_config cfg;
static char sock_path[MGMT_PATH_MAX];

/* Send a raw line; collect the reply (all lines, '|'-separated). */
static int raw_request(const char *line, char *reply, size_t size)
{
	struct mgmt_reader r;
	char buf[MGMT_LINE_MAX];
	int fd = mgmt_connect(sock_path, 2000);
	ssize_t n;

	reply[0] = '\0';
	if (fd < 0)
		return fd;
	mgmt_write_all(fd, line, strlen(line));
	mgmt_reader_init(&r, fd);
	while ((n = mgmt_read_line(&r, buf, sizeof(buf))) > 0) {
		if (reply[0])
			strncat(reply, "|", size - strlen(reply) - 1);
		strncat(reply, buf, size - strlen(reply) - 1);
		if (!strcmp(buf, "OK") || !strncmp(buf, "ERR", 3))
			break;
	}
	return fd;
}

static int request(const char *line, char *reply, size_t size)
{
	int fd = raw_request(line, reply, size);

	if (fd >= 0)
		close(fd);
	return fd < 0 ? fd : 0;
}

static void vm_setup(void)
{
	pthread_mutex_init(&vm.stop_lock, NULL);
	pthread_cond_init(&vm.stop_cond, NULL);
	vm.cfg = &cfg;
	vm.ram_size = 64ULL << 20;
	vm.nr_cpus = 0;
}

/* No usable socket directory: the VM runs, unmanaged, with a warning. */
static void test_server_without_directory(void)
{
	vm_setup();
	setenv("XDG_RUNTIME_DIR", "/proc/self/no-such-dir", 1);
	CHECK_EQ(mgmt_server_start(&vm, "unit-vm"), 0);
	mgmt_server_stop();
}

/*
 * Another process serves "unit-vm": we are refused the name.  Then that
 * process is SIGKILLed, leaving its socket behind, stale.
 */
static void test_duplicate_name(void)
{
	int ready[2], status;
	char c;
	pid_t pid;

	set_runtime_dir("srv");
	vm_setup();
	CHECK(pipe(ready) == 0);
	pid = fork();
	if (pid == 0) {
		if (mgmt_server_start(&vm, "unit-vm"))
			_exit(1);
		c = 'r';
		if (write(ready[1], &c, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	CHECK(pid > 0 && read(ready[0], &c, 1) == 1);
	CHECK_EQ(mgmt_server_start(&vm, "unit-vm"), -EEXIST);
	CHECK_EQ(mgmt_socket_path("unit-vm", false, sock_path, sizeof(sock_path)), 0);
	kill(pid, SIGKILL);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(access(sock_path, F_OK) == 0);
	close(ready[0]);
	close(ready[1]);
}

/* The stale socket of the killed VM is taken over. */
static void test_server_start(void)
{
	struct stat st;
	char reply[1024], want[256];

	CHECK_EQ(mgmt_server_start(&vm, "bad/name"), -EINVAL);
	CHECK_EQ(mgmt_server_start(&vm, "unit-vm"), 0);
	CHECK_EQ(mgmt_server_start(&vm, "unit-vm"), -EBUSY);
	CHECK(stat(sock_path, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0600);
	CHECK_EQ(request("LKVM/1 info\n", reply, sizeof(reply)), 0);
	snprintf(want, sizeof(want), "DATA name=unit-vm pid=%d state=running cpus=0 "
		 "mem_mib=64 balloon=no|OK", (int)getpid());
	CHECK_STR(reply, want);
}

static void test_server_errors(void)
{
	char reply[1024];

	CHECK_EQ(request("LKVM/9 info\n", reply, sizeof(reply)), 0);
	CHECK_STR(reply, "ERR unsupported protocol (this lkvm speaks LKVM/1)");
	CHECK_EQ(request("hello\n", reply, sizeof(reply)), 0);
	CHECK(!strncmp(reply, "ERR unsupported protocol", 24));
	CHECK_EQ(request("LKVM/1 frobnicate\n", reply, sizeof(reply)), 0);
	CHECK_STR(reply, "ERR unknown command 'frobnicate'");
	CHECK_EQ(request("LKVM/1 info extra\n", reply, sizeof(reply)), 0);
	CHECK_STR(reply, "ERR wrong number of arguments for 'info'");
	CHECK_EQ(request("LKVM/1 a  b\n", reply, sizeof(reply)), 0);
	CHECK_STR(reply, "ERR malformed request");
	CHECK_EQ(request("LKVM/1 balloon inflate 64\n", reply, sizeof(reply)), 0);
	CHECK_STR(reply, "ERR this VM has no balloon device (start it with --balloon)");
	CHECK_EQ(request("LKVM/1 stat memory\n", reply, sizeof(reply)), 0);
	CHECK(!strncmp(reply, "ERR this VM has no balloon", 26));
	CHECK_EQ(request("LKVM/1 nmi 0\n", reply, sizeof(reply)), 0);
	CHECK(!strncmp(reply, "ERR no vCPU '0'", 15));
	CHECK_EQ(request("LKVM/1 sysrq hh\n", reply, sizeof(reply)), 0);
	CHECK_STR(reply, "ERR a sysrq key is one character, not 'hh'");
	/* A client that connects and says nothing does not block others. */
	{
		int idle = mgmt_connect(sock_path, 2000);

		CHECK(idle >= 0);
		close(idle);
	}
	CHECK_EQ(request("LKVM/1 info\n", reply, sizeof(reply)), 0);
	CHECK(!strncmp(reply, "DATA name=unit-vm", 17));
}

static void test_pause_resume(void)
{
	char reply[1024];

	CHECK_EQ(request("LKVM/1 pause\n", reply, sizeof(reply)), 0);
	CHECK_STR(reply, "DATA state=paused|OK");
	CHECK(vm.paused);
	CHECK_EQ(request("LKVM/1 stat\n", reply, sizeof(reply)), 0);
	CHECK(strstr(reply, "|DATA state=paused|") != NULL);
	CHECK_EQ(request("LKVM/1 resume\n", reply, sizeof(reply)), 0);
	CHECK_STR(reply, "DATA state=running|OK");
	CHECK(!vm.paused);
	/* Through the subcommands, as a user would. */
	CHECK_EQ(cmd_pause(3, (char *[]){ "pause", "--name", "unit-vm", NULL }), 0);
	CHECK(vm.paused);
	CHECK_EQ(cmd_resume(3, (char *[]){ "resume", "--name", "unit-vm", NULL }), 0);
	CHECK(!vm.paused);
}

/*
 * vCPUs created, their threads not started yet (the window between
 * mgmt_server_start() and kvm_cpus_start()): "pause" must not signal a
 * thread that does not exist (it used to pthread_kill an unset id).  The
 * VM is marked paused, so the threads will wait when they start.
 */
static void test_pause_before_vcpu_threads(void)
{
	static struct kvm_run runs[2];
	static struct kvm_cpu cpus[2];
	struct kvm_cpu *list[2] = { &cpus[0], &cpus[1] };
	char reply[1024];

	for (unsigned int i = 0; i < 2; i++) {
		cpus[i] = (struct kvm_cpu){ .id = i, .fd = -1, .run = &runs[i], .kvm = &vm };
		pthread_mutex_init(&cpus[i].work_lock, NULL);
		pthread_cond_init(&cpus[i].work_done, NULL);
	}
	vm.cpus = list;
	vm.nr_cpus = 2;
	CHECK_EQ(request("LKVM/1 pause\n", reply, sizeof(reply)), 0);
	CHECK_STR(reply, "DATA state=paused|OK");
	CHECK(vm.paused);
	CHECK_EQ(runs[0].immediate_exit, 1);	/* the first KVM_RUN returns at once */
	CHECK_EQ(request("LKVM/1 resume\n", reply, sizeof(reply)), 0);
	CHECK_STR(reply, "DATA state=running|OK");
	vm.nr_cpus = 0;
	vm.cpus = NULL;
}

static void test_client_arguments(void)
{
	CHECK_EQ(cmd_pause(1, (char *[]){ "pause", NULL }), 2);
	CHECK_EQ(cmd_pause(4, (char *[]){ "pause", "--name", "x", "extra", NULL }), 2);
	CHECK_EQ(cmd_pause(2, (char *[]){ "pause", "--bogus", NULL }), 2);
	CHECK_EQ(cmd_stop(1, (char *[]){ "stop", NULL }), 2);
	CHECK_EQ(cmd_stop(4, (char *[]){ "stop", "--all", "--name", "x", NULL }), 2);
	CHECK_EQ(cmd_balloon(3, (char *[]){ "balloon", "--name", "x", NULL }), 2);
	CHECK_EQ(cmd_balloon(5, (char *[]){ "balloon", "--name", "x", "--inflate", "-4", NULL }), 2);
	CHECK_EQ(cmd_balloon(5, (char *[]){ "balloon", "--name", "x", "--inflate", "0", NULL }), 2);
	CHECK_EQ(cmd_balloon(7, (char *[]){ "balloon", "--name", "x", "--inflate", "1",
					    "--deflate", "1", NULL }), 2);
	CHECK_EQ(cmd_debug(3, (char *[]){ "debug", "--name", "x", NULL }), 2);
	CHECK_EQ(cmd_debug(5, (char *[]){ "debug", "--name", "x", "--sysrq", "ab", NULL }), 2);
	CHECK_EQ(cmd_debug(5, (char *[]){ "debug", "--name", "x", "--nmi", "z", NULL }), 2);
	CHECK_EQ(cmd_stat(2, (char *[]){ "stat", "--memory", NULL }), 2);
	CHECK_EQ(cmd_list(2, (char *[]){ "list", "extra", NULL }), 2);
	/* Well-formed, but no such VM. */
	CHECK_EQ(cmd_pause(3, (char *[]){ "pause", "--name", "nobody", NULL }), 1);
	CHECK_EQ(cmd_stat(3, (char *[]){ "stat", "--name", "nobody", NULL }), 1);
	CHECK_EQ(cmd_pause(3, (char *[]){ "pause", "--name", "../etc", NULL }), 1);
	/* A VM that refuses: the status says so. */
	CHECK_EQ(cmd_balloon(5, (char *[]){ "balloon", "--name", "unit-vm", "--inflate", "8",
					    NULL }), 1);
}

/* A socket nobody listens on: list removes it, and so does a command. */
static void make_stale(const char *name, char *path, size_t size)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	mgmt_socket_path(name, false, path, size);
	strcpy(addr.sun_path, path);
	CHECK(bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0);
	close(fd);
}

static void test_stale_sockets(void)
{
	char path[MGMT_PATH_MAX];

	make_stale("dead-vm", path, sizeof(path));
	CHECK_EQ(cmd_list(1, (char *[]){ "list", NULL }), 0);
	CHECK(access(path, F_OK) < 0 && errno == ENOENT);
	CHECK(access(sock_path, F_OK) == 0);	/* the live one stays */

	/* A command to a dead VM says it is not running, and cleans up. */
	make_stale("dead-vm", path, sizeof(path));
	CHECK_EQ(cmd_resume(3, (char *[]){ "resume", "--name", "dead-vm", NULL }), 1);
	CHECK(access(path, F_OK) < 0);
}

static void test_stop(void)
{
	char reply[256], c;
	int fd;

	fd = raw_request("LKVM/1 stop\n", reply, sizeof(reply));
	CHECK(fd >= 0);
	CHECK_STR(reply, "OK");
	CHECK_EQ(vm.stop_reason, VM_STOP_USER);
	CHECK_EQ(request("LKVM/1 info\n", reply, sizeof(reply)), 0);
	CHECK(strstr(reply, "state=stopping") != NULL);
	/* The connection stays open until the VM is gone. */
	{
		struct timeval tv = { .tv_usec = 100000 };

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		CHECK(read(fd, &c, 1) < 0 && errno == EAGAIN);
	}
	mgmt_server_stop();
	CHECK_EQ(read(fd, &c, 1), 0);
	close(fd);
	CHECK(access(sock_path, F_OK) < 0 && errno == ENOENT);
	mgmt_server_stop();	/* idempotent */
	CHECK_EQ(cmd_stop(3, (char *[]){ "stop", "--name", "unit-vm", NULL }), 1);
	CHECK_EQ(cmd_stop(2, (char *[]){ "stop", "--all", NULL }), 0);
}

/* ---- out of descriptors ---- */

/* One request on a fresh connection; true if a DATA or OK line came back. */
static bool child_request(const char *line, int keep_open)
{
	struct mgmt_reader r;
	char buf[MGMT_LINE_MAX];
	int fd = mgmt_connect(sock_path, 10000);
	bool ok;

	if (fd < 0)
		return false;
	mgmt_write_all(fd, line, strlen(line));
	mgmt_reader_init(&r, fd);
	ok = mgmt_read_line(&r, buf, sizeof(buf)) > 0 &&
	     (!strncmp(buf, "DATA", 4) || !strcmp(buf, "OK"));
	if (!keep_open)
		close(fd);
	return ok;
}

static double cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
	       (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/*
 * The process runs out of descriptors (RLIMIT_NOFILE lowered, the rest
 * held): the server still answers one client with its spare descriptor;
 * once a "stop" client holds that slot, a third client waits in the
 * backlog while the server sleeps between tries (the process's CPU time
 * stays low, where accept4() failing with EMFILE used to spin), and is
 * answered as soon as descriptors are free again.
 */
static void test_server_out_of_descriptors(void)
{
	struct rlimit saved, low;
	int hog[64], nr_hog = 0, res[2], status, n;
	char got[4] = { 0 };
	double cpu;
	pid_t pid;

	set_runtime_dir("emfile");
	vm_setup();
	CHECK_EQ(mgmt_server_start(&vm, "emfile-vm"), 0);
	CHECK_EQ(mgmt_socket_path("emfile-vm", false, sock_path, sizeof(sock_path)), 0);
	CHECK(pipe(res) == 0);
	getrlimit(RLIMIT_NOFILE, &saved);
	low = saved;
	low.rlim_cur = (rlim_t)res[1] + 32;
	CHECK_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
	while (nr_hog < 64 && (hog[nr_hog] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
		nr_hog++;
	CHECK(nr_hog < 64 && errno == EMFILE);

	pid = fork();
	if (pid == 0) {
		for (int i = 0; i < 4; i++)
			close(hog[i]);	/* room for the client's own sockets */
		got[0] = child_request("LKVM/1 info\n", false) ? 'A' : 'a';
		got[1] = child_request("LKVM/1 stop\n", true) ? 'S' : 's';
		if (write(res[1], got, 2) != 2)
			_exit(1);
		got[2] = child_request("LKVM/1 info\n", false) ? 'R' : 'r';
		_exit(write(res[1], got + 2, 1) == 1 ? 0 : 1);
	}
	CHECK(pid > 0);
	CHECK_EQ(read(res[0], got, 2), 2);
	CHECK_EQ(got[0], 'A');	/* answered while exhausted: the spare */
	CHECK_EQ(got[1], 'S');
	usleep(200000);
	cpu = cpu_seconds();
	sleep(2);
	cpu = cpu_seconds() - cpu;
	CHECK(cpu < 0.3);
	fcntl(res[0], F_SETFL, O_NONBLOCK);
	CHECK(read(res[0], got + 2, 1) < 0);	/* the third one still waits */

	while (nr_hog > 0)
		close(hog[--nr_hog]);
	setrlimit(RLIMIT_NOFILE, &saved);
	for (int i = 0; i < 50 && (n = (int)read(res[0], got + 2, 1)) < 0; i++)
		usleep(100000);
	CHECK_EQ(got[2], 'R');	/* answered once descriptors are free */
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	      WEXITSTATUS(status) == 0);
	close(res[0]);
	close(res[1]);
	mgmt_server_stop();
	printf("  (CPU time over 2 s out of descriptors: %.3f s)\n", cpu);
}

int main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test-mgmt.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 2;
	}
	RUN(test_names);
	RUN(test_dir_and_path);
	RUN(test_request_lines);
	RUN(test_reply_kinds);
	RUN(test_number_arguments);
	RUN(test_line_reader);
	RUN(test_server_without_directory);
	RUN(test_duplicate_name);
	RUN(test_server_start);
	RUN(test_server_errors);
	RUN(test_pause_resume);
	RUN(test_pause_before_vcpu_threads);
	RUN(test_client_arguments);
	RUN(test_stale_sockets);
	RUN(test_stop);
	RUN(test_server_out_of_descriptors);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd))
			fprintf(stderr, "could not remove %s\n", tmpdir);
	}
	return unit_summary();
}
