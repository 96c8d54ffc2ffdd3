/*
 * `lkvm run` command line.  Names follow kvmtool's so existing scripts
 * keep working; an option we know but have not built yet is refused with
 * a message rather than silently ignored.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include "lkvm/net.h"
#include "lkvm/options.h"
#include "lkvm/virtio-9p.h"

enum {
	OPT_NAME = 256, OPT_CONSOLE, OPT_DEBUG, OPT_RNG, OPT_TRANSPORT,
	OPT_TEST_DEVICE, OPT_TIMEOUT, OPT_HELP,
	OPT_BALLOON, OPT_9P, OPT_VSOCK, OPT_SANDBOX, OPT_NODHCP, OPT_DEV,
	OPT_HUGETLBFS, OPT_VFIO, OPT_IRQCHIP, OPT_DUMP_DTB,
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
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "test-device", no_argument, NULL, OPT_TEST_DEVICE },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "irqchip", required_argument, NULL, OPT_IRQCHIP },
	{ "dump-dtb", required_argument, NULL, OPT_DUMP_DTB },
	/* kvmtool options not built yet: recognised so the message is clear. */
	{ "balloon", no_argument, NULL, OPT_BALLOON },
	{ "9p", required_argument, NULL, OPT_9P },
	{ "vsock", required_argument, NULL, OPT_VSOCK },
	{ "sandbox", required_argument, NULL, OPT_SANDBOX },
	{ "no-dhcp", no_argument, NULL, OPT_NODHCP },
	{ "dev", required_argument, NULL, OPT_DEV },
	{ "hugetlbfs", required_argument, NULL, OPT_HUGETLBFS },
	{ "vfio-pci", required_argument, NULL, OPT_VFIO },
	{ NULL, 0, NULL, 0 },
};

void print_run_usage(FILE *out)
{
	fputs("usage: lkvm run -k KERNEL [options]\n"
	      "  -k, --kernel FILE       bzImage (x86), Image (arm64), or a flat binary (test guests)\n"
	      "  -i, --initrd FILE       initial ramdisk\n"
	      "  -p, --params TEXT       appended to the kernel command line\n"
	      "  -m, --mem SIZE          guest RAM, MiB or with K/M/G suffix (default 256)\n"
	      "  -c, --cpus N            number of vCPUs (default 1)\n"
	      "  -d, --disk PATH[,ro][,direct][,sync]  a virtio-blk disk (raw or qcow2); repeat for vdb...\n"
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
	      "      --irqchip gicv3|gicv3-its|gicv2  arm64: the interrupt controller\n"
	      "                          (default gicv3-its, else gicv3, else gicv2)\n"
	      "      --dump-dtb FILE     arm64: write the device tree to FILE and exit\n"
	      "Console: Ctrl-A x stops the guest; Ctrl-A Ctrl-A sends Ctrl-A.\n"
	      "Exit status: 0 guest rebooted or powered off, 1 fatal VM error,\n"
	      "  2 bad command line, 3 guest kernel panic, 124 timeout.\n", out);
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

static void config_defaults(struct lkvm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->ram_mib = 256;
	cfg->nr_cpus = 1;
	cfg->console = "serial";
	cfg->transport = "pci";
}

static int parse_one(int opt, const char *arg, struct lkvm_config *cfg)
{
	unsigned long v;

	switch (opt) {
	case 'k': cfg->kernel_path = arg; break;
	case 'i': cfg->initrd_path = arg; break;
	case 'p': cfg->params = arg; break;
	case 'f': cfg->firmware_path = arg; break;
	case OPT_NAME: cfg->name = arg; break;
	case OPT_DEBUG: cfg->debug = true; break;
	case OPT_TEST_DEVICE: cfg->test_device = true; break;
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
		cfg->console = arg;
		break;
	case OPT_TRANSPORT:
		if (strcmp(arg, "pci") && strcmp(arg, "pci-legacy") &&
		    strcmp(arg, "mmio") && strcmp(arg, "mmio-legacy"))
			return usage_error("bad --virtio-transport '%s': use pci, pci-legacy, mmio or mmio-legacy", arg);
		cfg->transport = arg;
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
		cfg->disk_specs[cfg->nr_disks++] = arg;
		break;
	case OPT_9P: {
		struct p9_params p9;
		const char *why;

		if (virtio_9p_parse_spec(arg, &p9, &why))
			return usage_error("bad --9p: %s", why);
		if (cfg->nr_p9 >= LKVM_MAX_9P)
			return usage_error("too many --9p (%s)", arg);
		cfg->p9_specs[cfg->nr_p9++] = arg;
		break;
	}
	case OPT_BALLOON: cfg->balloon = true; break;
	case OPT_VSOCK:
		if (parse_uint(arg, 0xfffffffeUL, &v) || v < 3)
			return usage_error("bad --vsock CID '%s': give 3 to 4294967294", arg);
		cfg->vsock_cid = v;
		break;
	case 'n': {
		struct net_params np;
		const char *why;

		if (cfg->nr_nics >= LKVM_MAX_NICS)
			return usage_error("too many -n (%s)", arg);
		if (net_parse_spec(arg, &np, &why)) {
			fprintf(stderr, "lkvm run: bad --network '%s': %s\n", arg, why);
			return LKVM_EXIT_USAGE;
		}
		cfg->net_specs[cfg->nr_nics++] = arg;
		break;
	}
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
	int opt, ret;

	config_defaults(cfg);
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":k:i:p:m:c:f:d:n:", run_options, NULL)) != -1) {
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
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (!cfg->kernel_path && !cfg->firmware_path)
		return usage_error("%s", "no kernel: give -k bzImage");
	return 0;
}
