/*
 * The management server of `lkvm run`: one thread that accepts
 * connections on the VM's control socket and answers one request per
 * connection (protocol in include/lkvm/mgmt.h).  Requests are served one
 * at a time; each is short (the longest waits STATS_TIMEOUT_MS for the
 * guest's memory statistics), and every socket operation has a timeout so
 * a stuck client cannot hold the server.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "lkvm/kvm.h"
#include "lkvm/kvm-arch.h"
#include "lkvm/kvm-cpu.h"
#include "lkvm/log.h"
#include "lkvm/mgmt.h"
#include "lkvm/virtio-balloon.h"
#include "lkvm/sandbox.h"
#include "lkvm/vhost.h"

#define IO_TIMEOUT_MS 5000
#define STATS_TIMEOUT_MS 3000
#define MAX_STOP_WAITERS 16

/*
 * Break + key on the guest's serial console, for `lkvm debug --sysrq`:
 * provided by the architecture code that owns the console UART.  Weak so
 * that, until it exists, the request is refused with a message.
 */
int kvm_arch_console_sysrq(struct kvm *kvm, u8 key) __attribute__((weak));

struct mgmt_server {
	struct kvm *kvm;
	char name[MGMT_NAME_MAX + 1];
	char path[MGMT_PATH_MAX];
	int listen_fd;
	int wake_fd;			/* eventfd: leave the accept loop */
	int spare_fd;			/* given up to accept when out of descriptors */
	dev_t sock_dev;			/* our socket file, so that only it is removed */
	ino_t sock_ino;
	bool sock_bound;		/* atomic: the file is ours to remove */
	pthread_t thread;
	bool running;
	int waiters[MAX_STOP_WAITERS];	/* "stop" clients waiting for our exit */
	unsigned int nr_waiters;
};

static struct mgmt_server server = { .listen_fd = -1, .wake_fd = -1, .spare_fd = -1 };

/* One request being served. */
struct session {
	struct kvm *kvm;
	int fd;
	bool keep_open;
	char err[200];
};

static void reply_line(struct session *s, const char *kind, const char *fmt, va_list ap)
{
	char line[MGMT_LINE_MAX];
	int n = snprintf(line, sizeof(line), "%s ", kind);

	vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	/* A reply line never contains a newline of its own. */
	for (char *p = line; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	strcat(line, "\n");
	mgmt_write_all(s->fd, line, strlen(line));
}

static void __attribute__((format(printf, 2, 3))) data(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_line(s, "DATA", fmt, ap);
	va_end(ap);
}

/* Record why the request failed; the caller returns the -1 to send ERR. */
static int __attribute__((format(printf, 2, 3))) fail(struct session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
	return -1;
}

static const char *vm_state(struct kvm *kvm)
{
	if (kvm_stopping(kvm))
		return "stopping";
	return kvm_cpus_paused(kvm) ? "paused" : "running";
}

/* vCPU i, or NULL while the vCPUs are still being created. */
static struct kvm_cpu *vcpu(struct kvm *kvm, unsigned int i)
{
	struct kvm_cpu **cpus = __atomic_load_n(&kvm->cpus, __ATOMIC_ACQUIRE);

	return cpus && i < kvm->nr_cpus ? __atomic_load_n(&cpus[i], __ATOMIC_ACQUIRE) : NULL;
}

/* ---- commands ---- */

static int do_info(struct session *s, int argc, char **argv)
{
	struct kvm *kvm = s->kvm;

	data(s, "name=%s pid=%d state=%s cpus=%u mem_mib=%llu balloon=%s",
	     server.name, (int)getpid(), vm_state(kvm), kvm->nr_cpus,
	     (unsigned long long)(kvm->ram_size >> 20),
	     virtio_balloon_find(kvm) ? "yes" : "no");
	return 0;
}

static int do_stop(struct session *s, int argc, char **argv)
{
	pr_info("stop requested through the control socket");
	kvm_request_stop(s->kvm, VM_STOP_USER);
	s->keep_open = true;
	return 0;
}

static int nothing(struct kvm_cpu *cpu, void *arg)
{
	return 0;
}

/*
 * Returns once no vCPU is in the guest: each has run a no-op between two
 * KVM_RUNs after the pause flag was set, and checks the flag right after.
 */
static int do_pause(struct session *s, int argc, char **argv)
{
	kvm_cpus_pause(s->kvm);
	for (unsigned int i = 0; i < s->kvm->nr_cpus; i++) {
		struct kvm_cpu *cpu = vcpu(s->kvm, i);

		if (cpu)
			kvm_cpu_run_on(cpu, nothing, NULL);
	}
	data(s, "state=%s", vm_state(s->kvm));
	return 0;
}

static int do_resume(struct session *s, int argc, char **argv)
{
	kvm_cpus_resume(s->kvm);
	data(s, "state=%s", vm_state(s->kvm));
	return 0;
}

static void balloon_report(struct session *s, struct virtio_device *b)
{
	u64 target, actual;

	virtio_balloon_get(b, &target, &actual);
	data(s, "balloon_target_mib=%llu", (unsigned long long)(target / BALLOON_PAGES_PER_MIB));
	data(s, "balloon_actual_mib=%llu", (unsigned long long)(actual / BALLOON_PAGES_PER_MIB));
}

static int do_balloon(struct session *s, int argc, char **argv)
{
	struct virtio_device *b = virtio_balloon_find(s->kvm);
	u64 mib, target, actual, pages, ram_mib = s->kvm->ram_size >> 20;
	bool inflate = !strcmp(argv[1], "inflate");

	if (!b)
		return fail(s, "this VM has no balloon device (start it with --balloon)");
	if ((!inflate && strcmp(argv[1], "deflate")) ||
	    !mgmt_parse_u64(argv[2], MGMT_BALLOON_MAX_MIB, &mib) || !mib)
		return fail(s, "usage: balloon inflate|deflate MIB");
	virtio_balloon_get(b, &target, &actual);
	pages = mib * BALLOON_PAGES_PER_MIB;
	if (inflate)
		target += pages;
	else
		target = target > pages ? target - pages : 0;
	if (virtio_balloon_set_target(b, target))
		return fail(s, "cannot inflate the balloon to %llu MiB: the guest has %llu MiB",
			    (unsigned long long)(target / BALLOON_PAGES_PER_MIB),
			    (unsigned long long)ram_mib);
	balloon_report(s, b);
	return 0;
}

static int memory_stats(struct session *s)
{
	struct virtio_device *b = virtio_balloon_find(s->kvm);
	struct balloon_stats st;

	if (!b)
		return fail(s, "this VM has no balloon device (start it with --balloon)");
	if (virtio_balloon_stats(b, STATS_TIMEOUT_MS, &st) < 0)
		return fail(s, "the guest has sent no memory statistics (no balloon driver?)");
	data(s, "fresh=%s", st.fresh ? "yes" : "no");
	for (unsigned int tag = 0; tag < BALLOON_STATS_MAX; tag++)
		if (st.present & (1u << tag))
			data(s, "%s=%llu", balloon_stat_name(tag),
			     (unsigned long long)st.value[tag]);
	return 0;
}

/* Which way vhost's interrupts go: the call thread's count, irqfd rings. */
static void vhost_report(struct session *s)
{
	struct vhost_irq_stats st;

	vhost_irq_stats(&st);
	data(s, "vhost_thread_signals=%llu", (unsigned long long)st.thread_signals);
	data(s, "vhost_lkvm_kicks=%llu", (unsigned long long)st.lkvm_kicks);
	data(s, "vhost_irqfd_rings=%u", st.direct_rings);
	data(s, "vhost_thread_rings=%u", st.thread_rings);
}

static int do_stat(struct session *s, int argc, char **argv)
{
	struct kvm *kvm = s->kvm;
	struct virtio_device *b = virtio_balloon_find(kvm);

	if (argc == 2) {
		if (strcmp(argv[1], "memory"))
			return fail(s, "usage: stat [memory]");
		return memory_stats(s);
	}
	data(s, "name=%s", server.name);
	data(s, "pid=%d", (int)getpid());
	data(s, "state=%s", vm_state(kvm));
	data(s, "cpus=%u", kvm->nr_cpus);
	data(s, "mem_mib=%llu", (unsigned long long)(kvm->ram_size >> 20));
	if (b)
		balloon_report(s, b);
	vhost_report(s);
	return 0;
}

struct regs_request {
	char buf[4096];
	struct reg_text t;
};

static int read_regs(struct kvm_cpu *cpu, void *arg)
{
	struct regs_request *r = arg;

	r->t = (struct reg_text){ .buf = r->buf, .size = sizeof(r->buf) };
	r->buf[0] = '\0';
	return kvm_cpu_arch_format_regs(cpu, &r->t);
}

/* One data line per line of the architecture's register text. */
static void send_regs(struct session *s, unsigned int id, char *text)
{
	char *save, *line;

	data(s, "vCPU %u:", id);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		data(s, "%s", line);
}

static int do_dump(struct session *s, int argc, char **argv)
{
	for (unsigned int i = 0; i < s->kvm->nr_cpus; i++) {
		struct kvm_cpu *cpu = vcpu(s->kvm, i);
		struct regs_request *regs = malloc(sizeof(*regs));
		int ret = !regs ? -ENOMEM : cpu ? kvm_cpu_run_on(cpu, read_regs, regs) : -ESRCH;

		if (ret == -ESRCH)
			data(s, "vCPU %u: not running", i);
		else if (ret < 0)
			data(s, "vCPU %u: cannot read registers: %s", i, strerror(-ret));
		else
			send_regs(s, i, regs->buf);
		free(regs);
	}
	return 0;
}

static int inject_nmi(struct kvm_cpu *cpu, void *arg)
{
	return kvm_cpu_arch_nmi(cpu);
}

static int do_nmi(struct session *s, int argc, char **argv)
{
	struct kvm_cpu *cpu;
	u64 id;
	int ret;

	if (!mgmt_parse_u64(argv[1], UINT32_MAX, &id) || id >= s->kvm->nr_cpus)
		return fail(s, "no vCPU '%s': this VM has %u (numbered from 0)", argv[1],
			    s->kvm->nr_cpus);
	cpu = vcpu(s->kvm, id);
	ret = cpu ? kvm_cpu_run_on(cpu, inject_nmi, NULL) : -ESRCH;
	if (ret == -ENOTSUP)
		return fail(s, "NMIs are not supported on this architecture");
	if (ret < 0)
		return fail(s, "NMI to vCPU %llu failed: %s", (unsigned long long)id,
			    strerror(-ret));
	return 0;
}

static int do_sysrq(struct session *s, int argc, char **argv)
{
	int ret;

	if (strlen(argv[1]) != 1)
		return fail(s, "a sysrq key is one character, not '%s'", argv[1]);
	if (!kvm_arch_console_sysrq)
		return fail(s, "sysrq is not supported: the serial console model cannot send a break yet");
	ret = kvm_arch_console_sysrq(s->kvm, (u8)argv[1][0]);
	if (ret < 0)
		return fail(s, "cannot send sysrq: %s", strerror(-ret));
	return 0;
}

struct command {
	const char *name;
	int min_argc, max_argc;		/* counting the command word */
	int (*run)(struct session *s, int argc, char **argv);
};

static const struct command commands[] = {
	{ "info", 1, 1, do_info },
	{ "stop", 1, 1, do_stop },
	{ "pause", 1, 1, do_pause },
	{ "resume", 1, 1, do_resume },
	{ "balloon", 3, 3, do_balloon },
	{ "stat", 1, 2, do_stat },
	{ "dump", 1, 1, do_dump },
	{ "nmi", 2, 2, do_nmi },
	{ "sysrq", 2, 2, do_sysrq },
};

static int dispatch(struct session *s, struct mgmt_request *req)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		const struct command *c = &commands[i];

		if (strcmp(req->argv[0], c->name))
			continue;
		if (req->argc < c->min_argc || req->argc > c->max_argc)
			return fail(s, "wrong number of arguments for '%s'", c->name);
		return c->run(s, req->argc, req->argv);
	}
	return fail(s, "unknown command '%s'", req->argv[0]);
}

/* ---- connections ---- */

/* Only our own user (or root) may command the VM, whatever the file mode. */
static bool peer_allowed(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return false;
	return cred.uid == geteuid() || cred.uid == 0;
}

static void set_timeouts(int fd, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static void serve_request(struct session *s, const char *line)
{
	struct mgmt_request req;
	int ret = mgmt_parse_request(line, &req);

	if (ret == -EPROTO)
		ret = fail(s, "unsupported protocol (this lkvm speaks %s)", MGMT_PROTO);
	else if (ret)
		ret = fail(s, "malformed request");
	else
		ret = dispatch(s, &req);
	if (ret) {
		char line[MGMT_LINE_MAX];

		snprintf(line, sizeof(line), "ERR %s\n", s->err);
		mgmt_write_all(s->fd, line, strlen(line));
	} else {
		mgmt_write_all(s->fd, "OK\n", 3);
	}
}

static void serve(struct mgmt_server *srv, int fd)
{
	struct session s = { .kvm = srv->kvm, .fd = fd };
	struct mgmt_reader r;
	char line[MGMT_LINE_MAX];

	set_timeouts(fd, IO_TIMEOUT_MS);
	if (!peer_allowed(fd)) {
		close(fd);
		return;
	}
	mgmt_reader_init(&r, fd);
	if (mgmt_read_line(&r, line, sizeof(line)) > 0)
		serve_request(&s, line);
	/* After "stop", our exit closes the connection: the client's signal. */
	if (s.keep_open && srv->nr_waiters < MAX_STOP_WAITERS)
		srv->waiters[srv->nr_waiters++] = fd;
	else
		close(fd);
}

#define BACKOFF_MS 100

/*
 * A duplicate of the listening socket: the mgmt thread is sandboxed and
 * may not open files, only duplicate the descriptors it has.
 */
static int open_spare(void)
{
	return fcntl(server.listen_fd, F_DUPFD_CLOEXEC, 0);
}

/*
 * Out of descriptors (EMFILE, ENFILE): the pending client stays in the
 * backlog and the socket stays readable, so retrying at once would spin.
 * Give up the spare descriptor to take the client and answer it; without
 * a spare (a "stop" client holds its slot), wait a little before trying
 * again.  False: the thread should leave.
 */
static bool accept_when_exhausted(struct mgmt_server *srv, struct pollfd *wake)
{
	int fd = -1;

	if (srv->spare_fd >= 0) {
		close(srv->spare_fd);
		srv->spare_fd = -1;
		fd = accept4(srv->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	}
	if (fd >= 0) {
		serve(srv, fd);
	} else {
		pr_warn_ratelimited("control socket: out of file descriptors; "
				    "clients wait until some are free");
		if (poll(wake, 1, BACKOFF_MS) > 0)
			return false;
	}
	srv->spare_fd = open_spare();
	return true;
}

static void *server_thread(void *arg)
{
	struct mgmt_server *srv = arg;
	struct pollfd pfd[2] = {
		{ .fd = srv->listen_fd, .events = POLLIN },
		{ .fd = srv->wake_fd, .events = POLLIN },
	};

	pthread_setname_np(pthread_self(), "mgmt");
	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			pr_err("control socket: poll: %s", strerror(errno));
			return NULL;
		}
		if (pfd[1].revents)
			return NULL;
		if (srv->spare_fd < 0)
			srv->spare_fd = open_spare();
		if (pfd[0].revents & POLLIN) {
			int fd = accept4(srv->listen_fd, NULL, NULL, SOCK_CLOEXEC);

			if (fd >= 0)
				serve(srv, fd);
			else if ((errno == EMFILE || errno == ENFILE) &&
				 !accept_when_exhausted(srv, &pfd[1]))
				return NULL;
		}
	}
}

/* ---- the socket file ---- */

/* Remove the socket file if it is still the one we bound. */
static void remove_socket(void)
{
	struct stat st;

	if (!__atomic_exchange_n(&server.sock_bound, false, __ATOMIC_SEQ_CST))
		return;
	if (stat(server.path, &st) == 0 && st.st_dev == server.sock_dev &&
	    st.st_ino == server.sock_ino)
		unlink(server.path);
}

static int bind_listen(int fd, const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };

	strcpy(addr.sun_path, path);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return -errno;
	/* The 0700 directory already keeps others out; this is belt and braces. */
	if (chmod(path, 0600) < 0 || listen(fd, 16) < 0) {
		int err = -errno;

		unlink(path);
		return err;
	}
	return 0;
}

/*
 * Bind path, replacing a stale socket left by a VM that died; refuse when
 * a live VM answers there.  Called with the directory locked.
 */
static int claim_socket(int fd, const char *path, const char *name)
{
	int ret = bind_listen(fd, path);
	int probe;

	if (ret != -EADDRINUSE)
		return ret;
	probe = mgmt_connect(path, IO_TIMEOUT_MS);
	if (probe >= 0) {
		close(probe);
		pr_err("a VM named '%s' is already running (control socket %s): "
		       "choose another --name", name, path);
		return -EEXIST;
	}
	if (probe != -ECONNREFUSED)
		return probe;
	pr_debug("removing stale control socket %s", path);
	unlink(path);
	return bind_listen(fd, path);
}

static int open_socket(const char *name)
{
	char dir[MGMT_PATH_MAX];
	struct stat st;
	int lock, fd, ret;

	ret = mgmt_dir(dir, sizeof(dir), true);
	if (!ret)
		ret = mgmt_socket_path(name, false, server.path, sizeof(server.path));
	if (ret) {
		pr_err("cannot set up the control socket directory: %s%s", strerror(-ret),
		       ret == -ENOENT ? " (set XDG_RUNTIME_DIR or HOME)" : "");
		return ret;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	lock = mgmt_lock_dir(dir);
	ret = lock < 0 ? lock : claim_socket(fd, server.path, name);
	if (!ret && stat(server.path, &st) == 0) {
		server.sock_dev = st.st_dev;
		server.sock_ino = st.st_ino;
		__atomic_store_n(&server.sock_bound, true, __ATOMIC_SEQ_CST);
	}
	if (lock >= 0)
		close(lock);
	if (ret) {
		if (ret != -EEXIST)
			pr_err("cannot listen on %s: %s", server.path, strerror(-ret));
		close(fd);
		return ret;
	}
	return fd;
}

static int start_thread(void)
{
	sigset_t all, old;
	int err;

	/* Signals belong to lkvm's signal thread and the vCPU threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = sandbox_thread_create(&server.thread, NULL, SANDBOX_MGMT, server_thread, &server);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -err;
}

int mgmt_server_start(struct kvm *kvm, const char *name)
{
	static bool atexit_done;
	char generated[32];
	int ret;

	if (server.running)
		return -EBUSY;
	if (!name) {
		snprintf(generated, sizeof(generated), "guest-%d", (int)getpid());
		name = generated;
	}
	if (!mgmt_name_valid(name)) {
		pr_err("bad VM name '%s': use 1 to %d letters, digits, '.', '_' or '-'"
		       " (not '.' or '-' first)", name, MGMT_NAME_MAX);
		return -EINVAL;
	}
	strcpy(server.name, name);
	server.kvm = kvm;
	if (!atexit_done) {
		atexit(remove_socket);	/* die() and other exit() paths */
		atexit_done = true;
	}
	server.listen_fd = open_socket(name);
	if (server.listen_fd == -EEXIST)
		return -EEXIST;
	if (server.listen_fd < 0) {
		/* The VM itself can still run; it just cannot be managed. */
		pr_warn("running without a control socket: lkvm list/stop/... will not see this VM");
		server.listen_fd = -1;
		return 0;
	}
	server.wake_fd = eventfd(0, EFD_CLOEXEC);
	server.spare_fd = open_spare();
	ret = server.wake_fd < 0 ? -errno : start_thread();
	if (ret) {
		pr_err("cannot start the control socket server: %s", strerror(-ret));
		mgmt_server_stop();
		return ret;
	}
	server.running = true;
	if (name == generated)
		pr_info("VM name %s (control socket %s)", name, server.path);
	return 0;
}

void mgmt_server_stop(void)
{
	u64 one = 1;

	/* First the name goes, then clients waiting on "stop" see EOF. */
	remove_socket();
	if (server.running) {
		if (write(server.wake_fd, &one, sizeof(one)) < 0)
			pr_debug("control socket: wake: %s", strerror(errno));
		pthread_join(server.thread, NULL);
		server.running = false;
	}
	for (unsigned int i = 0; i < server.nr_waiters; i++)
		close(server.waiters[i]);
	server.nr_waiters = 0;
	if (server.listen_fd >= 0)
		close(server.listen_fd);
	if (server.wake_fd >= 0)
		close(server.wake_fd);
	if (server.spare_fd >= 0)
		close(server.spare_fd);
	server.listen_fd = server.wake_fd = server.spare_fd = -1;
}
