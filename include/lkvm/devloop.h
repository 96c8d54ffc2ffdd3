#ifndef LKVM_DEVLOOP_H
#define LKVM_DEVLOOP_H
/*
 * `lkvm run` without a root of its own (no -i, -f, or -d alone): the
 * host's / (or --rootfs) over virtio-9p, lkvm's init, CMD's exit status.
 * See devloop.c and the README.
 */
#include <stdbool.h>

struct kvm;
struct lkvm_config;

/*
 * After option parsing: find the kernel when -k is missing, and when this
 * mode applies, add the 9p shares and the quiet command line and pick the
 * modules.  0, or LKVM_EXIT_USAGE after a message; dies on other errors.
 */
int devloop_configure(struct lkvm_config *cfg);
bool devloop_active(void);
/* After the platform devices exist (the exit device): the initramfs. */
void devloop_pack_initramfs(struct kvm *kvm);
/* lkvm's exit status for this mode, from the generic one. */
int devloop_exit_status(struct kvm *kvm, int status);

#endif
