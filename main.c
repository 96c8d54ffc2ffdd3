/* lkvm: subcommand dispatch. */
#include <stdio.h>
#include <string.h>
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
	      "  version   print the version\n"
	      "  help      this text\n", out);
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (!cmd) {
		usage(stderr);
		return LKVM_EXIT_USAGE;
	}
	if (!strcmp(cmd, "run"))
		return cmd_run(argc - 1, argv + 1);
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
