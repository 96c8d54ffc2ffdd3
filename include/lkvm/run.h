#ifndef LKVM_RUN_H
#define LKVM_RUN_H

/* Exit statuses of `lkvm run` (also in the usage text and README). */
#define LKVM_EXIT_OK 0
#define LKVM_EXIT_VM_ERROR 1
#define LKVM_EXIT_PANIC 3
/* 4 is LKVM_EXIT_SANDBOX (sandbox.h) */
#define LKVM_EXIT_TRIPLE_FAULT 5	/* the guest reset without asking (x86 triple fault) */
#define LKVM_EXIT_TIMEOUT 124
/* With lkvm's own init (devloop.c, guest/init.c): */
#define LKVM_EXIT_NO_STATUS 125		/* the guest ended without reporting one */
#define LKVM_EXIT_NOT_STARTED 127	/* CMD could not be executed */

int cmd_run(int argc, char **argv);
/* `lkvm sandbox [options] -- CMD`: kvmtool's name for run with a command. */
int cmd_sandbox(int argc, char **argv);

#endif
