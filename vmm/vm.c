/* SPDX-License-Identifier: MIT */
#include "vmm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include "lib/layout.h"
#include "firmware/zeropage.h"
#include "lib/log.h"

#define KVM_TSS_ADDR 0xFFFBD000ULL
#define KVM_IDENTITY_MAP_ADDR 0xFFFBC000ULL
#define KICK_SIGNAL SIGUSR1

#define CR0_PE (1ULL << 0)
#define CR0_MP (1ULL << 1)
#define CR0_ET (1ULL << 4)
#define CR0_NE (1ULL << 5)
#define CR0_PG (1ULL << 31)
#define CR4_PAE (1ULL << 5)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)

#define APIC_LVT0 0x350
#define APIC_LVT1 0x360
#define APIC_MODE_NMI 0x4
#define APIC_MODE_EXTINT 0x7

static int check_cap(int kvm_fd, int cap, const char *name)
{
	if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, cap) <= 0) {
		log_msg("KVM lacks %s, which the monitor needs", name);
		return -ENOTSUP;
	}
	return 0;
}

static struct kvm_cpuid2 *supported_cpuid(int kvm_fd)
{
	for (unsigned n = 64; n <= 4096; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));

		if (!c)
			return NULL;
		c->nent = n;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
			return c;
		free(c);
		if (errno != E2BIG)
			return NULL;
	}
	return NULL;
}

static int set_lint(struct vcpu *v)
{
	struct kvm_lapic_state lapic;
	uint32_t lvt;

	if (ioctl(v->fd, KVM_GET_LAPIC, &lapic) < 0)
		return -errno;
	memcpy(&lvt, &lapic.regs[APIC_LVT0], 4);
	lvt = (lvt & ~0x700u) | (APIC_MODE_EXTINT << 8);
	memcpy(&lapic.regs[APIC_LVT0], &lvt, 4);
	memcpy(&lvt, &lapic.regs[APIC_LVT1], 4);
	lvt = (lvt & ~0x700u) | (APIC_MODE_NMI << 8);
	memcpy(&lapic.regs[APIC_LVT1], &lvt, 4);
	if (ioctl(v->fd, KVM_SET_LAPIC, &lapic) < 0)
		return -errno;
	return 0;
}

static int create_vcpu(struct vm *vm, unsigned id, const struct kvm_cpuid2 *sup, enum cpu_template t)
{
	struct vcpu *v = &vm->vcpu[id];
	size_t csize = sizeof(*sup) + sup->nent * sizeof(sup->entries[0]);
	cleanup_free struct kvm_cpuid2 *c = malloc(csize);
	int err;

	v->vm = vm;
	v->id = id;
	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, id);
	if (v->fd < 0) {
		err = -errno;
		log_errno(err, "KVM_CREATE_VCPU %u", id);
		return err;
	}
	v->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		err = -errno;
		log_errno(err, "mmap kvm_run of vCPU %u", id);
		return err;
	}
	if (!c)
		return -ENOMEM;
	memcpy(c, sup, csize);
	cpuid_apply(c, t, id, vm->ncpus);
	if (ioctl(v->fd, KVM_SET_CPUID2, c) < 0) {
		err = -errno;
		log_errno(err, "KVM_SET_CPUID2 on vCPU %u", id);
		return err;
	}
	err = set_lint(v);
	if (err)
		log_errno(err, "LAPIC LINT setup on vCPU %u", id);
	return err;
}

static int routes_init(struct vm *vm);

int vm_create(struct vm *vm, uint64_t mem_size, unsigned ncpus, enum cpu_template t)
{
	static const struct { int cap; const char *name; } caps[] = {
		{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
		{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
		{ KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR" },
		{ KVM_CAP_PIT2, "KVM_CAP_PIT2" },
		{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
		{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
		{ KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING" },
		{ KVM_CAP_IRQFD, "KVM_CAP_IRQFD" },
		{ KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD" },
	};
	struct kvm_pit_config pit = { .flags = 0 };
	cleanup_free struct kvm_cpuid2 *sup = NULL;
	uint64_t ident = KVM_IDENTITY_MAP_ADDR;
	int err, ver;

	memset(vm, 0, sizeof(*vm));
	vm->kvm_fd = vm->vm_fd = vm->stop_efd = -1;
	vm->mem.fd = -1;
	vm->guest_status = -1;
	vm->ncpus = ncpus;
	vm->pio.name = "pio";
	vm->mmio.name = "mmio";
	pthread_mutex_init(&vm->routes_lock, NULL);
	for (unsigned i = 0; i < VM_MAX_CPUS; i++)
		vm->vcpu[i].fd = -1;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		err = -errno;
		log_errno(err, "open /dev/kvm (is KVM available and are you in the kvm group?)");
		return err;
	}
	ver = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (ver != KVM_API_VERSION) {
		log_msg("KVM API version %d, expected %d", ver, KVM_API_VERSION);
		return -ENOTSUP;
	}
	for (size_t i = 0; i < ARRAY_SIZE(caps); i++) {
		err = check_cap(vm->kvm_fd, caps[i].cap, caps[i].name);
		if (err)
			return err;
	}
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		err = -errno;
		log_errno(err, "KVM_CREATE_VM");
		return err;
	}
	vm->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_efd < 0)
		return -errno;
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_ADDR) < 0 ||
	    ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &ident) < 0) {
		err = -errno;
		log_errno(err, "KVM_SET_TSS_ADDR / KVM_SET_IDENTITY_MAP_ADDR");
		return err;
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		err = -errno;
		log_errno(err, "KVM_CREATE_IRQCHIP");
		return err;
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		err = -errno;
		log_errno(err, "KVM_CREATE_PIT2");
		return err;
	}
	err = routes_init(vm);
	if (err)
		return err;

	err = gm_create(&vm->mem, mem_size);
	if (err) {
		log_errno(err, "guest memory of %llu MiB", (unsigned long long)(mem_size >> 20));
		return err;
	}
	for (unsigned i = 0; i < vm->mem.nregions; i++) {
		const struct gm_region *r = &vm->mem.region[i];
		struct kvm_userspace_memory_region slot = {
			.slot = i,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uint64_t)(uintptr_t)r->host,
		};

		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0) {
			err = -errno;
			log_errno(err, "KVM_SET_USER_MEMORY_REGION slot %u", i);
			return err;
		}
	}

	ver = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (ver < (int)sizeof(struct kvm_run)) {
		log_msg("KVM_GET_VCPU_MMAP_SIZE returned %d", ver);
		return -EINVAL;
	}
	vm->run_size = (size_t)ver;
	sup = supported_cpuid(vm->kvm_fd);
	if (!sup) {
		err = -errno;
		log_errno(err, "KVM_GET_SUPPORTED_CPUID");
		return err ? err : -EINVAL;
	}
	for (unsigned i = 0; i < ncpus; i++) {
		err = create_vcpu(vm, i, sup, t);
		if (err)
			return err;
	}
	return 0;
}

unsigned long vm_tsc_khz(struct vm *vm)
{
	int khz = ioctl(vm->vcpu[0].fd, KVM_GET_TSC_KHZ, 0);

	return khz > 0 ? (unsigned long)khz : 0;
}

int vm_setup_boot_cpu(struct vm *vm, uint64_t rip, uint64_t rsi)
{
	struct vcpu *v = &vm->vcpu[0];
	struct kvm_segment code = {
		.base = 0, .limit = 0xFFFFFFFF, .selector = LAYOUT_SEL_CODE, .type = 0xB,
		.present = 1, .dpl = 0, .db = 0, .s = 1, .l = 1, .g = 1,
	};
	struct kvm_segment data = {
		.base = 0, .limit = 0xFFFFFFFF, .selector = LAYOUT_SEL_DATA, .type = 0x3,
		.present = 1, .dpl = 0, .db = 1, .s = 1, .l = 0, .g = 1,
	};
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_fpu fpu;
	int err;

	if (ioctl(v->fd, KVM_GET_SREGS, &sregs) < 0)
		goto fail;
	sregs.cs = code;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	sregs.gdt.base = LAYOUT_GDT;
	sregs.gdt.limit = sizeof(boot_gdt) - 1;
	sregs.idt.base = 0;
	sregs.idt.limit = 0;
	sregs.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_PG;
	sregs.cr3 = LAYOUT_PML4;
	sregs.cr4 = CR4_PAE;
	sregs.efer = EFER_LME | EFER_LMA;
	if (ioctl(v->fd, KVM_SET_SREGS, &sregs) < 0)
		goto fail;

	memset(&regs, 0, sizeof(regs));
	regs.rip = rip;
	regs.rsi = rsi;
	regs.rsp = LAYOUT_BOOT_STACK;
	regs.rflags = 0x2;
	if (ioctl(v->fd, KVM_SET_REGS, &regs) < 0)
		goto fail;

	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37F;
	fpu.mxcsr = 0x1F80;
	if (ioctl(v->fd, KVM_SET_FPU, &fpu) < 0)
		goto fail;
	return 0;
fail:
	err = -errno;
	log_errno(err, "setting up the boot vCPU");
	return err;
}

enum vm_stop_reason vm_stop_reason(struct vm *vm)
{
	return (enum vm_stop_reason)__atomic_load_n(&vm->stop_reason, __ATOMIC_ACQUIRE);
}

void vm_request_stop(struct vm *vm, enum vm_stop_reason reason, const char *fmt, ...)
{
	int expected = VM_RUNNING;
	uint64_t one = 1;
	va_list ap;

	/* The detail is written before the reason is published. */
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

	pthread_mutex_lock(&lock);
	if (__atomic_load_n(&vm->stop_reason, __ATOMIC_ACQUIRE) != VM_RUNNING) {
		pthread_mutex_unlock(&lock);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(vm->stop_detail, sizeof(vm->stop_detail), fmt, ap);
	va_end(ap);
	__atomic_compare_exchange_n(&vm->stop_reason, &expected, (int)reason, false, __ATOMIC_RELEASE,
				    __ATOMIC_RELAXED);
	pthread_mutex_unlock(&lock);

	for (unsigned i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpu[i];

		if (!v->run)
			continue;
		/* A vCPU entering KVM_RUN after this returns at once (EINTR). */
		__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_RELEASE);
		if (v->started && !pthread_equal(v->thread, pthread_self()))
			pthread_kill(v->thread, KICK_SIGNAL);
	}
	if (write(vm->stop_efd, &one, sizeof(one)) < 0)
		log_errno(errno, "signalling the stop eventfd");
}

void vm_set_guest_status(struct vm *vm, int status)
{
	__atomic_store_n(&vm->guest_status, status, __ATOMIC_RELEASE);
}

int vm_irq_line(struct vm *vm, unsigned gsi, int level)
{
	struct kvm_irq_level irq = { .irq = gsi, .level = level };

	return ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0 ? -errno : 0;
}

/* The routes KVM installs by default: ISA IRQs on both PICs and the IOAPIC. */
static int routes_init(struct vm *vm)
{
	struct kvm_irq_routing *r = calloc(1, sizeof(*r) + VM_MAX_GSI * sizeof(r->entries[0]));

	if (!r)
		return -ENOMEM;
	for (unsigned i = 0; i < 16; i++) {
		if (i == 2)
			continue; /* cascade */
		r->entries[r->nr++] = (struct kvm_irq_routing_entry){
			.gsi = i, .type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = { .irqchip = i < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE, .pin = i % 8 },
		};
	}
	for (unsigned i = 0; i < 24; i++)
		r->entries[r->nr++] = (struct kvm_irq_routing_entry){
			.gsi = i, .type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = { .irqchip = KVM_IRQCHIP_IOAPIC, .pin = i },
		};
	vm->routes = r;
	vm->next_gsi = VM_FIRST_MSI_GSI;
	return 0;
}

int vm_msi_gsi_alloc(struct vm *vm)
{
	int gsi = -ENOSPC;

	pthread_mutex_lock(&vm->routes_lock);
	if (vm->next_gsi < VM_MAX_GSI)
		gsi = (int)vm->next_gsi++;
	pthread_mutex_unlock(&vm->routes_lock);
	return gsi;
}

int vm_msi_route(struct vm *vm, unsigned gsi, uint64_t addr, uint32_t data)
{
	struct kvm_irq_routing *r = vm->routes;
	struct kvm_irq_routing_entry *e = NULL;
	int err = 0;

	if (gsi < VM_FIRST_MSI_GSI || gsi >= VM_MAX_GSI)
		return -EINVAL;
	pthread_mutex_lock(&vm->routes_lock);
	for (unsigned i = 0; i < r->nr; i++)
		if (r->entries[i].gsi == gsi)
			e = &r->entries[i];
	if (!e) {
		e = &r->entries[r->nr++];
		e->gsi = gsi;
		e->type = KVM_IRQ_ROUTING_MSI;
	}
	e->u.msi.address_lo = (uint32_t)addr;
	e->u.msi.address_hi = (uint32_t)(addr >> 32);
	e->u.msi.data = data;
	if (ioctl(vm->vm_fd, KVM_SET_GSI_ROUTING, r) < 0)
		err = -errno;
	pthread_mutex_unlock(&vm->routes_lock);
	return err;
}

int vm_irqfd(struct vm *vm, int efd, unsigned gsi, bool assign)
{
	struct kvm_irqfd f = { .fd = (uint32_t)efd, .gsi = gsi, .flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN };

	return ioctl(vm->vm_fd, KVM_IRQFD, &f) < 0 ? -errno : 0;
}

int vm_ioeventfd(struct vm *vm, int efd, uint64_t addr, unsigned len, bool assign)
{
	struct kvm_ioeventfd io = {
		.addr = addr, .len = len, .fd = efd, .flags = assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN,
	};

	return ioctl(vm->vm_fd, KVM_IOEVENTFD, &io) < 0 ? -errno : 0;
}

static void report_internal_error(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	struct kvm_regs regs;
	char insn[64] = "";

	if (ioctl(v->fd, KVM_GET_REGS, &regs) < 0)
		memset(&regs, 0, sizeof(regs));
	if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION) {
		for (unsigned i = 0; i < run->internal.ndata && i < 4; i++) {
			size_t o = strlen(insn);

			snprintf(insn + o, sizeof(insn) - o, " %llx", (unsigned long long)run->internal.data[i]);
		}
	}
	vm_request_stop(v->vm, VM_STOP_ERROR,
			"KVM internal error on vCPU %u, suberror %u%s at RIP 0x%llx%s%s", v->id,
			run->internal.suberror,
			run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION ? " (emulation failure)" : "",
			(unsigned long long)regs.rip, insn[0] ? ", data" : "", insn);
}

static void handle_exit(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	struct vm *vm = v->vm;

	switch (run->exit_reason) {
	case KVM_EXIT_IO: {
		/* SAFETY: KVM places count * size bytes at data_offset inside the run page. */
		uint8_t *data = (uint8_t *)run + run->io.data_offset;

		for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size) {
			bool hit = bus_dispatch(&vm->pio, run->io.port, data, run->io.size,
						run->io.direction == KVM_EXIT_IO_OUT);

			if (!hit)
				log_debug("unhandled %s of %u bytes at port 0x%x",
					  run->io.direction == KVM_EXIT_IO_OUT ? "write" : "read", run->io.size,
					  run->io.port);
		}
		break;
	}
	case KVM_EXIT_MMIO:
		if (run->mmio.len > sizeof(run->mmio.data))
			break;
		if (!bus_dispatch(&vm->mmio, run->mmio.phys_addr, run->mmio.data, run->mmio.len,
				  run->mmio.is_write))
			log_debug("unhandled MMIO %s of %u bytes at 0x%llx", run->mmio.is_write ? "write" : "read",
				  run->mmio.len, (unsigned long long)run->mmio.phys_addr);
		break;
	case KVM_EXIT_HLT:
		break;
	case KVM_EXIT_SHUTDOWN:
		vm_request_stop(vm, VM_STOP_SHUTDOWN, "guest triple-faulted on vCPU %u", v->id);
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		if (run->system_event.type == KVM_SYSTEM_EVENT_RESET)
			vm_request_stop(vm, VM_STOP_RESET, "guest reset (system event)");
		else if (run->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN)
			vm_request_stop(vm, VM_STOP_RESET, "guest powered off");
		else
			vm_request_stop(vm, VM_STOP_ERROR, "guest system event %u", run->system_event.type);
		break;
	case KVM_EXIT_FAIL_ENTRY:
		vm_request_stop(vm, VM_STOP_ERROR, "KVM entry failure on vCPU %u, reason 0x%llx", v->id,
				(unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		report_internal_error(v);
		break;
	default:
		vm_request_stop(vm, VM_STOP_ERROR, "unexpected KVM exit reason %u on vCPU %u", run->exit_reason,
				v->id);
		break;
	}
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	char name[16];

	snprintf(name, sizeof(name), "vcpu%u", v->id);
	pthread_setname_np(pthread_self(), name);
	while (vm_stop_reason(v->vm) == VM_RUNNING) {
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			vm_request_stop(v->vm, VM_STOP_ERROR, "KVM_RUN on vCPU %u: %s", v->id, strerror(errno));
			break;
		}
		handle_exit(v);
	}
	return NULL;
}

static void kick_handler(int sig)
{
	(void)sig;
}

int vm_start(struct vm *vm)
{
	struct sigaction sa = { .sa_handler = kick_handler };
	sigset_t set;

	sigemptyset(&sa.sa_mask);
	if (sigaction(KICK_SIGNAL, &sa, NULL) < 0)
		return -errno;
	/* vCPU threads inherit our mask; they must take the kick signal. */
	sigemptyset(&set);
	sigaddset(&set, KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	for (unsigned i = 0; i < vm->ncpus; i++) {
		int err = pthread_create(&vm->vcpu[i].thread, NULL, vcpu_thread, &vm->vcpu[i]);

		if (err) {
			log_errno(err, "creating the thread of vCPU %u", i);
			vm_request_stop(vm, VM_STOP_ERROR, "cannot start vCPU %u", i);
			return -err;
		}
		vm->vcpu[i].started = true;
	}
	return 0;
}

void vm_join(struct vm *vm)
{
	for (unsigned i = 0; i < vm->ncpus; i++)
		if (vm->vcpu[i].started) {
			pthread_join(vm->vcpu[i].thread, NULL);
			vm->vcpu[i].started = false;
		}
}

void vm_destroy(struct vm *vm)
{
	for (unsigned i = 0; i < VM_MAX_CPUS; i++) {
		if (vm->vcpu[i].run)
			munmap(vm->vcpu[i].run, vm->run_size);
		if (vm->vcpu[i].fd >= 0)
			close(vm->vcpu[i].fd);
		vm->vcpu[i].run = NULL;
		vm->vcpu[i].fd = -1;
	}
	gm_destroy(&vm->mem);
	free(vm->routes);
	vm->routes = NULL;
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	if (vm->stop_efd >= 0)
		close(vm->stop_efd);
	vm->vm_fd = vm->kvm_fd = vm->stop_efd = -1;
}
