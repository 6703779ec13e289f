/* SPDX-License-Identifier: MIT */
/*
 * The KVM virtual machine: RAM slots, in-kernel irqchip and PIT, vCPU
 * threads and their exit handling, and the one way to stop everything.
 *
 * Threads: one per vCPU, running KVM_RUN and dispatching port I/O and MMIO
 * exits to the buses; the main thread (run.c) owns the console and waits
 * for vm->stop_efd. vm_request_stop() may be called from any thread; the
 * first caller's reason wins.
 */
#ifndef APERTURE_VM_H
#define APERTURE_VM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "devices/bus.h"
#include "vmm/cpuid.h"
#include "lib/layout.h"
#include "lib/memory.h"

#define VM_MAX_CPUS 64
/* GSIs 0-23 are the PIC/IOAPIC pins; MSI routes are allocated above. */
#define VM_FIRST_MSI_GSI LAYOUT_FIRST_MSI_GSI
#define VM_MAX_GSI LAYOUT_MAX_GSI

enum vm_stop_reason {
	VM_RUNNING = 0,
	VM_STOP_RESET,    /* the guest reset or rebooted itself */
	VM_STOP_SHUTDOWN, /* triple fault */
	VM_STOP_ERROR,    /* KVM or monitor failure */
	VM_STOP_TIMEOUT,  /* --timeout expired */
	VM_STOP_SIGNAL,   /* SIGINT/SIGTERM/SIGHUP to the monitor */
	VM_STOP_USER,     /* Ctrl-A x on the console */
};

struct vm;

struct vcpu {
	struct vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
};

struct vm {
	int kvm_fd;
	int vm_fd;
	struct guest_mem mem;
	unsigned ncpus;
	struct vcpu vcpu[VM_MAX_CPUS];
	size_t run_size;
	struct bus pio;
	struct bus mmio;
	int stop_reason;        /* enum vm_stop_reason, atomic */
	int stop_efd;           /* eventfd: signalled once when a stop is requested */
	char stop_detail[256];  /* why, for the final message */
	int stop_signal;
	int guest_status;       /* exit status the guest reported, -1 none (atomic) */
	/* GSI routing table (KVM_SET_GSI_ROUTING replaces it whole). */
	pthread_mutex_t routes_lock;
	struct kvm_irq_routing *routes;
	unsigned next_gsi;
};

/* Open KVM, create the VM with RAM, irqchip, PIT and vCPUs. -errno, logged. */
int vm_create(struct vm *vm, uint64_t mem_size, unsigned ncpus, enum cpu_template t) must_check;
void vm_destroy(struct vm *vm);
/* TSC frequency KVM gives the guest, in kHz; 0 if unknown. */
unsigned long vm_tsc_khz(struct vm *vm);
/* Put the boot vCPU in 64-bit mode at `rip` with %rsi = `rsi`. */
int vm_setup_boot_cpu(struct vm *vm, uint64_t rip, uint64_t rsi) must_check;
/* Start one thread per vCPU. */
int vm_start(struct vm *vm) must_check;
/* Ask every vCPU to stop; the first reason given is kept. */
void vm_request_stop(struct vm *vm, enum vm_stop_reason reason, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
enum vm_stop_reason vm_stop_reason(struct vm *vm);
/* Wait for every vCPU thread. */
void vm_join(struct vm *vm);
/* Record the exit status the guest reported (0-255); any thread. */
void vm_set_guest_status(struct vm *vm, int status);

/* Drive a GSI of the in-kernel irqchip. */
int vm_irq_line(struct vm *vm, unsigned gsi, int level);

/*
 * MSI delivery through irqfd: allocate a GSI, (re)program it with an MSI
 * address/data pair (what the guest wrote in an MSI-X table entry), and bind
 * an eventfd to it. Writing the eventfd then injects the interrupt from any
 * thread or process without a monitor round trip.
 */
int vm_msi_gsi_alloc(struct vm *vm) must_check;
int vm_msi_route(struct vm *vm, unsigned gsi, uint64_t addr, uint32_t data) must_check;
int vm_irqfd(struct vm *vm, int efd, unsigned gsi, bool assign) must_check;
/* Bind efd to guest writes of `len` bytes at MMIO `addr` (any value). */
int vm_ioeventfd(struct vm *vm, int efd, uint64_t addr, unsigned len, bool assign) must_check;

#endif
