#ifndef LKVM_RUN_H
#define LKVM_RUN_H

/* Exit statuses of `lkvm run` (also in the usage text and README). */
#define LKVM_EXIT_OK 0
#define LKVM_EXIT_VM_ERROR 1
#define LKVM_EXIT_PANIC 3
#define LKVM_EXIT_TIMEOUT 124

int cmd_run(int argc, char **argv);

#endif
