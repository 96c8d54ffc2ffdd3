/* lkvm: subcommand dispatch. */
#include <stdio.h>
#include <string.h>
#include "lkvm/compiler.h"
#include "lkvm/mgmt.h"
#include "lkvm/options.h"
#include "lkvm/run.h"

#ifndef LKVM_VERSION
#define LKVM_VERSION "0.1"
#endif

static void usage(FILE *out)
{
	fputs("usage: lkvm COMMAND [options]\n"
	      "commands:\n"
	      "  run       start a virtual machine (lkvm run --help)\n"
	      "  sandbox   run options -- CMD: run CMD in a guest of the host's userland\n"
	      "  list      running VMs: name, pid, state\n"
	      "  stop      stop a VM (--name NAME) or all (--all)\n"
	      "  pause     pause a VM's vCPUs (--name NAME)\n"
	      "  resume    resume them\n"
	      "  balloon   --name NAME --inflate|--deflate MiB\n"
	      "  stat      --name NAME [--memory]: state, balloon, guest memory stats\n"
	      "  debug     --name NAME [--dump] [--nmi CPU] [--sysrq KEY]\n"
	      "  version   print the version\n"
	      "  help      this text\n", out);
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} commands[] = {
	{ "run", cmd_run }, { "sandbox", cmd_sandbox }, { "list", cmd_list }, { "stop", cmd_stop },
	{ "pause", cmd_pause }, { "resume", cmd_resume },
	{ "balloon", cmd_balloon }, { "stat", cmd_stat }, { "debug", cmd_debug },
};

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (!cmd) {
		usage(stderr);
		return LKVM_EXIT_USAGE;
	}
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(cmd, commands[i].name))
			return commands[i].fn(argc - 1, argv + 1);
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		printf("lkvm version %s\n", LKVM_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "lkvm: unknown command '%s'\n", cmd);
	usage(stderr);
	return LKVM_EXIT_USAGE;
}
