/*
 * The kernel developer's loop: `lkvm run [-k KERNEL] [-- CMD...]` with no
 * root of its own boots the host's userland.  The root (host / or
 * --rootfs) is exported over virtio-9p; lkvm packs an initramfs in memory
 * with its own init (guest/init.c) and the modules the boot needs, and the
 * init reports CMD's status through the exit device (lkvm/exit-dev.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>
#include "lkvm/cpio.h"
#include "lkvm/devloop.h"
#include "lkvm/exit-dev.h"
#include "lkvm/kernel-find.h"
#include "lkvm/kmod.h"
#include "lkvm/kvm.h"
#include "lkvm/log.h"
#include "lkvm/options.h"
#include "lkvm/run.h"
#include "lkvm/term.h"
#include "lkvm/virtio-9p.h"
#include "lkvm/virtio-setup.h"

/* guest/init-blob.S: the static init binary built from guest/init.c. */
extern const u8 lkvm_guest_init_start[], lkvm_guest_init_end[];

#define ROOT_TAG "lkvmroot"

static struct {
	bool active;
	char root[PATH_MAX];
	char release[256];
	char kernel[PATH_MAX];
	char guest_cwd[PATH_MAX];
	char p9_spec[1 + LKVM_MAX_RWDIRS][PATH_MAX + 32];
	char rwdir[LKVM_MAX_RWDIRS][PATH_MAX];
	char initrd[32];
	char *params;
	struct kmod_set mods;
} dl;

/* Modules the init needs; a missing one is fatal unless built in. */
static const char *const required_modules[] = { "9pnet_virtio", "9p" };
/* Drivers for devices lkvm may offer: loaded when the kernel has them. */
static const char *const optional_modules[] = {
	"virtio_pci", "virtio_mmio", "virtio_blk", "virtio_net", "virtio_console",
	"virtio_rng", "pvpanic_mmio",
};

bool devloop_active(void)
{
	return dl.active;
}

static void find_kernel(struct lkvm_config *cfg)
{
	struct kernel_candidates c;
	struct utsname u;
	char tried[4096];
	int i;

	uname(&u);
	kernel_candidates(&c, u.release);
	i = kernel_pick(&c, tried, sizeof(tried));
	if (i < 0)
		die("no kernel found (tried %s): give one with -k", tried);
	snprintf(dl.kernel, sizeof(dl.kernel), "%s", c.path[i]);
	cfg->kernel_path = dl.kernel;
	pr_info("kernel: %s", dl.kernel);
}

/* The modules directory for the release: --modules, else the root's. */
static int modules_dir(const struct lkvm_config *cfg, char *buf, size_t size)
{
	const char *base = cfg->modules_dir;
	struct stat st;

	if (!base) {
		snprintf(buf, size, "%s/lib/modules/%s", strcmp(dl.root, "/") ? dl.root : "",
			 dl.release);
		return stat(buf, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -ENOENT;
	}
	/* An INSTALL_MOD_PATH tree, /lib/modules, or the release's own directory. */
	snprintf(buf, size, "%s/lib/modules/%s", base, dl.release);
	if (dl.release[0] && stat(buf, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	snprintf(buf, size, "%s/%s", base, dl.release);
	if (dl.release[0] && stat(buf, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	snprintf(buf, size, "%s", base);
	if (stat(buf, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	die("--modules %s: not a directory", base);
}

static void add_module(struct kmod_index *idx, const char *name, bool required,
		       const char *dir)
{
	int ret = kmod_resolve(idx, name, &dl.mods);

	if (ret == -ENOENT && !required)
		return;
	if (ret == -ENOENT)
		die("kernel %s needs module %s, which is neither in %s nor built in: "
		    "give the kernel's modules with --modules DIR", dl.release, name, dir);
	if (ret < 0)
		die("modules in %s: cannot resolve %s: %s", dir, name, strerror(-ret));
}

static void find_modules(const struct lkvm_config *cfg)
{
	char dir[PATH_MAX + 300];
	struct kmod_index *idx;

	if (modules_dir(cfg, dir, sizeof(dir))) {
		pr_debug("no %s: assuming 9p, overlayfs and virtio are built in", dir);
		return;
	}
	idx = kmod_index_open(dir);
	if (!idx)
		die("modules %s: %s", dir, strerror(errno));
	for (size_t i = 0; i < ARRAY_SIZE(required_modules); i++)
		add_module(idx, required_modules[i], true, dir);
	if (!cfg->rootfs_rw)
		add_module(idx, "overlay", true, dir);
	for (size_t i = 0; i < ARRAY_SIZE(optional_modules); i++)
		add_module(idx, optional_modules[i], false, dir);
	kmod_index_close(idx);
}

static void add_9p(struct lkvm_config *cfg, const char *dir, const char *tag, bool ro)
{
	char *spec = NULL;
	const char *why;

	for (unsigned int i = 0; i < ARRAY_SIZE(dl.p9_spec); i++)
		if (!dl.p9_spec[i][0]) {
			spec = dl.p9_spec[i];
			break;
		}
	if (cfg->nr_p9 >= LKVM_MAX_9P || !spec)
		die("too many 9p shares: drop a --9p or --rwdir");
	snprintf(spec, sizeof(dl.p9_spec[0]), "%s,%s%s", dir, tag, ro ? ",ro" : "");
	if (strchr(dir, ','))
		die("%s: a shared directory's path cannot contain a comma", dir);
	if (virtio_9p_parse_spec(spec, &cfg->p9[cfg->nr_p9], &why))
		die("cannot share %s: %s", dir, why);
	cfg->nr_p9++;
}

static void resolve_dir(const char *what, const char *path, char out[PATH_MAX])
{
	struct stat st;

	if (!realpath(path, out) || stat(out, &st))
		die("%s %s: %s", what, path, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		die("%s %s: not a directory", what, path);
}

/* The caller's directory as the guest sees it: "" when outside the export. */
static void guest_cwd(void)
{
	char cwd[PATH_MAX];
	size_t n = strlen(dl.root);

	if (!getcwd(cwd, sizeof(cwd)))
		return;
	for (unsigned int i = 0; i < LKVM_MAX_RWDIRS && dl.rwdir[i][0]; i++) {
		size_t m = strlen(dl.rwdir[i]);

		if (!strncmp(cwd, dl.rwdir[i], m) && (cwd[m] == '/' || !cwd[m])) {
			snprintf(dl.guest_cwd, sizeof(dl.guest_cwd), "%s", cwd);
			return;
		}
	}
	if (!strcmp(dl.root, "/"))
		snprintf(dl.guest_cwd, sizeof(dl.guest_cwd), "%s", cwd);
	else if (!strncmp(cwd, dl.root, n) && (cwd[n] == '/' || !cwd[n]))
		snprintf(dl.guest_cwd, sizeof(dl.guest_cwd), "%s", cwd[n] ? cwd + n : "/");
}

/* Quiet by default: CMD's output must not be mixed with the kernel's. */
static void build_params(struct lkvm_config *cfg)
{
	const char *user = cfg->params;

	if (asprintf(&dl.params, "quiet loglevel=1 panic=-1%s%s", user ? " " : "",
		     user ? user : "") < 0)
		die("out of memory");
	cfg->params = dl.params;
}

int devloop_configure(struct lkvm_config *cfg)
{
	bool asked = cfg->rootfs || cfg->rootfs_rw || cfg->nr_rwdirs || cfg->modules_dir ||
		     cfg->command_given;
	int ret;

	if (!cfg->kernel_path && !cfg->firmware_path)
		find_kernel(cfg);
	if (cfg->firmware_path || cfg->initrd_path || (cfg->nr_disks && !asked)) {
		if (asked) {
			fprintf(stderr, "lkvm run: --rootfs, --rw, --rwdir, --modules and -- CMD "
				"use lkvm's own initramfs: drop -i/-f\n");
			return LKVM_EXIT_USAGE;
		}
		return 0;
	}
	ret = kernel_release(cfg->kernel_path, dl.release, sizeof(dl.release));
	if (ret == -ENOEXEC) {
		if (!asked)
			return 0;	/* a flat test binary */
		die("kernel %s is not a Linux image", cfg->kernel_path);
	}
	if (ret == -ENODATA)
		dl.release[0] = '\0';
	else if (ret < 0)
		die("kernel %s: %s", cfg->kernel_path, strerror(-ret));

	dl.active = true;
	resolve_dir("--rootfs", cfg->rootfs ? cfg->rootfs : "/", dl.root);
	add_9p(cfg, dl.root, ROOT_TAG, !cfg->rootfs_rw);
	for (unsigned int i = 0; i < cfg->nr_rwdirs; i++) {
		char tag[24];

		resolve_dir("--rwdir", cfg->rwdirs[i], dl.rwdir[i]);
		snprintf(tag, sizeof(tag), "lkvmrw%u", i);
		add_9p(cfg, dl.rwdir[i], tag, false);
	}
	guest_cwd();
	build_params(cfg);
	if (dl.release[0] || cfg->modules_dir)
		find_modules(cfg);
	return 0;
}

static bool uses_user_net(const struct lkvm_config *cfg)
{
	return cfg->nr_nics == 0 || cfg->nics[0].mode == NET_MODE_USER;
}

static void put_config(struct cpio *c, struct kvm *kvm)
{
	const struct lkvm_config *cfg = kvm->cfg;
	struct winsize ws = { 0 };
	char exitdev[64] = "", *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	const char *console = virtio_console_name(kvm);

	if (!f)
		die("out of memory");
	if (exit_dev_describe(exitdev, sizeof(exitdev)))
		pr_warn("no exit device on this architecture: lkvm cannot get CMD's status");
	ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws);
	fprintf(f, "exit=%s\nroot=%s\nrw=%d\ncwd=%s\nhostname=%s\nconsole=%s\n"
		"stdin_tty=%d\nstdout_tty=%d\nrows=%u\ncols=%u\nnet=%d\n",
		exitdev, ROOT_TAG, cfg->rootfs_rw, dl.guest_cwd, cfg->name ? cfg->name : "lkvm",
		console ? console : "ttyS0", isatty(STDIN_FILENO), isatty(STDOUT_FILENO),
		ws.ws_row, ws.ws_col, uses_user_net(cfg));
	for (unsigned int i = 0; i < cfg->nr_rwdirs; i++)
		fprintf(f, "rwdir=lkvmrw%u:%s\n", i, dl.rwdir[i]);
	fclose(f);
	cpio_add_file(c, "lkvm/config", 0644, text, len);
	free(text);
}

static void put_argv(struct cpio *c, const struct lkvm_config *cfg)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		die("out of memory");
	for (char **a = cfg->command; a && *a; a++)
		fwrite(*a, 1, strlen(*a) + 1, f);
	fclose(f);
	cpio_add_file(c, "lkvm/argv", 0644, text, len);
	free(text);
}

static void put_modules(struct cpio *c)
{
	char *list = NULL, name[PATH_MAX + 16];
	size_t len = 0;
	FILE *f = open_memstream(&list, &len);

	if (!f)
		die("out of memory");
	for (unsigned int i = 0; i < dl.mods.nr; i++) {
		const char *base = strrchr(dl.mods.path[i], '/');
		int ret;

		base = base ? base + 1 : dl.mods.path[i];
		snprintf(name, sizeof(name), "lkvm/mod/%s", base);
		ret = cpio_add_host_file(c, name, 0644, dl.mods.path[i]);
		if (ret)
			die("module %s: %s", dl.mods.path[i], strerror(-ret));
		fprintf(f, "%s\n", base);
	}
	fclose(f);
	cpio_add_file(c, "lkvm/modules", 0644, list, len);
	free(list);
}

/*
 * The initramfs goes into a memfd, named to the loader as /proc/self/fd/N:
 * nothing on disk, gone when lkvm exits.
 */
void devloop_pack_initramfs(struct kvm *kvm)
{
	struct cpio c;
	int fd, ret;

	if (!dl.active)
		return;
	fd = memfd_create("lkvm-initramfs", MFD_CLOEXEC);
	if (fd < 0)
		die("cannot create the initramfs: memfd_create: %s", strerror(errno));
	cpio_init(&c, fd);
	cpio_add_dir(&c, "dev", 0755);
	cpio_add_node(&c, "dev/console", S_IFCHR | 0600, 5, 1);
	cpio_add_dir(&c, "lkvm", 0755);
	cpio_add_dir(&c, "lkvm/mod", 0755);
	cpio_add_file(&c, "init", 0755, lkvm_guest_init_start,
		      lkvm_guest_init_end - lkvm_guest_init_start);
	put_config(&c, kvm);
	put_argv(&c, kvm->cfg);
	put_modules(&c);
	ret = cpio_finish(&c);
	if (ret)
		die("cannot write the initramfs: %s", strerror(-ret));
	snprintf(dl.initrd, sizeof(dl.initrd), "/proc/self/fd/%d", fd);
	term_hold_input();
	term_send_eof(!isatty(STDIN_FILENO));
	kvm->cfg->initrd_path = dl.initrd;
	pr_debug("initramfs: %u modules, %llu bytes", dl.mods.nr,
		 (unsigned long long)c.offset);
}

int devloop_exit_status(struct kvm *kvm, int status)
{
	if (!dl.active)
		return status;
	switch (kvm->stop_reason) {
	case VM_STOP_RESET:
	case VM_STOP_POWEROFF:
		pr_err("the guest stopped without reporting a status (exit %d)",
		       LKVM_EXIT_NO_STATUS);
		return LKVM_EXIT_NO_STATUS;
	case VM_STOP_USER:
		if (status == LKVM_EXIT_TIMEOUT)
			return status;
		pr_err("the guest was stopped before it reported a status (exit %d)",
		       LKVM_EXIT_NO_STATUS);
		return LKVM_EXIT_NO_STATUS;
	case VM_STOP_PANIC:
		pr_err("guest kernel panic (exit %d)", LKVM_EXIT_PANIC);
		return status;
	case VM_STOP_TRIPLE_FAULT:
		pr_err("guest triple fault (exit %d)", LKVM_EXIT_TRIPLE_FAULT);
		return status;
	default:
		return status;
	}
}
