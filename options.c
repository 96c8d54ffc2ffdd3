/*
 * `lkvm run` command line.  Names follow kvmtool's so existing scripts
 * keep working; a kvmtool option lkvm does not offer is refused with a
 * message rather than silently ignored.  Every value is parsed and checked
 * here, into the typed lkvm_config: bad input gets one line and exit 2.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include "lkvm/disk.h"
#include "lkvm/gdb.h"
#include "lkvm/net.h"
#include "lkvm/options.h"
#include "lkvm/sandbox.h"
#include "lkvm/virtio-9p.h"

enum {
	OPT_NAME = 256, OPT_CONSOLE, OPT_DEBUG, OPT_RNG, OPT_TRANSPORT, OPT_VIRTIO_RING,
	OPT_TEST_DEVICE, OPT_TIMEOUT, OPT_HELP,
	OPT_BALLOON, OPT_9P, OPT_VSOCK, OPT_SANDBOX, OPT_NODHCP, OPT_DEV,
	OPT_HUGETLBFS, OPT_VFIO, OPT_NO_SANDBOX, OPT_SANDBOX_TEST,
	OPT_ROOTFS, OPT_RW, OPT_RWDIR, OPT_MODULES,
	OPT_GDB, OPT_GDB_WAIT, OPT_BOOT_TRACE, OPT_IRQCHIP, OPT_DUMP_DTB,
	OPT_REBOOT_ON_TRIPLE_FAULT,
};

static const struct option run_options[] = {
	{ "kernel", required_argument, NULL, 'k' },
	{ "initrd", required_argument, NULL, 'i' },
	{ "params", required_argument, NULL, 'p' },
	{ "mem", required_argument, NULL, 'm' },
	{ "cpus", required_argument, NULL, 'c' },
	{ "firmware", required_argument, NULL, 'f' },
	{ "disk", required_argument, NULL, 'd' },
	{ "network", required_argument, NULL, 'n' },
	{ "name", required_argument, NULL, OPT_NAME },
	{ "console", required_argument, NULL, OPT_CONSOLE },
	{ "debug", no_argument, NULL, OPT_DEBUG },
	{ "rng", no_argument, NULL, OPT_RNG },
	{ "virtio-transport", required_argument, NULL, OPT_TRANSPORT },
	/* Hidden, for benchmarks: packed rings (default, if the guest takes them) or split. */
	{ "virtio-ring", required_argument, NULL, OPT_VIRTIO_RING },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "test-device", no_argument, NULL, OPT_TEST_DEVICE },
	{ "no-sandbox", no_argument, NULL, OPT_NO_SANDBOX },
	/* Hidden, for the tests: a thread of role ARG makes a forbidden call. */
	{ "sandbox-test-violation", required_argument, NULL, OPT_SANDBOX_TEST },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "rootfs", required_argument, NULL, OPT_ROOTFS },
	{ "rw", no_argument, NULL, OPT_RW },
	{ "rwdir", required_argument, NULL, OPT_RWDIR },
	{ "modules", required_argument, NULL, OPT_MODULES },
	{ "gdb", required_argument, NULL, OPT_GDB },
	{ "gdb-wait", no_argument, NULL, OPT_GDB_WAIT },
	{ "boot-trace", no_argument, NULL, OPT_BOOT_TRACE },
	{ "reboot-on-triple-fault", no_argument, NULL, OPT_REBOOT_ON_TRIPLE_FAULT },
	{ "irqchip", required_argument, NULL, OPT_IRQCHIP },
	{ "dump-dtb", required_argument, NULL, OPT_DUMP_DTB },
	/* kvmtool options not built yet: recognised so the message is clear. */
	{ "balloon", no_argument, NULL, OPT_BALLOON },
	{ "9p", required_argument, NULL, OPT_9P },
	{ "vsock", required_argument, NULL, OPT_VSOCK },
	/* kvmtool options lkvm does not offer: recognised so the message is clear. */
	{ "sandbox", required_argument, NULL, OPT_SANDBOX },
	{ "no-dhcp", no_argument, NULL, OPT_NODHCP },
	{ "dev", required_argument, NULL, OPT_DEV },
	{ "hugetlbfs", required_argument, NULL, OPT_HUGETLBFS },
	{ "vfio-pci", required_argument, NULL, OPT_VFIO },
	{ NULL, 0, NULL, 0 },
};

void print_run_usage(FILE *out)
{
	fputs("usage: lkvm run [-k KERNEL] [options] [-- CMD [ARGS...]]\n"
	      "  -k, --kernel FILE       bzImage or vmlinux (ELF with a PVH entry note) on x86,\n"
	      "                          Image on arm64, or a flat binary (test guests); default:\n"
	      "                          the first of ./bzImage, ./arch/x86/boot/bzImage (arm64:\n"
	      "                          ./arch/arm64/boot/Image), /boot/vmlinuz-$(uname -r)\n"
	      "  -i, --initrd FILE       initial ramdisk\n"
	      "  -p, --params TEXT       appended to the kernel command line\n"
	      "  -m, --mem SIZE          guest RAM, MiB or with K/M/G suffix (default 256)\n"
	      "  -c, --cpus N            number of vCPUs (default 1)\n"
	      "  -d, --disk PATH[,format=raw|qcow2][,ro][,direct][,sync]\n"
	      "                          a virtio-blk disk; repeat for vdb...  Without format= a\n"
	      "                          qcow2 header means qcow2, and the guest may not write one\n"
	      "                          into a raw image (format=raw allows it)\n"
	      "  -n, --network SPEC      a NIC: mode=user|tap|none[,guest_mac=..][,host_ip=..][,guest_ip=..]\n"
	      "                          [,tapif=..][,script=PATH|none][,host_mac=..][,vhost=1][,mtu=N]\n"
	      "                          [,hostfwd=tcp:127.0.0.1:2222-:22 ...]; default one user-mode NIC\n"
	      "      --9p DIR,TAG[,ro]   share a host directory (mount -t 9p -o trans=virtio TAG)\n"
	      "      --name NAME         name of this VM\n"
	      "      --console serial|virtio  guest console on ttyS0 (default) or hvc0\n"
	      "      --rng               virtio-rng: entropy from the host's getrandom()\n"
	      "      --balloon           virtio-balloon: lkvm balloon/stat --memory control it\n"
	      "      --vsock CID         virtio-vsock with guest CID (>= 3) through /dev/vhost-vsock\n"
	      "      --virtio-transport pci|pci-legacy|mmio|mmio-legacy\n"
	      "                          how virtio devices appear (default pci)\n"
	      "      --timeout SECONDS   stop the guest and exit 124 after SECONDS\n"
	      "      --debug             log unhandled I/O and other details\n"
	      "Without -i, -d or -f the guest's root is the host's / over virtio-9p, read-only\n"
	      "with a tmpfs overlay (writes stay in the guest), and lkvm's own init runs CMD\n"
	      "(or a shell) in the current directory; lkvm exits with its status:\n"
	      "      --rootfs DIR        export DIR as the root instead of /\n"
	      "      --rw                no overlay: the guest writes to the exported root\n"
	      "      --rwdir PATH        host directory PATH writable at the same path (repeat)\n"
	      "      --modules DIR       the kernel's modules (/lib/modules/REL, or an\n"
	      "                          INSTALL_MOD_PATH tree); default: the root's /lib/modules\n"
	      "      --gdb [HOST:]PORT   GDB remote protocol server (HOST default 127.0.0.1)\n"
	      "      --gdb-wait          hold the vCPUs until a debugger attaches (with --gdb)\n"
	      "      --boot-trace        at exit, print when the VM was ready, the first vCPU\n"
	      "                          entry, the first console byte and boot-progress write\n"
	      "      --no-sandbox        run without the seccomp sandbox (for debugging)\n"
	      "      --reboot-on-triple-fault  x86: a triple fault is a reboot (exit 0), not\n"
	      "                          an error (exit 5 and the vCPU registers)\n"
	      "      --irqchip gicv3|gicv3-its|gicv2  arm64: the interrupt controller\n"
	      "                          (default gicv3-its, else gicv3, else gicv2)\n"
	      "      --dump-dtb FILE     arm64: write the device tree to FILE and exit\n"
	      "Console: Ctrl-A x stops the guest; Ctrl-A Ctrl-A sends Ctrl-A.\n"
	      "Exit status: 0 guest rebooted or powered off, 1 fatal VM error,\n"
	      "  2 bad command line, 3 guest kernel panic, 4 the sandbox stopped lkvm\n"
	      "  (a forbidden system call: a bug), 5 the guest reset without asking\n"
	      "  (x86 triple fault; registers on stderr), 124 timeout.\n"
	      "  With lkvm's init: CMD's status (0-255); 3 and \"guest reported a kernel\n"
	      "  panic\" on stderr for a panic, 5 and \"guest triple fault\" for a triple\n"
	      "  fault; 125 the guest ended without a status; 127 CMD\n"
	      "  could not be started; 124 timeout.\n", out);
}

int parse_mem_size(const char *s, u64 *mib)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case '\0': case 'M': case 'm': break;
	case 'G': case 'g': v <<= 10; break;
	case 'T': case 't': v <<= 20; break;
	case 'K': case 'k': v >>= 10; break;
	default: return -EINVAL;
	}
	if (*end && end[1] && strcmp(end + 1, "iB") && strcmp(end + 1, "B"))
		return -EINVAL;
	if (!v)
		return -EINVAL;
	*mib = v;
	return 0;
}

static int usage_error(const char *fmt, const char *arg)
{
	fputs("lkvm run: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs(" (see lkvm run --help)\n", stderr);
	return LKVM_EXIT_USAGE;
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static const char *const transport_names[] = {
	[LKVM_TRANSPORT_PCI] = "pci",
	[LKVM_TRANSPORT_PCI_LEGACY] = "pci-legacy",
	[LKVM_TRANSPORT_MMIO] = "mmio",
	[LKVM_TRANSPORT_MMIO_LEGACY] = "mmio-legacy",
};

const char *lkvm_transport_name(enum lkvm_transport t)
{
	return (unsigned int)t < ARRAY_SIZE(transport_names) ? transport_names[t] : "?";
}

static int parse_transport(const char *s, enum lkvm_transport *t)
{
	for (unsigned int i = 0; i < ARRAY_SIZE(transport_names); i++)
		if (!strcmp(s, transport_names[i])) {
			*t = i;
			return 0;
		}
	return -EINVAL;
}

static void config_defaults(struct lkvm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->ram_mib = 256;
	cfg->nr_cpus = 1;
	cfg->console = LKVM_CONSOLE_SERIAL;
	cfg->transport = LKVM_TRANSPORT_PCI;
	cfg->sandbox_test_role = -1;
}

/* A -d, -n or --9p spec its parser refused, saying why. */
static int spec_error(const char *opt, const char *spec, const char *why)
{
	fprintf(stderr, "lkvm run: bad %s '%s': %s\n", opt, spec, why);
	return LKVM_EXIT_USAGE;
}

static int parse_one(int opt, const char *arg, struct lkvm_config *cfg)
{
	const char *why;
	unsigned long v;

	switch (opt) {
	case 'k': cfg->kernel_path = arg; break;
	case 'i': cfg->initrd_path = arg; break;
	case 'p': cfg->params = arg; break;
	case 'f': cfg->firmware_path = arg; break;
	case OPT_NAME: cfg->name = arg; break;
	case OPT_DEBUG: cfg->debug = true; break;
	case OPT_TEST_DEVICE: cfg->test_device = true; break;
	case OPT_GDB: {
		char host[64];
		unsigned int port;

		if (gdb_parse_addr(arg, host, sizeof(host), &port))
			return usage_error("bad --gdb '%s': give [HOST:]PORT, e.g. 1234", arg);
		cfg->gdb = arg;
		break;
	}
	case OPT_GDB_WAIT: cfg->gdb_wait = true; break;
	case OPT_BOOT_TRACE: cfg->boot_trace = true; break;
	case OPT_REBOOT_ON_TRIPLE_FAULT: cfg->reboot_on_triple_fault = true; break;
	case OPT_NO_SANDBOX: cfg->no_sandbox = true; break;
	case OPT_SANDBOX_TEST:
		cfg->sandbox_test_role = sandbox_role_by_name(arg);
		if (cfg->sandbox_test_role < 0)
			return usage_error("bad --sandbox-test-violation '%s': give a thread role", arg);
		break;
	case 'm':
		if (parse_mem_size(arg, &cfg->ram_mib) || cfg->ram_mib < 8)
			return usage_error("bad memory size '%s': give MiB (at least 8) or e.g. 2G", arg);
		break;
	case 'c':
		if (parse_uint(arg, LKVM_MAX_CPUS, &v) || v == 0)
			return usage_error("bad cpu count '%s': give 1 to " "64", arg);
		cfg->nr_cpus = v;
		break;
	case OPT_TIMEOUT:
		if (parse_uint(arg, 86400 * 365, &v) || v == 0)
			return usage_error("bad timeout '%s': give seconds", arg);
		cfg->timeout_sec = v;
		break;
	case OPT_CONSOLE:
		if (strcmp(arg, "serial") && strcmp(arg, "virtio"))
			return usage_error("bad --console '%s': use serial or virtio", arg);
		cfg->console = strcmp(arg, "virtio") ? LKVM_CONSOLE_SERIAL : LKVM_CONSOLE_VIRTIO;
		break;
	case OPT_TRANSPORT:
		if (parse_transport(arg, &cfg->transport))
			return usage_error("bad --virtio-transport '%s': use pci, pci-legacy, mmio or mmio-legacy", arg);
		break;
	case OPT_VIRTIO_RING:
		if (strcmp(arg, "split") && strcmp(arg, "packed"))
			return usage_error("bad --virtio-ring '%s': use split or packed", arg);
		cfg->split_rings = !strcmp(arg, "split");
		break;
	case OPT_RNG: cfg->rng = true; break;
	case OPT_IRQCHIP:
		if (strcmp(arg, "gicv3") && strcmp(arg, "gicv3-its") && strcmp(arg, "gicv2"))
			return usage_error("bad --irqchip '%s': use gicv3, gicv3-its or gicv2", arg);
		cfg->irqchip = arg;
		break;
	case OPT_DUMP_DTB: cfg->dump_dtb = arg; break;
	case 'd':
		if (cfg->nr_disks >= LKVM_MAX_DISKS)
			return usage_error("too many -d (%s)", arg);
		if (disk_parse_spec(arg, &cfg->disks[cfg->nr_disks], &why))
			return spec_error("--disk", arg, why);
		cfg->nr_disks++;
		break;
	case OPT_9P:
		if (cfg->nr_p9 >= LKVM_MAX_9P)
			return usage_error("too many --9p (%s)", arg);
		if (virtio_9p_parse_spec(arg, &cfg->p9[cfg->nr_p9], &why))
			return spec_error("--9p", arg, why);
		cfg->nr_p9++;
		break;
	case OPT_BALLOON: cfg->balloon = true; break;
	case OPT_VSOCK:
		if (parse_uint(arg, 0xfffffffeUL, &v) || v < 3)
			return usage_error("bad --vsock CID '%s': give 3 to 4294967294", arg);
		cfg->vsock_cid = v;
		break;
	case 'n':
		if (cfg->nr_nics >= LKVM_MAX_NICS)
			return usage_error("too many -n (%s)", arg);
		if (net_parse_spec(arg, &cfg->nics[cfg->nr_nics], &why))
			return spec_error("--network", arg, why);
		cfg->nr_nics++;
		break;
	case OPT_ROOTFS: cfg->rootfs = arg; break;
	case OPT_RW: cfg->rootfs_rw = true; break;
	case OPT_MODULES: cfg->modules_dir = arg; break;
	case OPT_RWDIR:
		if (cfg->nr_rwdirs >= LKVM_MAX_RWDIRS)
			return usage_error("too many --rwdir (%s)", arg);
		cfg->rwdirs[cfg->nr_rwdirs++] = arg;
		break;
	case OPT_SANDBOX: case OPT_NODHCP: case OPT_DEV:
	case OPT_HUGETLBFS: case OPT_VFIO:
		return -1; /* reported by the caller, which knows the name */
	default:
		return LKVM_EXIT_USAGE;
	}
	return 0;
}

static const char *option_name(int opt)
{
	for (const struct option *o = run_options; o->name; o++)
		if (o->val == opt)
			return o->name;
	return "?";
}

int parse_run_options(int argc, char **argv, struct lkvm_config *cfg)
{
	const char *why;
	int opt, ret;

	config_defaults(cfg);
	optind = 1;
	opterr = 0;
	/* "+": stop at the first non-option, so that "--" ends the options. */
	while ((opt = getopt_long(argc, argv, "+:k:i:p:m:c:f:d:n:", run_options, NULL)) != -1) {
		if (opt == OPT_HELP) {
			print_run_usage(stdout);
			return -1;
		}
		if (opt == '?')
			return usage_error("unknown option '%s'", argv[optind - 1]);
		if (opt == ':')
			return usage_error("option '%s' needs a value", argv[optind - 1]);
		ret = parse_one(opt, optarg, cfg);
		if (ret < 0)
			return usage_error("--%s is not implemented yet", option_name(opt));
		if (ret)
			return ret;
	}
	if (optind > 1 && !strcmp(argv[optind - 1], "--")) {
		cfg->command_given = true;
		cfg->command = argv + optind;
	} else if (optind < argc) {
		return usage_error("unexpected argument '%s' (a command goes after --)",
				   argv[optind]);
	}
	if (cfg->gdb_wait && !cfg->gdb)
		return usage_error("%s", "--gdb-wait needs --gdb PORT");
	if (!cfg->nr_nics)	/* no -n: one user-mode NIC */
		net_parse_spec("mode=user", &cfg->nics[cfg->nr_nics++], &why);
	return 0;
}
