/*
 * lkvm's guest init: PID 1 of the initramfs that `lkvm run` packs when it
 * boots the host's (or --rootfs's) tree over virtio-9p.  It loads the
 * modules lkvm put beside it, mounts the root with a throw-away tmpfs
 * overlay on top, the guest's own /proc /sys /dev /tmp /run, configures
 * the user-mode NIC statically, runs the command (or a shell) on the
 * console and hands its exit status to lkvm through the exit device.
 *
 * What to do comes from files lkvm wrote into the initramfs:
 *   /lkvm/config    KEY=VALUE lines (see parse_config)
 *   /lkvm/argv      the command, NUL-separated (empty: a shell)
 *   /lkvm/modules   module file names under /lkvm/mod, in load order
 *
 * Built static and architecture-neutral: the exit device is reached
 * through /dev/port or /dev/mem, never with CPU instructions.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

/* Statuses of our own (README, "Exit statuses"). */
#define STATUS_NOT_STARTED 127	/* the command could not be executed */
#define STATUS_SETUP_FAILED 125	/* the guest could not get to the command */

#define MAX_RWDIRS 8
#define NEWROOT "/newroot"

struct config {
	char exit_dev[64];	/* port:0xN or mmio:0xN */
	char root_tag[65];
	bool rw;
	char cwd[4096];
	char hostname[65];
	char console[32];	/* ttyS0, hvc0: the controlling terminal */
	bool stdin_tty, stdout_tty;
	unsigned short rows, cols;
	bool net;
	char rwdir_tag[MAX_RWDIRS][65];
	char rwdir_path[MAX_RWDIRS][4096];
	int nr_rwdirs;
};

static struct config cfg;

static int exit_dev_write(unsigned int reg, unsigned char b);

static void msg(const char *fmt, ...)
{
	va_list ap;

	fputs("lkvm-init: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void copy_value(char *dst, size_t size, const char *v)
{
	snprintf(dst, size, "%s", v);
}

static void parse_line(char *line)
{
	char *v = strchr(line, '=');

	if (!v)
		return;
	*v++ = '\0';
	if (!strcmp(line, "exit"))
		copy_value(cfg.exit_dev, sizeof(cfg.exit_dev), v);
	else if (!strcmp(line, "root"))
		copy_value(cfg.root_tag, sizeof(cfg.root_tag), v);
	else if (!strcmp(line, "rw"))
		cfg.rw = !strcmp(v, "1");
	else if (!strcmp(line, "cwd"))
		copy_value(cfg.cwd, sizeof(cfg.cwd), v);
	else if (!strcmp(line, "hostname"))
		copy_value(cfg.hostname, sizeof(cfg.hostname), v);
	else if (!strcmp(line, "console"))
		copy_value(cfg.console, sizeof(cfg.console), v);
	else if (!strcmp(line, "stdin_tty"))
		cfg.stdin_tty = !strcmp(v, "1");
	else if (!strcmp(line, "stdout_tty"))
		cfg.stdout_tty = !strcmp(v, "1");
	else if (!strcmp(line, "rows"))
		cfg.rows = (unsigned short)atoi(v);
	else if (!strcmp(line, "cols"))
		cfg.cols = (unsigned short)atoi(v);
	else if (!strcmp(line, "net"))
		cfg.net = !strcmp(v, "1");
	else if (!strcmp(line, "rwdir") && cfg.nr_rwdirs < MAX_RWDIRS) {
		/* rwdir=TAG:PATH */
		char *path = strchr(v, ':');

		if (!path)
			return;
		*path++ = '\0';
		copy_value(cfg.rwdir_tag[cfg.nr_rwdirs], sizeof(cfg.rwdir_tag[0]), v);
		copy_value(cfg.rwdir_path[cfg.nr_rwdirs], sizeof(cfg.rwdir_path[0]), path);
		cfg.nr_rwdirs++;
	}
}

static void parse_config(void)
{
	char line[4200];
	FILE *f = fopen("/lkvm/config", "r");

	copy_value(cfg.hostname, sizeof(cfg.hostname), "lkvm");
	if (!f) {
		msg("no /lkvm/config: %s", strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		parse_line(line);
	}
	fclose(f);
}

/* The whole of a small file, NUL-terminated; *len without the NUL. */
static char *slurp(const char *path, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0 || !buf) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while ((r = read(fd, buf + n, cap - n - 1)) > 0) {
		n += r;
		if (n + 1 == cap) {
			char *bigger = realloc(buf, cap *= 2);

			if (!bigger)
				break;
			buf = bigger;
		}
	}
	close(fd);
	buf[n] = '\0';
	*len = n;
	return buf;
}

static void load_modules(void)
{
	size_t len;
	char *list = slurp("/lkvm/modules", &len), *name, *save;

	if (!list)
		return;
	for (name = strtok_r(list, "\n", &save); name; name = strtok_r(NULL, "\n", &save)) {
		char path[512];
		int fd, flags = 0;
		size_t n = strlen(name);

		snprintf(path, sizeof(path), "/lkvm/mod/%s", name);
		/* A compressed module: the kernel decompresses it (MODULE_INIT_COMPRESSED_FILE). */
		if (n > 3 && (!strcmp(name + n - 3, ".xz") || !strcmp(name + n - 3, ".gz") ||
			      (n > 4 && !strcmp(name + n - 4, ".zst"))))
			flags = 4;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || (syscall(SYS_finit_module, fd, "", flags) && errno != EEXIST))
			msg("cannot load module %s: %s", name, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	free(list);
}

static int mount_9p(const char *tag, const char *where, unsigned long flags)
{
	if (mount(tag, where, "9p", flags,
		  "trans=virtio,version=9p2000.L,msize=524288,access=any") == 0)
		return 0;
	msg("cannot mount the 9p share '%s' on %s: %s", tag, where, strerror(errno));
	return -1;
}

static void mkdir_p(const char *path)
{
	char buf[4200];

	copy_value(buf, sizeof(buf), path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir(buf, 0755);
		*p = '/';
	}
	mkdir(buf, 0755);
}

/*
 * The root: the 9p export itself with rw=1, else an overlay whose upper
 * layer is a tmpfs, so that the guest may write anywhere and nothing
 * reaches the host.
 */
static int mount_root(void)
{
	mkdir(NEWROOT, 0755);
	if (cfg.rw)
		return mount_9p(cfg.root_tag, NEWROOT, 0);
	mkdir("/lower", 0755);
	mkdir("/ovl", 0755);
	if (mount_9p(cfg.root_tag, "/lower", MS_RDONLY))
		return -1;
	if (mount("tmpfs", "/ovl", "tmpfs", 0, "mode=0755")) {
		msg("cannot mount the overlay's tmpfs: %s", strerror(errno));
		return -1;
	}
	mkdir("/ovl/upper", 0755);
	mkdir("/ovl/work", 0755);
	if (mount("overlay", NEWROOT, "overlay", 0,
		  "lowerdir=/lower,upperdir=/ovl/upper,workdir=/ovl/work")) {
		msg("cannot mount the overlay (is overlayfs in this kernel?): %s",
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* A file system of the guest's own at dir, after the switch to the root. */
static void mount_own(const char *dir, const char *type, const char *opts)
{
	struct stat st;

	/* Never create directories in a writable host export. */
	if (stat(dir, &st) && (cfg.rw || mkdir(dir, 0755))) {
		msg("no %s in the root: not mounting %s there", dir, type);
		return;
	}
	if (mount(type, dir, type, MS_NOSUID, opts))
		msg("cannot mount %s on %s: %s", type, dir, strerror(errno));
}

static void mount_rwdirs(void)
{
	for (int i = 0; i < cfg.nr_rwdirs; i++) {
		char path[4200];
		struct stat st;

		snprintf(path, sizeof(path), NEWROOT "%s", cfg.rwdir_path[i]);
		if (stat(path, &st) && cfg.rw) {
			msg("no %s in the root: --rwdir not mounted", cfg.rwdir_path[i]);
			continue;
		}
		if (stat(path, &st))
			mkdir_p(path);	/* in the overlay, never on the host */
		mount_9p(cfg.rwdir_tag[i], path, 0);
	}
}

static int switch_root(void)
{
	if (chdir(NEWROOT) || mount(".", "/", NULL, MS_MOVE, NULL) || chroot(".") ||
	    chdir("/")) {
		msg("cannot switch to the new root: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static void set_if_addr(int s, const char *ifname, unsigned long req, const char *ip)
{
	struct ifreq ifr = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;

	copy_value(ifr.ifr_name, IFNAMSIZ, ifname);
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, ip, &sin->sin_addr);
	if (ioctl(s, req, &ifr))
		msg("%s: cannot set address %s: %s", ifname, ip, strerror(errno));
}

static void if_up(int s, const char *ifname)
{
	struct ifreq ifr = { 0 };

	copy_value(ifr.ifr_name, IFNAMSIZ, ifname);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		if (ioctl(s, SIOCSIFFLAGS, &ifr) == 0)
			return;
	}
	msg("%s: cannot bring it up: %s", ifname, strerror(errno));
}

static void add_default_route(int s, const char *gw)
{
	struct rtentry rt = { 0 };
	struct sockaddr_in *addr = (struct sockaddr_in *)&rt.rt_gateway;

	addr->sin_family = AF_INET;
	inet_pton(AF_INET, gw, &addr->sin_addr);
	((struct sockaddr_in *)&rt.rt_dst)->sin_family = AF_INET;
	((struct sockaddr_in *)&rt.rt_genmask)->sin_family = AF_INET;
	rt.rt_flags = RTF_UP | RTF_GATEWAY;
	if (ioctl(s, SIOCADDRT, &rt) && errno != EEXIST)
		msg("cannot add the default route via %s: %s", gw, strerror(errno));
}

/*
 * lkvm's user-mode network: 10.0.2.0/24, gateway 10.0.2.2, DNS 10.0.2.3,
 * the guest 10.0.2.15 (what its DHCP server would hand out).  Static: no
 * DHCP client, nothing to wait for.
 */
static void setup_network(void)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool configured = false;

	if (s < 0 || !ifs) {
		msg("no network: %s", strerror(errno));
		goto out;
	}
	if_up(s, "lo");
	if (!cfg.net)
		goto out;
	for (i = ifs; i->if_index; i++) {
		if (!strcmp(i->if_name, "lo") || configured)
			continue;
		set_if_addr(s, i->if_name, SIOCSIFADDR, "10.0.2.15");
		set_if_addr(s, i->if_name, SIOCSIFNETMASK, "255.255.255.0");
		if_up(s, i->if_name);
		configured = true;
	}
	if (configured)
		add_default_route(s, "10.0.2.2");
out:
	if (ifs)
		if_freenameindex(ifs);
	if (s >= 0)
		close(s);
}

/* In the overlay only: with --rw this would overwrite the host's file. */
static void write_resolv_conf(void)
{
	FILE *f;

	if (cfg.rw || !cfg.net)
		return;
	unlink("/etc/resolv.conf");
	f = fopen("/etc/resolv.conf", "w");
	if (!f)
		return;
	fputs("nameserver 10.0.2.3\n", f);
	fclose(f);
}

static void setup_identity(void)
{
	FILE *f;

	if (sethostname(cfg.hostname, strlen(cfg.hostname)))
		msg("cannot set the hostname: %s", strerror(errno));
	if (cfg.rw)
		return;
	f = fopen("/etc/hostname", "w");
	if (f) {
		fprintf(f, "%s\n", cfg.hostname);
		fclose(f);
	}
}

/*
 * The console as the command's terminal.  Piped input: no echo (the pipe's
 * bytes would come back on stdout), no signals from ^C bytes; lkvm sends
 * ^D at its end of input, which the canonical line discipline turns into
 * end-of-file.  Redirected output: no \n -> \r\n.
 */
static void setup_tty(int fd)
{
	struct termios t;
	struct winsize ws = { .ws_row = cfg.rows, .ws_col = cfg.cols };

	if (tcgetattr(fd, &t) == 0) {
		if (!cfg.stdin_tty)
			t.c_lflag &= ~(ECHO | ECHONL | ISIG | IEXTEN);
		if (!cfg.stdout_tty)
			t.c_oflag &= ~OPOST;
		t.c_iflag &= ~ICRNL;
		if (cfg.stdin_tty)
			t.c_iflag |= ICRNL;
		tcsetattr(fd, TCSANOW, &t);
	}
	if (cfg.rows && cfg.cols)
		ioctl(fd, TIOCSWINSZ, &ws);
}

static int open_console(void)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/dev/%s", cfg.console[0] ? cfg.console : "console");
	fd = open(path, O_RDWR | O_NOCTTY);
	if (fd < 0)
		fd = open("/dev/console", O_RDWR | O_NOCTTY);
	return fd;
}

static void exec_command(char **argv)
{
	char *shell[] = { "sh", NULL };
	const char *sh = access("/bin/bash", X_OK) == 0 ? "/bin/bash" : "/bin/sh";
	int fd = open_console();

	setsid();
	if (fd >= 0) {
		ioctl(fd, TIOCSCTTY, 0);
		setup_tty(fd);
		exit_dev_write(1, 1);	/* lkvm may pass its stdin now */
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	signal(SIGPIPE, SIG_DFL);
	if (!argv[0]) {
		shell[0] = (char *)sh;
		execv(sh, shell);
		argv = shell;
	} else {
		execvp(argv[0], argv);
	}
	fprintf(stderr, "lkvm-init: cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(STATUS_NOT_STARTED);
}

/* The command's status, shell-style: 128+N when killed by signal N. */
static char **read_argv(void)
{
	size_t len, argc = 0;
	char *args = slurp("/lkvm/argv", &len);
	char **argv = calloc(len / 2 + 2, sizeof(*argv));

	if (!args || !argv) {
		msg("no /lkvm/argv");
		return NULL;
	}
	for (size_t i = 0; i < len; i += strlen(args + i) + 1)
		argv[argc++] = args + i;
	argv[argc] = NULL;
	return argv;
}

static int run_command(char **argv)
{
	pid_t child, pid;
	int st;

	if (!argv)
		return STATUS_SETUP_FAILED;

	if (cfg.cwd[0] && chdir(cfg.cwd))
		chdir("/");
	setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 1);
	setenv("HOME", "/root", 0);
	setenv("TERM", cfg.stdout_tty ? "linux" : "dumb", 0);
	if (cfg.cwd[0])
		setenv("PWD", cfg.cwd, 1);

	child = fork();
	if (child == 0)
		exec_command(argv);
	if (child < 0) {
		msg("fork: %s", strerror(errno));
		return STATUS_SETUP_FAILED;
	}
	/* PID 1 reaps every orphan; only the command's end counts. */
	while ((pid = wait(&st)) != child)
		if (pid < 0 && errno != EINTR)
			return STATUS_SETUP_FAILED;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/*
 * The exit device, opened from the initramfs's /dev before the switch: the
 * new root may have no /dev (a --rw chroot) or a /dev without our nodes.
 */
static struct {
	int fd;			/* /dev/port, or /dev/mem with map */
	unsigned long long addr;
	volatile unsigned char *map;
	bool port;
} exitdev = { .fd = -1 };

static void exit_dev_open(void)
{
	const char *colon = strchr(cfg.exit_dev, ':');

	if (!colon) {
		msg("lkvm named no exit device: the command's status cannot be reported");
		return;
	}
	exitdev.addr = strtoull(colon + 1, NULL, 0);
	exitdev.port = !strncmp(cfg.exit_dev, "port:", 5);
	if (exitdev.port) {
		exitdev.fd = open("/dev/port", O_WRONLY | O_CLOEXEC);
	} else {
		long page = sysconf(_SC_PAGESIZE);
		off_t base = (off_t)(exitdev.addr & ~(unsigned long long)(page - 1));
		void *p;

		exitdev.fd = open("/dev/mem", O_RDWR | O_SYNC | O_CLOEXEC);
		p = exitdev.fd < 0 ? MAP_FAILED :
			mmap(NULL, page, PROT_WRITE, MAP_SHARED, exitdev.fd, base);
		if (p != MAP_FAILED)
			exitdev.map = (volatile unsigned char *)p + (exitdev.addr - base);
	}
	if (exitdev.fd < 0 || (!exitdev.port && !exitdev.map))
		msg("cannot open the exit device %s: %s", cfg.exit_dev, strerror(errno));
}

/* One byte to register reg of the exit device; 0 or -1. */
static int exit_dev_write(unsigned int reg, unsigned char b)
{
	if (exitdev.port && exitdev.fd >= 0 &&
	    pwrite(exitdev.fd, &b, 1, (off_t)(exitdev.addr + reg)) == 1)
		return 0;
	if (!exitdev.port && exitdev.map) {
		exitdev.map[reg] = b;
		return 0;
	}
	return -1;
}

/* Hand status to lkvm: the VM stops at the write.  Returns on failure. */
static void report_status(int status)
{
	if (exit_dev_write(0, (unsigned char)status) == 0)
		pause();
	msg("could not report status %d through the exit device", status);
}

static int setup(void)
{
	if (mount_root())
		return -1;
	mount_rwdirs();
	if (switch_root())
		return -1;
	mount_own("/proc", "proc", NULL);
	mount_own("/sys", "sysfs", NULL);
	mount_own("/dev", "devtmpfs", "mode=0755");
	mkdir("/dev/pts", 0755);
	mkdir("/dev/shm", 01777);
	mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "ptmxmode=0666,mode=0620");
	mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
	mount_own("/tmp", "tmpfs", "mode=1777");
	mount_own("/run", "tmpfs", "mode=0755");
	setup_identity();
	setup_network();
	write_resolv_conf();
	return 0;
}

int main(void)
{
	char **argv;
	int status;

	mount("devtmpfs", "/dev", "devtmpfs", 0, "mode=0755");
	parse_config();
	exit_dev_open();
	argv = read_argv();
	load_modules();
	status = setup() ? STATUS_SETUP_FAILED : run_command(argv);
	sync();
	report_status(status);
	/* No exit device: a reset still ends lkvm (without the status). */
	reboot(RB_AUTOBOOT);
	return status;
}
