/*
 * The seccomp sandbox (contract in include/lkvm/sandbox.h).
 *
 * Each role's allowance is a list of groups (what any thread needs, what
 * raising a guest interrupt needs, ...).  sandbox_init() compiles every
 * role with libseccomp while lkvm is still unconfined and keeps the BPF
 * programs, so confining a thread later is two system calls and no
 * allocation.  Filters stack and intersect, and a thread inherits its
 * creator's: confined threads therefore never create threads themselves,
 * the launcher (whose filter is the union of every role) does it for them.
 *
 * A forbidden call raises SIGSYS (SCMP_ACT_TRAP); the handler writes one
 * line from data prepared here (a system call name table built at init,
 * since libseccomp's resolver is not async-signal-safe), runs the fatal
 * hook (the terminal is put back) and exits with LKVM_EXIT_SANDBOX.  It
 * may use only what every role allows: write, the stdin terminal ioctls,
 * exit_group.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/kvm.h>
#include <linux/seccomp.h>
#include <linux/if_tun.h>
#include <linux/vhost.h>
#include <malloc.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "lkvm/compiler.h"
#include "lkvm/log.h"
#include "lkvm/sandbox.h"

#define MAX_NR_NAMES 1024	/* system call numbers we can name in a report */
#define IOCTL_MASK 0xffffffffULL	/* the kernel reads the request as 32 bits */

struct rule {
	const char *name;
	u32 action;		/* 0: allow */
	unsigned int nr_cmp;
	struct scmp_arg_cmp cmp[2];
};

struct group {
	const struct rule *rules;	/* ends with a NULL name */
	const unsigned long *ioctls;	/* ends with 0 */
};

#define CMP(a, o, x, y) { .arg = (a), .op = (o), .datum_a = (x), .datum_b = (y) }
#define ALLOW(n) { .name = (n) }
#define ALLOW_IF(n, c) { .name = (n), .nr_cmp = 1, .cmp = { c } }
#define ALLOW_IF2(n, c1, c2) { .name = (n), .nr_cmp = 2, .cmp = { c1, c2 } }
/* (arg & bits) == 0 */
#define CLEAR(a, bits) CMP(a, SCMP_CMP_MASKED_EQ, (bits), 0)
#define EQ(a, v) CMP(a, SCMP_CMP_EQ, (v), 0)
#define END { .name = NULL }

/* ---- the groups ---- */

/*
 * Every thread: locks, memory (never executable), time, its own exit,
 * logging to stderr, signal returns, its name; the stdin terminal ioctls
 * let the SIGSYS handler restore the terminal.
 */
static const struct rule base_rules[] = {
	ALLOW("futex"), ALLOW("exit"), ALLOW("exit_group"), ALLOW("restart_syscall"),
	ALLOW("rt_sigreturn"), ALLOW("rt_sigprocmask"), ALLOW("sched_yield"),
	ALLOW("write"), ALLOW("clock_gettime"), ALLOW("clock_nanosleep"), ALLOW("nanosleep"),
	ALLOW("gettimeofday"), ALLOW("time"), ALLOW("getpid"), ALLOW("gettid"),
	ALLOW("brk"), ALLOW("munmap"), ALLOW("mremap"), ALLOW("madvise"), ALLOW("rseq"),
	ALLOW("sigaltstack"),	/* sanitizer runtimes set one per thread */
	ALLOW("rt_sigaction"),	/* fatal-signal paths reset to SIG_DFL */
	ALLOW_IF("mmap", CLEAR(2, PROT_EXEC)),
	ALLOW_IF("mprotect", CLEAR(2, PROT_EXEC)),
	ALLOW_IF("prctl", EQ(0, PR_SET_NAME)),
	ALLOW_IF2("ioctl", EQ(0, STDIN_FILENO), CMP(1, SCMP_CMP_MASKED_EQ, IOCTL_MASK, TCSETS)),
	ALLOW_IF2("ioctl", EQ(0, STDIN_FILENO), CMP(1, SCMP_CMP_MASKED_EQ, IOCTL_MASK, TCGETS)),
	END
};

/* Raising a guest interrupt: IRQ lines, MSIs, a route and irqfd on first use. */
static const struct rule irq_rules[] = {
	ALLOW("eventfd2"), ALLOW("close"), END
};
static const unsigned long irq_ioctls[] = {
	KVM_IRQ_LINE, KVM_SIGNAL_MSI, KVM_SET_GSI_ROUTING, KVM_IRQFD, 0
};

/*
 * Queue notifications (on a vCPU or the ioeventfd thread): wake device
 * threads and vhost (eventfd writes), rng's getrandom, balloon's madvise.
 */
static const struct rule notify_rules[] = {
	ALLOW("read"), ALLOW("getrandom"), END
};

/*
 * Device status and transport registers, on vCPUs: activation and reset
 * start/stop threads (through the launcher: futex only), add ioeventfds
 * (the first one starts the epoll thread), program tap offloads and vhost.
 */
static const struct rule control_rules[] = {
	ALLOW("epoll_create1"), ALLOW("epoll_ctl"), END
};
static const unsigned long control_ioctls[] = {
	KVM_IOEVENTFD, TUNSETOFFLOAD, TUNSETVNETHDRSZ,
	VHOST_SET_FEATURES, VHOST_SET_MEM_TABLE, VHOST_SET_VRING_NUM,
	VHOST_SET_VRING_BASE, VHOST_GET_VRING_BASE, VHOST_SET_VRING_ADDR,
	VHOST_SET_VRING_KICK, VHOST_SET_VRING_CALL, VHOST_NET_SET_BACKEND,
	VHOST_VSOCK_SET_RUNNING, 0
};

static const unsigned long vcpu_ioctls[] = { KVM_RUN, KVM_NMI, 0 };

static const struct rule main_rules[] = {
	/* Join threads; remove the control socket; restore the terminal. */
	ALLOW("close"), ALLOW("read"), ALLOW("newfstatat"), ALLOW("fstat"),
	ALLOW("stat"), ALLOW("unlink"), ALLOW("unlinkat"), END
};

static const struct rule signal_rules[] = {
	ALLOW("rt_sigtimedwait"), END
};

static const struct rule ioevent_rules[] = {
	ALLOW("epoll_wait"), ALLOW("epoll_pwait"), END
};

/* poll() is ppoll on architectures without poll. */
static const struct rule poll_rules[] = {
	ALLOW("poll"), ALLOW("ppoll"), ALLOW("read"), END
};

static const struct rule mgmt_rules[] = {
	ALLOW("accept4"), ALLOW("accept"), ALLOW("recvfrom"), ALLOW("sendto"),
	ALLOW("getsockopt"), ALLOW("setsockopt"), ALLOW("close"),
	ALLOW("geteuid"), ALLOW("getuid"),
	/* The spare descriptor for running out of them (mgmt.c). */
	ALLOW_IF("fcntl", EQ(1, F_DUPFD_CLOEXEC)), END
};

static const struct rule disk_rules[] = {
	ALLOW("pread64"), ALLOW("pwrite64"), ALLOW("preadv"), ALLOW("pwritev"),
	ALLOW("preadv2"), ALLOW("pwritev2"), ALLOW("read"), ALLOW("fdatasync"),
	ALLOW("fsync"), ALLOW("fallocate"), END
};

static const struct rule blk_rules[] = {
	ALLOW("io_submit"), END
};

static const struct rule aio_rules[] = {
	ALLOW("io_getevents"), ALLOW("io_pgetevents"), END
};

static const struct rule tap_rules[] = {
	ALLOW("writev"), ALLOW("readv"), END
};

/*
 * libslirp: the guest's flows become host sockets (IPv4/IPv6 only); its
 * DNS forwarder rereads /etc/resolv.conf when it changes (read-only open).
 */
static const struct rule user_net_rules[] = {
	ALLOW_IF("socket", EQ(0, AF_INET)), ALLOW_IF("socket", EQ(0, AF_INET6)),
	ALLOW("connect"), ALLOW("bind"), ALLOW("listen"), ALLOW("accept"), ALLOW("accept4"),
	ALLOW("shutdown"), ALLOW("getsockopt"), ALLOW("setsockopt"), ALLOW("getsockname"),
	ALLOW("getpeername"), ALLOW("recvfrom"), ALLOW("recvmsg"), ALLOW("sendto"),
	ALLOW("sendmsg"), ALLOW("readv"), ALLOW("writev"), ALLOW("fcntl"), ALLOW("close"),
	ALLOW_IF("openat", CLEAR(2, O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND | O_PATH)),
	ALLOW_IF("open", CLEAR(1, O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND | O_PATH)),
	ALLOW("newfstatat"), ALLOW("fstat"), ALLOW("stat"), ALLOW("lseek"), END
};
/* glib's log writer asks isatty() (TCGETS) of stderr. */
static const unsigned long user_net_ioctls[] = { FIONREAD, FIONBIO, TCGETS, 0 };

/* 9p: everything a file server does, on descriptors under the share. */
static const struct rule p9_rules[] = {
	ALLOW("openat"), ALLOW("openat2"), ALLOW("close"), ALLOW("fcntl"), ALLOW("newfstatat"),
	ALLOW("fstat"), ALLOW("statx"), ALLOW("fstatfs"), ALLOW("readlinkat"), ALLOW("mkdirat"),
	ALLOW("mknodat"), ALLOW("symlinkat"), ALLOW("linkat"), ALLOW("renameat"),
	ALLOW("renameat2"), ALLOW("unlinkat"), ALLOW("fchmod"), ALLOW("fchmodat"),
	ALLOW("fchownat"), ALLOW("utimensat"), ALLOW("ftruncate"), ALLOW("getdents64"),
	ALLOW("lseek"), ALLOW("read"), ALLOW("pread64"), ALLOW("pwrite64"), ALLOW("fsync"),
	ALLOW("fdatasync"), ALLOW("flistxattr"), ALLOW("fgetxattr"), END
};

/* Thread creation (clone3 is refused so that glibc uses clone, whose flags we see). */
static const struct rule launcher_rules[] = {
	ALLOW_IF("clone", CMP(0, SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD)),
	{ .name = "clone3", .action = SCMP_ACT_ERRNO(ENOSYS) },
	ALLOW("set_robust_list"), ALLOW("seccomp"),
	ALLOW("sched_getaffinity"),	/* sanitizers' thread start (pthread_getattr_np) */
	ALLOW_IF("prctl", EQ(0, PR_SET_NO_NEW_PRIVS)), END
};

#define G(r) { .rules = r }
#define GI(r, i) { .rules = r, .ioctls = i }

static const struct group g_base = G(base_rules), g_irq = GI(irq_rules, irq_ioctls),
	g_notify = G(notify_rules), g_control = GI(control_rules, control_ioctls),
	g_vcpu = GI(NULL, vcpu_ioctls), g_main = G(main_rules),
	g_signals = G(signal_rules), g_ioevent = G(ioevent_rules), g_poll = G(poll_rules),
	g_mgmt = G(mgmt_rules), g_disk = G(disk_rules), g_blk = G(blk_rules),
	g_aio = G(aio_rules), g_tap = G(tap_rules), g_user = GI(user_net_rules, user_net_ioctls),
	g_9p = G(p9_rules), g_launcher = G(launcher_rules);

#define MAX_GROUPS 6
static const struct group *const roles[SANDBOX_NR_ROLES][MAX_GROUPS] = {
	[SANDBOX_MAIN] = { &g_base, &g_main },
	[SANDBOX_SIGNALS] = { &g_base, &g_signals },
	[SANDBOX_VCPU] = { &g_base, &g_irq, &g_notify, &g_control, &g_vcpu },
	[SANDBOX_IOEVENT] = { &g_base, &g_irq, &g_notify, &g_ioevent },
	[SANDBOX_MGMT] = { &g_base, &g_irq, &g_poll, &g_mgmt },
	[SANDBOX_CONSOLE_IN] = { &g_base, &g_irq, &g_poll },
	[SANDBOX_CONSOLE_OUT] = { &g_base, &g_irq },
	[SANDBOX_BLK] = { &g_base, &g_irq, &g_disk, &g_blk },
	[SANDBOX_DISK_AIO] = { &g_base, &g_disk, &g_aio },
	[SANDBOX_NET_TAP] = { &g_base, &g_irq, &g_poll, &g_tap },
	[SANDBOX_NET_USER] = { &g_base, &g_irq, &g_poll, &g_user },
	[SANDBOX_VHOST_CALL] = { &g_base, &g_irq, &g_poll },
	[SANDBOX_9P] = { &g_base, &g_irq, &g_9p },
	/* A socket server like mgmt; vCPU registers are touched on the vCPUs. */
	[SANDBOX_GDB] = { &g_base, &g_irq, &g_poll, &g_mgmt },
	[SANDBOX_LAUNCHER] = { &g_base, &g_launcher },	/* + every other role */
};

static const char *const role_names[SANDBOX_NR_ROLES] = {
	[SANDBOX_MAIN] = "main", [SANDBOX_SIGNALS] = "signals", [SANDBOX_VCPU] = "vcpu",
	[SANDBOX_IOEVENT] = "ioeventfd", [SANDBOX_MGMT] = "mgmt",
	[SANDBOX_CONSOLE_IN] = "console-in", [SANDBOX_CONSOLE_OUT] = "console-out",
	[SANDBOX_BLK] = "blk", [SANDBOX_DISK_AIO] = "disk-aio", [SANDBOX_NET_TAP] = "net-tap",
	[SANDBOX_NET_USER] = "net-user", [SANDBOX_VHOST_CALL] = "vhost-call",
	[SANDBOX_9P] = "9p", [SANDBOX_GDB] = "gdb", [SANDBOX_LAUNCHER] = "launcher",
};

/* ---- state ---- */

static bool enabled;
static int test_role = -1;
static u32 native_arch;
static struct sock_fprog progs[SANDBOX_NR_ROLES];
static const char *nr_names[MAX_NR_NAMES];
static __thread const char *thread_role;	/* NULL: not confined */
static void (*fatal_hook)(void);

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct create_req *req;		/* the one being served */
} launcher = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL };

struct create_req {
	pthread_t *thread;
	const pthread_attr_t *attr;
	void *(*fn)(void *);
	void *arg;
	sigset_t mask;
	int result;
	bool done;
};

struct start {
	enum sandbox_role role;
	void *(*fn)(void *);
	void *arg;
};

const char *sandbox_role_name(enum sandbox_role role)
{
	return role < SANDBOX_NR_ROLES ? role_names[role] : "?";
}

int sandbox_role_by_name(const char *name)
{
	for (int i = 0; i < SANDBOX_NR_ROLES; i++)
		if (!strcmp(name, role_names[i]))
			return i;
	return -1;
}

bool sandbox_enabled(void)
{
	return enabled;
}

void sandbox_on_fatal(void (*fn)(void))
{
	fatal_hook = fn;
}

/* ---- the SIGSYS report (async-signal-safe) ---- */

static size_t put_str(char *buf, size_t n, size_t cap, const char *s)
{
	while (*s && n < cap)
		buf[n++] = *s++;
	return n;
}

static size_t put_uint(char *buf, size_t n, size_t cap, unsigned long v)
{
	char digits[24];
	int i = 0;

	do
		digits[i++] = (char)('0' + v % 10);
	while ((v /= 10) && i < (int)sizeof(digits));
	while (i && n < cap)
		buf[n++] = digits[--i];
	return n;
}

static void sigsys_handler(int sig UNUSED, siginfo_t *si, void *ctx UNUSED)
{
	char line[320];
	size_t n = 0, cap = sizeof(line) - 1;
	int nr = si->si_syscall;
	const char *name = nr >= 0 && nr < MAX_NR_NAMES && nr_names[nr] ? nr_names[nr] : "?";

	if (si->si_arch != native_arch)
		name = "(foreign architecture)";
	n = put_str(line, n, cap, "lkvm: seccomp: thread ");
	/* No role yet: a new thread still under the launcher's filter. */
	n = put_str(line, n, cap, thread_role ? thread_role : "starting");
	n = put_str(line, n, cap, " made forbidden system call ");
	n = put_str(line, n, cap, name);
	n = put_str(line, n, cap, " (");
	n = put_uint(line, n, cap, (unsigned long)(unsigned int)nr);
	n = put_str(line, n, cap, "): this is a bug, please report it; "
			"--no-sandbox disables the sandbox");
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, n) < 0)
		n = 0;	/* nothing else to try */
	if (fatal_hook)
		fatal_hook();
	_exit(LKVM_EXIT_SANDBOX);
}

/* ---- building the filters ---- */

static int add_rule(scmp_filter_ctx ctx, const struct rule *r)
{
	int nr = seccomp_syscall_resolve_name(r->name), ret;

	if (nr == __NR_SCMP_ERROR) {
		pr_err("sandbox: libseccomp does not know the system call '%s'", r->name);
		return -EINVAL;
	}
	ret = seccomp_rule_add_array(ctx, r->action ? r->action : SCMP_ACT_ALLOW, nr,
				     r->nr_cmp, r->cmp);
	/* -EFAULT: no such call on this architecture (its twin is listed). */
	if (ret == -EFAULT)
		return 0;
	if (ret)
		pr_err("sandbox: cannot add a rule for %s: %s", r->name, strerror(-ret));
	return ret;
}

static int add_ioctls(scmp_filter_ctx ctx, const unsigned long *reqs)
{
	for (; reqs && *reqs; reqs++) {
		struct rule r = ALLOW_IF("ioctl", CMP(1, SCMP_CMP_MASKED_EQ, IOCTL_MASK, *reqs));
		int ret = add_rule(ctx, &r);

		if (ret)
			return ret;
	}
	return 0;
}

static int add_rules(scmp_filter_ctx ctx, const struct rule *rules, const unsigned long *ioctls)
{
	for (const struct rule *r = rules; r && r->name; r++) {
		int ret = add_rule(ctx, r);

		if (ret)
			return ret;
	}
	return add_ioctls(ctx, ioctls);
}

static int add_arch_names(scmp_filter_ctx ctx, const struct sandbox_rules *extra)
{
	if (!extra)
		return 0;
	for (const char *const *s = extra->syscalls; s && *s; s++) {
		struct rule r = ALLOW(*s);
		int ret = add_rule(ctx, &r);

		if (ret)
			return ret;
	}
	return add_ioctls(ctx, extra->ioctls);
}

static int add_role(scmp_filter_ctx ctx, enum sandbox_role role)
{
	/* Signals to our own threads only: vCPU kicks, raise() in abort(). */
	struct rule own = ALLOW_IF("tgkill", EQ(0, (u64)getpid()));
	int ret = add_rule(ctx, &own);

	for (int g = 0; g < MAX_GROUPS && roles[role][g] && !ret; g++)
		ret = add_rules(ctx, roles[role][g]->rules, roles[role][g]->ioctls);
	return ret ? ret : add_arch_names(ctx, kvm_arch_sandbox_rules(role));
}

/* libseccomp 2.5 exports only to a descriptor: go through a memfd. */
static int export_prog(scmp_filter_ctx ctx, struct sock_fprog *prog)
{
	int fd = memfd_create("lkvm-seccomp", MFD_CLOEXEC), ret;
	off_t size;
	void *buf = NULL;

	if (fd < 0)
		return -errno;
	ret = seccomp_export_bpf(ctx, fd);
	if (!ret) {
		size = lseek(fd, 0, SEEK_END);
		buf = size > 0 ? malloc((size_t)size) : NULL;
		if (!buf || pread(fd, buf, (size_t)size, 0) != size)
			ret = -EIO;
	}
	close(fd);
	if (ret) {
		free(buf);
		return ret;
	}
	prog->len = (unsigned short)((size_t)size / sizeof(struct sock_filter));
	prog->filter = buf;
	return 0;
}

static int build_role(enum sandbox_role role)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	int ret;

	if (!ctx)
		return -ENOMEM;
	ret = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_TRAP);
	if (!ret)
		ret = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (!ret)
		ret = add_role(ctx, role);
	/* The launcher's children inherit its filter: it must allow them all. */
	for (int r = 0; role == SANDBOX_LAUNCHER && r < SANDBOX_NR_ROLES && !ret; r++)
		if (r != SANDBOX_LAUNCHER)
			ret = add_role(ctx, r);
	if (!ret)
		ret = export_prog(ctx, &progs[role]);
	seccomp_release(ctx);
	return ret;
}

static void name_syscalls(void)
{
	for (int nr = 0; nr < MAX_NR_NAMES; nr++)
		nr_names[nr] = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
}

/*
 * glibc work done lazily on first use, which a confined thread could not
 * do: the time zone (gmtime_r() reads /etc/localtime once, for the RTC)
 * and the malloc arena limit (from the CPU count, when arenas multiply).
 */
static void warm_up_libc(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	tzset();
	mallopt(M_ARENA_MAX, 8 * (int)(cpus > 0 ? cpus : 1));	/* glibc's default */
}

/* ---- confining threads ---- */

static void unblock_sigsys(void)
{
	sigset_t s;

	/* A blocked SIGSYS from seccomp kills without our message. */
	sigemptyset(&s);
	sigaddset(&s, SIGSYS);
	pthread_sigmask(SIG_UNBLOCK, &s, NULL);
}

void sandbox_enter(enum sandbox_role role)
{
	if (!enabled || role >= SANDBOX_NR_ROLES)
		return;
	unblock_sigsys();
	thread_role = role_names[role];
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &progs[role])) {
		pr_err("sandbox: cannot confine the %s thread: %s (--no-sandbox runs without)",
		       role_names[role], strerror(errno));
		_exit(LKVM_EXIT_SANDBOX);
	}
	if ((int)role == test_role)
		(void)getppid();	/* --sandbox-test-violation: in no role */
}

static void *start_confined(void *p)
{
	struct start s = *(struct start *)p;

	free(p);
	sandbox_enter(s.role);
	return s.fn(s.arg);
}

static void *launcher_thread(void *arg UNUSED)
{
	sigset_t all, old;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, NULL);
	pthread_setname_np(pthread_self(), "launcher");
	sandbox_enter(SANDBOX_LAUNCHER);
	pthread_mutex_lock(&launcher.lock);
	for (;;) {
		struct create_req *r;

		while (!launcher.req || launcher.req->done)
			pthread_cond_wait(&launcher.cond, &launcher.lock);
		r = launcher.req;
		pthread_mutex_unlock(&launcher.lock);
		/* The new thread inherits the requester's mask, as if it made it. */
		pthread_sigmask(SIG_SETMASK, &r->mask, &old);
		r->result = pthread_create(r->thread, r->attr, r->fn, r->arg);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		pthread_mutex_lock(&launcher.lock);
		r->done = true;
		pthread_cond_broadcast(&launcher.cond);
	}
	return NULL;
}

static int launch(pthread_t *thread, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
	struct create_req r = { .thread = thread, .attr = attr, .fn = fn, .arg = arg };

	pthread_sigmask(SIG_SETMASK, NULL, &r.mask);
	pthread_mutex_lock(&launcher.lock);
	while (launcher.req)
		pthread_cond_wait(&launcher.cond, &launcher.lock);
	launcher.req = &r;
	pthread_cond_broadcast(&launcher.cond);
	while (!r.done)
		pthread_cond_wait(&launcher.cond, &launcher.lock);
	launcher.req = NULL;
	pthread_cond_broadcast(&launcher.cond);
	pthread_mutex_unlock(&launcher.lock);
	return r.result;
}

int sandbox_thread_create(pthread_t *thread, const pthread_attr_t *attr,
			  enum sandbox_role role, void *(*fn)(void *), void *arg)
{
	struct start *s;
	int ret;

	if (!enabled)
		return pthread_create(thread, attr, fn, arg);
	s = malloc(sizeof(*s));
	if (!s)
		return ENOMEM;
	*s = (struct start){ .role = role, .fn = fn, .arg = arg };
	ret = thread_role ? launch(thread, attr, start_confined, s)
			  : pthread_create(thread, attr, start_confined, s);
	if (ret)
		free(s);
	return ret;
}

int sandbox_init(bool on, int test)
{
	struct sigaction sa = { .sa_sigaction = sigsys_handler, .sa_flags = SA_SIGINFO };
	pthread_t t;
	int ret;

	enabled = false;
	if (!on)
		return 0;
	test_role = test;
	if (seccomp_api_get() < 3) {
		pr_err("sandbox: this kernel or libseccomp lacks seccomp filters "
		       "(API level %d): run with --no-sandbox", seccomp_api_get());
		return -ENOSYS;
	}
	for (int r = 0; r < SANDBOX_NR_ROLES; r++) {
		ret = build_role(r);
		if (ret) {
			pr_err("sandbox: cannot build the %s filter: %s", role_names[r],
			       strerror(-ret));
			return ret;
		}
	}
	name_syscalls();
	native_arch = seccomp_arch_native();
	warm_up_libc();
	sigfillset(&sa.sa_mask);
	sigaction(SIGSYS, &sa, NULL);
	enabled = true;
	ret = pthread_create(&t, NULL, launcher_thread, NULL);
	if (ret) {
		enabled = false;
		pr_err("sandbox: cannot start the launcher thread: %s", strerror(ret));
		return -ret;
	}
	pthread_detach(t);
	return 0;
}
