/* `lkvm run`: build the VM from the options, run it, map the end to a status. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "lkvm/devloop.h"
#include "lkvm/boot-trace.h"
#include "lkvm/fd-budget.h"
#include "lkvm/gdb.h"
#include "lkvm/kvm.h"
#include "lkvm/kvm-arch.h"
#include "lkvm/kvm-cpu.h"
#include "lkvm/log.h"
#include "lkvm/mgmt.h"
#include "lkvm/options.h"
#include "lkvm/run.h"
#include "lkvm/term.h"
#include "lkvm/virtio-setup.h"
#include "lkvm/sandbox.h"

static struct kvm *running_vm;

/* SIGTERM/SIGINT/SIGHUP are taken by one thread so handlers stay trivial. */
static void *signal_thread(void *arg)
{
	sigset_t *set = arg;
	int sig;

	pthread_setname_np(pthread_self(), "signals");
	if (sigwait(set, &sig) == 0) {
		pr_info("signal %d: stopping the guest", sig);
		kvm_request_stop(running_vm, VM_STOP_USER);
	}
	return NULL;
}

static void start_signal_thread(void)
{
	static sigset_t set;
	pthread_t t;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (sandbox_thread_create(&t, NULL, SANDBOX_SIGNALS, signal_thread, &set) == 0)
		pthread_detach(t);
}

/* Wait for a stop request; returns true if the timeout fired first. */
static bool wait_for_stop(struct kvm *kvm, unsigned long timeout_sec)
{
	struct timespec deadline;
	bool timed_out = false;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += timeout_sec;
	pthread_mutex_lock(&kvm->stop_lock);
	while (kvm->stop_reason == VM_RUNNING) {
		if (!timeout_sec) {
			pthread_cond_wait(&kvm->stop_cond, &kvm->stop_lock);
		} else if (pthread_cond_timedwait(&kvm->stop_cond, &kvm->stop_lock,
						  &deadline) == ETIMEDOUT) {
			kvm->stop_reason = VM_STOP_USER;
			timed_out = true;
		}
	}
	pthread_mutex_unlock(&kvm->stop_lock);
	return timed_out;
}

static int exit_status(struct kvm *kvm, bool timed_out)
{
	if (timed_out) {
		pr_err("--timeout %lu reached: guest stopped", kvm->cfg->timeout_sec);
		return LKVM_EXIT_TIMEOUT;
	}
	switch (kvm->stop_reason) {
	case VM_STOP_GUEST_EXIT:
		return kvm->guest_exit_code;
	case VM_STOP_ERROR:
		return LKVM_EXIT_VM_ERROR;
	case VM_STOP_PANIC:
		return LKVM_EXIT_PANIC;
	case VM_STOP_TRIPLE_FAULT:
		return LKVM_EXIT_TRIPLE_FAULT;
	default:
		return LKVM_EXIT_OK;
	}
}

int cmd_run(int argc, char **argv)
{
	static struct lkvm_config cfg;
	struct kvm *kvm;
	bool timed_out;
	int ret;

	ret = parse_run_options(argc, argv, &cfg);
	if (ret)
		return ret < 0 ? 0 : ret;
	log_debug_enabled = cfg.debug;
	ret = devloop_configure(&cfg);
	if (ret)
		return ret;
	boot_trace_start(cfg.boot_trace);

	/* Before any thread: each is confined from its first instruction. */
	if (sandbox_init(!cfg.no_sandbox, cfg.sandbox_test_role))
		return LKVM_EXIT_VM_ERROR;
	start_signal_thread();
	kvm = running_vm = kvm_create(&cfg);
	/* Devices first: the firmware tables built at load time describe them. */
	kvm_arch_init_devices(kvm);
	devloop_pack_initramfs(kvm);
	virtio_devices_init(kvm);
	kvm_arch_load_guest(kvm);
	kvm_cpus_create(kvm);
	if (mgmt_server_start(kvm, cfg.name) < 0)
		return LKVM_EXIT_VM_ERROR;

	term_init(kvm);
	sandbox_on_fatal(term_restore);	/* tcsetattr() is async-signal-safe */
	term_start();
	/* --gdb-wait: the vCPU threads start held, before any guest instruction. */
	if (cfg.gdb_wait)
		kvm_cpus_pause(kvm);
	boot_trace_mark(BOOT_VM_READY);
	/* Set-up's descriptors are all open: what is left is the guests' pool. */
	fd_budget_update_pool();
	kvm_cpus_start(kvm);
	if (cfg.gdb && gdb_stub_start(kvm, cfg.gdb) < 0)
		kvm_request_stop(kvm, VM_STOP_ERROR);
	/* Set-up is over (files opened, tap script run): confine ourselves. */
	sandbox_enter(SANDBOX_MAIN);
	timed_out = wait_for_stop(kvm, cfg.timeout_sec);
	kvm_cpus_stop(kvm);
	mgmt_server_stop();
	term_restore();
	boot_trace_report();

	ret = devloop_exit_status(kvm, exit_status(kvm, timed_out));
	/* The console thread may still be in read(): leave without joining it. */
	fflush(stdout);
	return ret;
}

int cmd_sandbox(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--") && i + 1 < argc)
			return cmd_run(argc, argv);
	fputs("usage: lkvm sandbox [run options] -- CMD [ARGS...]\n", stderr);
	return LKVM_EXIT_USAGE;
}
