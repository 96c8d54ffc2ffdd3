/* `lkvm run` option parsing. */
#include <stdlib.h>
#include "lkvm/options.h"
#include "unit.h"

#define ARGV(...) ((char *[]){ "run", __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *[]){ "run", __VA_ARGS__ }) / sizeof(char *)))
#define PARSE(cfg, ...) parse_run_options(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), cfg)

static void test_defaults_and_kernel(void)
{
	struct lkvm_config cfg;

	CHECK_EQ(PARSE(&cfg, "-k", "bz"), 0);
	CHECK_STR(cfg.kernel_path, "bz");
	CHECK_EQ(cfg.ram_mib, 256);
	CHECK_EQ(cfg.nr_cpus, 1);
	CHECK_EQ(cfg.console, LKVM_CONSOLE_SERIAL);
	CHECK(cfg.params == NULL);
	CHECK(cfg.initrd_path == NULL);
}

static void test_long_and_short_options(void)
{
	struct lkvm_config cfg;

	CHECK_EQ(PARSE(&cfg, "--kernel", "k", "-i", "ird", "--params", "a=b c",
		       "-m", "1G", "--cpus", "4", "--name", "vm1", "--debug",
		       "--timeout", "30"), 0);
	CHECK_STR(cfg.kernel_path, "k");
	CHECK_STR(cfg.initrd_path, "ird");
	CHECK_STR(cfg.params, "a=b c");
	CHECK_EQ(cfg.ram_mib, 1024);
	CHECK_EQ(cfg.nr_cpus, 4);
	CHECK_STR(cfg.name, "vm1");
	CHECK(cfg.debug);
	CHECK_EQ(cfg.timeout_sec, 30);
}

static void test_bad_values_exit_2(void)
{
	struct lkvm_config cfg;

	CHECK_EQ(PARSE(&cfg, "-k", "k", "-m", "lots"), LKVM_EXIT_USAGE);
	CHECK_EQ(PARSE(&cfg, "-k", "k", "-m", "4"), LKVM_EXIT_USAGE);
	CHECK_EQ(PARSE(&cfg, "-k", "k", "-c", "0"), LKVM_EXIT_USAGE);
	CHECK_EQ(PARSE(&cfg, "-k", "k", "-c", "65"), LKVM_EXIT_USAGE);
	CHECK_EQ(PARSE(&cfg, "-k", "k", "-c", "2x"), LKVM_EXIT_USAGE);
	CHECK_EQ(PARSE(&cfg, "-k", "k", "--bogus"), LKVM_EXIT_USAGE);
	CHECK_EQ(PARSE(&cfg, "-k", "k", "stray"), LKVM_EXIT_USAGE);
	CHECK_EQ(PARSE(&cfg, "-k"), LKVM_EXIT_USAGE);
	CHECK_EQ(PARSE(&cfg, "-k", "k", "--virtio-transport", "usb"), LKVM_EXIT_USAGE);
	/* -d specs are checked when read, format= included. */
	CHECK_EQ(PARSE(&cfg, "-k", "k", "-d", "a.img,format=bogus"), LKVM_EXIT_USAGE);
	CHECK_EQ(PARSE(&cfg, "-k", "k", "-d", "a.img,rw"), LKVM_EXIT_USAGE);
	CHECK_EQ(PARSE(&cfg, "-k", "k", "-d", "a.img,format=raw", "-d", "b.img,format=qcow2,ro"), 0);
	CHECK_EQ(cfg.nr_disks, 2);
}

/* The kernel is optional now: run.c's devloop_configure() looks for one. */
static void test_kernel_optional(void)
{
	struct lkvm_config cfg;

	CHECK_EQ(PARSE(&cfg, "-m", "128"), 0);
	CHECK(cfg.kernel_path == NULL);
	CHECK(!cfg.command_given);
	CHECK(cfg.command == NULL);
}

/* cfg.command points into argv: keep each argv alive while it is checked. */
static void test_command_after_double_dash(void)
{
	struct lkvm_config cfg;
	char *a1[] = { "run", "-k", "k", "--", "sh", "-c", "exit 7", NULL };
	char *a2[] = { "run", "--", "-m", "5", "--rw", NULL };
	char *a3[] = { "run", "-m", "512", "--", NULL };

	CHECK_EQ(parse_run_options(7, a1, &cfg), 0);
	CHECK(cfg.command_given);
	CHECK_STR(cfg.command[0], "sh");
	CHECK_STR(cfg.command[1], "-c");
	CHECK_STR(cfg.command[2], "exit 7");
	CHECK(cfg.command[3] == NULL);

	/* After "--" nothing is an lkvm option. */
	CHECK_EQ(parse_run_options(5, a2, &cfg), 0);
	CHECK_EQ(cfg.ram_mib, 256);
	CHECK(!cfg.rootfs_rw);
	CHECK_STR(cfg.command[0], "-m");
	CHECK_STR(cfg.command[2], "--rw");

	/* "--" alone: lkvm's init starts a shell. */
	CHECK_EQ(parse_run_options(4, a3, &cfg), 0);
	CHECK(cfg.command_given);
	CHECK(cfg.command[0] == NULL);
	CHECK_EQ(cfg.ram_mib, 512);

	/* A command without "--" is refused, before or after options. */
	CHECK_EQ(PARSE(&cfg, "true"), LKVM_EXIT_USAGE);
	CHECK_EQ(PARSE(&cfg, "-k", "k", "true", "--"), LKVM_EXIT_USAGE);
}

static void test_root_options(void)
{
	struct lkvm_config cfg;

	char *args[] = { "run", "--rootfs", "/srv/chroot", "--rw", "--rwdir", "/a",
			 "--rwdir", "/b", "--modules", "/m", "--", "make", NULL };

	CHECK_EQ(parse_run_options(12, args, &cfg), 0);
	CHECK_STR(cfg.rootfs, "/srv/chroot");
	CHECK(cfg.rootfs_rw);
	CHECK_EQ(cfg.nr_rwdirs, 2);
	CHECK_STR(cfg.rwdirs[0], "/a");
	CHECK_STR(cfg.rwdirs[1], "/b");
	CHECK_STR(cfg.modules_dir, "/m");
	CHECK_STR(cfg.command[0], "make");

	CHECK_EQ(PARSE(&cfg, "-k", "k"), 0);
	CHECK(cfg.rootfs == NULL && !cfg.rootfs_rw && cfg.nr_rwdirs == 0);

	CHECK_EQ(PARSE(&cfg, "--rwdir", "/1", "--rwdir", "/2", "--rwdir", "/3",
		       "--rwdir", "/4", "--rwdir", "/5"), LKVM_EXIT_USAGE);
	CHECK_EQ(PARSE(&cfg, "--rootfs"), LKVM_EXIT_USAGE);
	CHECK_EQ(PARSE(&cfg, "--rw=1"), LKVM_EXIT_USAGE);
}

static void test_unimplemented_options_refused(void)
{
	struct lkvm_config cfg;

	/* Known kvmtool options that do nothing yet must not be ignored. */
	CHECK_EQ(PARSE(&cfg, "-k", "k", "--sandbox", "x.sh"), LKVM_EXIT_USAGE);
	CHECK_EQ(PARSE(&cfg, "-k", "k", "--vsock", "2"), LKVM_EXIT_USAGE);	/* reserved CID */
	CHECK_EQ(PARSE(&cfg, "-k", "k", "--vsock", "3", "--balloon"), 0);
	CHECK_EQ(cfg.vsock_cid, 3);
	CHECK(cfg.balloon);
	CHECK_EQ(PARSE(&cfg, "-k", "k", "--9p", "/tmp"), LKVM_EXIT_USAGE);	/* no tag */
	CHECK_EQ(PARSE(&cfg, "-k", "k", "--9p", "/tmp,tag", "--9p", "/srv,t2,ro"), 0);
	CHECK_EQ(cfg.nr_p9, 2);
	CHECK_STR(cfg.p9[1].dir, "/srv");
	CHECK_STR(cfg.p9[1].tag, "t2");
	CHECK(cfg.p9[1].readonly && !cfg.p9[0].readonly);
	/* -d is implemented: repeated -d accumulate. */
	CHECK_EQ(PARSE(&cfg, "-k", "k", "-d", "a.img", "--disk", "b.img,ro"), 0);
	CHECK_EQ(cfg.nr_disks, 2);
	CHECK_STR(cfg.disks[1].path, "b.img");
	CHECK(cfg.disks[1].readonly);
	CHECK(!cfg.disks[0].readonly);
	CHECK_EQ(PARSE(&cfg, "-k", "k", "-d", "a.img,bogus"), LKVM_EXIT_USAGE);
	CHECK_EQ(PARSE(&cfg, "-k", "k", "-d", ",ro"), LKVM_EXIT_USAGE);
	CHECK_EQ(PARSE(&cfg, "-k", "k", "--console", "hvc"), LKVM_EXIT_USAGE);
}

static void test_virtio_options(void)
{
	struct lkvm_config cfg;

	CHECK_EQ(PARSE(&cfg, "-k", "k", "--console", "virtio", "--rng",
		       "--virtio-transport", "mmio-legacy"), 0);
	CHECK_EQ(cfg.console, LKVM_CONSOLE_VIRTIO);
	CHECK(cfg.rng);
	CHECK_EQ(cfg.transport, LKVM_TRANSPORT_MMIO_LEGACY);
	CHECK_STR(lkvm_transport_name(cfg.transport), "mmio-legacy");
	CHECK_EQ(PARSE(&cfg, "-k", "k"), 0);
	CHECK(!cfg.rng);
	CHECK_EQ(cfg.transport, LKVM_TRANSPORT_PCI);
	CHECK_EQ(cfg.console, LKVM_CONSOLE_SERIAL);
	CHECK(!cfg.split_rings);
	CHECK_EQ(PARSE(&cfg, "-k", "k", "--virtio-ring", "split"), 0);
	CHECK(cfg.split_rings);
	CHECK_EQ(PARSE(&cfg, "-k", "k", "--virtio-ring", "packed"), 0);
	CHECK(!cfg.split_rings);
	CHECK_EQ(PARSE(&cfg, "-k", "k", "--virtio-ring", "ring"), LKVM_EXIT_USAGE);
}

static void test_network_option(void)
{
	struct lkvm_config cfg;

	CHECK_EQ(PARSE(&cfg, "-k", "k", "-n", "mode=user,hostfwd=tcp:127.0.0.1:2222-:22",
		       "--network", "mode=none"), 0);
	CHECK_EQ(cfg.nr_nics, 2);
	CHECK_EQ(cfg.nics[0].mode, NET_MODE_USER);
	CHECK_EQ(cfg.nics[1].mode, NET_MODE_NONE);
	CHECK_EQ(PARSE(&cfg, "-k", "k"), 0);	/* no -n: one user-mode NIC */
	CHECK_EQ(cfg.nr_nics, 1);
	CHECK_EQ(cfg.nics[0].mode, NET_MODE_USER);
	CHECK_EQ(PARSE(&cfg, "-k", "k", "-n", "mode=carrier-pigeon"), LKVM_EXIT_USAGE);
	CHECK_EQ(PARSE(&cfg, "-k", "k", "-n", "mode=user,guest_mac=zz"), LKVM_EXIT_USAGE);
	CHECK_EQ(PARSE(&cfg, "-k", "k", "-n", "mode=user,hostfwd=tcp:1-"), LKVM_EXIT_USAGE);
}

static void test_mem_size_units(void)
{
	u64 mib;

	CHECK_EQ(parse_mem_size("512", &mib), 0);
	CHECK_EQ(mib, 512);
	CHECK_EQ(parse_mem_size("512M", &mib), 0);
	CHECK_EQ(mib, 512);
	CHECK_EQ(parse_mem_size("2G", &mib), 0);
	CHECK_EQ(mib, 2048);
	CHECK_EQ(parse_mem_size("2GiB", &mib), 0);
	CHECK_EQ(mib, 2048);
	CHECK_EQ(parse_mem_size("1T", &mib), 0);
	CHECK_EQ(mib, 1024 * 1024);
	CHECK(parse_mem_size("", &mib) < 0);
	CHECK(parse_mem_size("0", &mib) < 0);
	CHECK(parse_mem_size("12X", &mib) < 0);
	CHECK(parse_mem_size("12Mx", &mib) < 0);
}

/* Off by default: a triple fault is an error unless asked otherwise. */
static void test_reboot_on_triple_fault(void)
{
	struct lkvm_config cfg;

	CHECK_EQ(PARSE(&cfg, "-k", "k"), 0);
	CHECK(!cfg.reboot_on_triple_fault);
	CHECK_EQ(PARSE(&cfg, "-k", "k", "--reboot-on-triple-fault"), 0);
	CHECK(cfg.reboot_on_triple_fault);
	/* A flag: a value is refused, and so is a misspelling. */
	CHECK_EQ(PARSE(&cfg, "-k", "k", "--reboot-on-triple-fault=1"), LKVM_EXIT_USAGE);
	CHECK_EQ(PARSE(&cfg, "-k", "k", "--reboot-on-triplefault"), LKVM_EXIT_USAGE);
	/* The next parse starts from the defaults again. */
	CHECK_EQ(PARSE(&cfg, "-k", "k"), 0);
	CHECK(!cfg.reboot_on_triple_fault);
}

static void test_help(void)
{
	struct lkvm_config cfg;

	CHECK_EQ(PARSE(&cfg, "--help"), -1);
}

int main(void)
{
	RUN(test_defaults_and_kernel);
	RUN(test_long_and_short_options);
	RUN(test_bad_values_exit_2);
	RUN(test_unimplemented_options_refused);
	RUN(test_kernel_optional);
	RUN(test_command_after_double_dash);
	RUN(test_root_options);
	RUN(test_virtio_options);
	RUN(test_network_option);
	RUN(test_mem_size_units);
	RUN(test_reboot_on_triple_fault);
	RUN(test_help);
	return unit_summary();
}
