/* SPDX-License-Identifier: MIT */
/*
 * hostile: a hostile guest for the boot tests (tests/boot/run, test_hostile).
 *
 * Run as root in the guest, in one long-lived process (a fork+exec costs
 * seconds on emulated-CPL0 hosts), it does what a hostile guest kernel could:
 *
 *  1. Takes the hot-added virtio-rng (PCI 1af4:1044) away from its driver
 *     (driver/unbind), enables memory decoding and maps BAR 0 through the
 *     sysfs `resource0` file. The register layout is read from the virtio
 *     vendor capabilities in configuration space (common, notify), the
 *     device's DMA aperture from its aperture capability: the vendor
 *     capability (ID 0x09) of cfg_type 10 (VIRTIO_PCI_CAP_SWIOTLB), laid out
 *     as struct virtio_pci_cap64: base = offset | offset_hi << 32 (bytes
 *     8-11, 16-19), size = length | length_hi << 32 (bytes 12-15, 20-23),
 *     docs/protocol.md. The aperture must lie inside the pool the kernel
 *     publishes in /sys/bus/pci/drivers/virtio-pci/swiotlb_{base,size}.
 *  2. Drives the device's registers itself with rings and descriptors that
 *     break the rules: rings outside the aperture (pages this program owns,
 *     physical addresses from /proc/self/pagemap), rings inside it (written
 *     through /dev/mem) with descriptors pointing outside, loops, huge
 *     lengths, bad indices, nested and misplaced indirect tables, an avail
 *     index far ahead, status writes that skip FEATURES_OK, features the
 *     device did not offer or without VIRTIO_F_SWIOTLB, a flood of
 *     NEEDS_RESET, and a reset storm from two threads pinned to two CPUs
 *     (each round started together: status 0, the whole initialisation up
 *     to DRIVER_OK, queue notifications, from both vCPUs at once).
 *     Each attack checks device_status (NEEDS_RESET expected where the
 *     device must refuse) and resets the device before the next. Valid
 *     requests (controls) show that the device serves a well-behaved driver,
 *     so that a refusal means something.
 *  3. Checks that its own pages, the targets of every descriptor pointing
 *     outside the aperture, still hold the guard pattern they were given
 *     (and did not move: same physical pages).
 *  4. Sends garbage on the init channel (vsock CID 2, port 1024) from
 *     privileged source ports (< 1024, bound as root): a header with
 *     totalsize 0 followed by 64 KiB it never reads back, a header declaring
 *     16 MiB; a valid boot-mark as a control; then from unprivileged ports
 *     (port 5000 as root, then an automatic port after setuid(65534)), which
 *     the monitor must refuse (connect fails or the connection is reset),
 *     each carrying a boot-mark the monitor must not record.
 *
 * Output: one line per attack, "hostile: NAME key=value ...", with
 * " UNEXPECTED" appended when the outcome is not the expected one, then
 * "hostile: summary attacks=N unexpected=M". Exit status: M (capped at 100),
 * so the VM's exit status is the guest's verdict; 101 when the setup failed.
 *
 *   hostile [--storm N] [--flood N]
 *	--storm N  reset-storm iterations per thread (default 2000, 0: skip)
 *	--flood N  NEEDS_RESET flood iterations (default 1000)
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libfdt_env.h> /* before fdt.h: its types */
#include <fdt.h>
#include <linux/pci_regs.h>
#include <linux/virtio_config.h>
#include <linux/virtio_pci.h>
#include <linux/virtio_ring.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef VIRTIO_F_SWIOTLB
#define VIRTIO_F_SWIOTLB 27 /* the VIRTIO_F_SWIOTLB RFC's bit; not in 6.12's headers */
#endif
#ifndef VIRTIO_PCI_CAP_SWIOTLB
#define VIRTIO_PCI_CAP_SWIOTLB 10
#endif
#define RNG_VENDOR 0x1af4
#define RNG_DEVICE 0x1044
#define PCI_DEVICES "/sys/bus/pci/devices/"
#define POOL_DIR "/sys/bus/pci/drivers/virtio-pci/"

#define PAGE 4096u
#define FULL_FEATURES \
	((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_ACCESS_PLATFORM) | (1ULL << VIRTIO_F_SWIOTLB))
#define S_ACK VIRTIO_CONFIG_S_ACKNOWLEDGE
#define S_DRV VIRTIO_CONFIG_S_DRIVER
#define S_FOK VIRTIO_CONFIG_S_FEATURES_OK
#define S_DOK VIRTIO_CONFIG_S_DRIVER_OK
#define S_NR VIRTIO_CONFIG_S_NEEDS_RESET

/*
 * The part of the aperture this program writes through /dev/mem (the
 * device's driver is unbound, so nothing else uses its pool meanwhile).
 */
#define AP_MAP 0x10000u
#define A_DESC 0x0000u  /* descriptor table */
#define A_AVAIL 0x0400u /* avail ring */
#define A_USED 0x0800u  /* used ring */
#define A_IND 0x1000u   /* indirect tables */
#define A_BUF 0x2000u   /* buffers */
#define A_STORM 0x8000u /* the reset storm's own rings (+ same offsets) */

/* Pages this program owns, outside the aperture. */
enum { OWN_RING, OWN_BUF, OWN_IND, NOWN };
#define O_AVAIL 0x400u
#define O_USED 0x800u

/* Milliseconds to wait for the device's worker. */
#define WAIT_FAIL_MS 3000
#define WAIT_SERVE_MS 3000
#define WAIT_IDLE_MS 400

struct ring {
	uint64_t desc, avail, used;
	uint16_t size;
};

static struct {
	char addr[32];
	char dir[300];
	volatile uint8_t *bar;
	size_t bar_len;
	uint32_t common, notify, mult;
	uint16_t qmax, qsz, noff;
	uint64_t ap_base, ap_size, pool_base, pool_size;
	uint8_t *ap; /* /dev/mem mapping of [ap_base, ap_base + AP_MAP) */
} d;

static struct {
	uint8_t *p;
	uint64_t phys;
	uint8_t shadow[PAGE];
} own[NOWN];

static unsigned attacks, unexpected;

/* ---- small helpers ---- */

static void setup_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void setup_fail(const char *fmt, ...)
{
	va_list ap;

	printf("hostile: setup failed: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	exit(101);
}

static void report(const char *name, bool ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void report(const char *name, bool ok, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	printf("hostile: %s %s%s\n", name, buf, ok ? "" : " UNEXPECTED");
	fflush(stdout);
	attacks++;
	if (!ok)
		unexpected++;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

static uint64_t read_u64(const char *path)
{
	char buf[64];

	return read_file(path, buf, sizeof(buf)) ? 0 : strtoull(buf, NULL, 0);
}

static uint32_t le32_at(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static bool outside_aperture(uint64_t a, uint64_t len)
{
	return a + len <= d.ap_base || a >= d.ap_base + d.ap_size;
}

/* ---- registers (BAR 0, through resource0) ---- */

static void cw8(unsigned off, uint8_t v) { *(volatile uint8_t *)(d.bar + d.common + off) = v; }
static void cw16(unsigned off, uint16_t v) { *(volatile uint16_t *)(void *)(d.bar + d.common + off) = v; }
static void cw32(unsigned off, uint32_t v) { *(volatile uint32_t *)(void *)(d.bar + d.common + off) = v; }
static uint8_t cr8(unsigned off) { return *(volatile uint8_t *)(d.bar + d.common + off); }
static uint16_t cr16(unsigned off) { return *(volatile uint16_t *)(void *)(d.bar + d.common + off); }
static uint32_t cr32(unsigned off) { return *(volatile uint32_t *)(void *)(d.bar + d.common + off); }

static uint8_t dev_status(void) { return cr8(VIRTIO_PCI_COMMON_STATUS); }
static void set_status(uint8_t s) { cw8(VIRTIO_PCI_COMMON_STATUS, s); }

/* Everything the driver wrote to memory is visible before the register write. */
static void kick(void)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	*(volatile uint16_t *)(void *)(d.bar + d.notify + (uint32_t)d.noff * d.mult) = 0;
}

static void dev_reset(void)
{
	set_status(0);
	for (int i = 0; i < 1000 && dev_status() != 0; i++)
		sleep_ms(1);
}

static void set_features(uint64_t f)
{
	cw32(VIRTIO_PCI_COMMON_GFSELECT, 0);
	cw32(VIRTIO_PCI_COMMON_GF, (uint32_t)f);
	cw32(VIRTIO_PCI_COMMON_GFSELECT, 1);
	cw32(VIRTIO_PCI_COMMON_GF, (uint32_t)(f >> 32));
}

static void queue_setup(const struct ring *r)
{
	cw16(VIRTIO_PCI_COMMON_Q_SELECT, 0);
	cw16(VIRTIO_PCI_COMMON_Q_SIZE, r->size);
	cw16(VIRTIO_PCI_COMMON_Q_MSIX, VIRTIO_MSI_NO_VECTOR);
	cw32(VIRTIO_PCI_COMMON_Q_DESCLO, (uint32_t)r->desc);
	cw32(VIRTIO_PCI_COMMON_Q_DESCHI, (uint32_t)(r->desc >> 32));
	cw32(VIRTIO_PCI_COMMON_Q_AVAILLO, (uint32_t)r->avail);
	cw32(VIRTIO_PCI_COMMON_Q_AVAILHI, (uint32_t)(r->avail >> 32));
	cw32(VIRTIO_PCI_COMMON_Q_USEDLO, (uint32_t)r->used);
	cw32(VIRTIO_PCI_COMMON_Q_USEDHI, (uint32_t)(r->used >> 32));
	cw16(VIRTIO_PCI_COMMON_Q_ENABLE, 1);
}

enum { UP_FOK = 1, UP_DOK = 2 };

/*
 * Reset, then the driver's side of initialisation (virtio 1.2 §3.1.1):
 * ACKNOWLEDGE, DRIVER, features, FEATURES_OK (if UP_FOK), queue 0, DRIVER_OK
 * (if UP_DOK). Returns the status read right after the FEATURES_OK write.
 */
static uint8_t bring_up(uint64_t features, const struct ring *r, unsigned flags)
{
	uint8_t s = S_ACK | S_DRV, after_fok;

	dev_reset();
	set_status(S_ACK);
	set_status(s);
	set_features(features);
	if (flags & UP_FOK) {
		s |= S_FOK;
		set_status(s);
	}
	after_fok = dev_status();
	queue_setup(r);
	if (flags & UP_DOK)
		set_status(s | S_DOK);
	return after_fok;
}

static bool wait_status(uint8_t bit, unsigned ms)
{
	long end = now_ms() + ms;

	do {
		if (dev_status() & bit)
			return true;
		sleep_ms(2);
	} while (now_ms() < end);
	return (dev_status() & bit) != 0;
}

/* ---- rings in the aperture ---- */

static struct vring_desc *ap_desc(unsigned base) { return (struct vring_desc *)(void *)(d.ap + base + A_DESC); }
static struct vring_avail *ap_avail(unsigned base) { return (struct vring_avail *)(void *)(d.ap + base + A_AVAIL); }
static volatile struct vring_used *ap_used(unsigned base)
{
	return (volatile struct vring_used *)(void *)(d.ap + base + A_USED);
}

static struct ring ap_ring(unsigned base)
{
	return (struct ring){ .desc = d.ap_base + base + A_DESC, .avail = d.ap_base + base + A_AVAIL,
			      .used = d.ap_base + base + A_USED, .size = d.qsz };
}

static uint64_t ap_phys(unsigned off) { return d.ap_base + off; }

static void put_desc(struct vring_desc *t, unsigned i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next)
{
	t[i].addr = addr;
	t[i].len = len;
	t[i].flags = flags;
	t[i].next = next;
}

/* Clear the rings and buffers at `base`, fill the buffers with 0xA5. */
static void ap_clear(unsigned base)
{
	memset(d.ap + base, 0, A_BUF);
	memset(d.ap + base + A_BUF, 0xA5, 0x2000);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* Publish head `head` with avail->idx = idx. */
static void ap_publish(unsigned base, uint16_t head, uint16_t idx)
{
	struct vring_avail *a = ap_avail(base);

	a->flags = VRING_AVAIL_F_NO_INTERRUPT;
	a->ring[0] = head;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	__atomic_store_n(&a->idx, idx, __ATOMIC_RELEASE);
}

static uint16_t used_idx(volatile struct vring_used *u) { return __atomic_load_n(&u->idx, __ATOMIC_ACQUIRE); }

static bool wait_used(volatile struct vring_used *u, uint16_t want, unsigned ms)
{
	long end = now_ms() + ms;

	do {
		if (used_idx(u) == want)
			return true;
		sleep_ms(2);
	} while (now_ms() < end);
	return used_idx(u) == want;
}

static bool buf_changed(unsigned off, unsigned len)
{
	for (unsigned i = 0; i < len; i++)
		if (d.ap[off + i] != 0xA5)
			return true;
	return false;
}

/* ---- setup ---- */

static uint64_t pagemap_phys(int fd, const void *p)
{
	uint64_t e;
	off_t at = (off_t)((uintptr_t)p / PAGE * sizeof(e));

	if (pread(fd, &e, sizeof(e), at) != sizeof(e) || !(e & (1ULL << 63)))
		return 0;
	return (e & ((1ULL << 55) - 1)) * PAGE;
}

static bool find_device(void)
{
	DIR *dir = opendir(PCI_DEVICES);
	struct dirent *e;
	char path[400], buf[32];
	bool found = false;

	if (!dir)
		setup_fail("opendir %s: %s", PCI_DEVICES, strerror(errno));
	while (!found && (e = readdir(dir))) {
		if (e->d_name[0] == '.' || strlen(e->d_name) >= sizeof(d.addr))
			continue;
		snprintf(path, sizeof(path), PCI_DEVICES "%s/vendor", e->d_name);
		if (read_file(path, buf, sizeof(buf)) || strtoul(buf, NULL, 0) != RNG_VENDOR)
			continue;
		snprintf(path, sizeof(path), PCI_DEVICES "%s/device", e->d_name);
		if (read_file(path, buf, sizeof(buf)) || strtoul(buf, NULL, 0) != RNG_DEVICE)
			continue;
		snprintf(d.addr, sizeof(d.addr), "%s", e->d_name);
		snprintf(d.dir, sizeof(d.dir), PCI_DEVICES "%s", e->d_name);
		found = true;
	}
	closedir(dir);
	return found;
}

/* Walk the capability list: virtio structures in BAR 0, and the aperture. */
static void parse_config(void)
{
	char path[400];
	uint8_t cfg[256];
	unsigned pos, hops = 0;
	int fd;
	bool have_common = false, have_notify = false, have_ap = false;

	snprintf(path, sizeof(path), "%s/config", d.dir);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 || pread(fd, cfg, sizeof(cfg), 0) != sizeof(cfg))
		setup_fail("read %s: %s", path, strerror(errno));
	/* Memory decoding on (the driver's remove may have disabled the device). */
	if (!(cfg[PCI_COMMAND] & PCI_COMMAND_MEMORY)) {
		uint8_t cmd = cfg[PCI_COMMAND] | PCI_COMMAND_MEMORY;

		if (pwrite(fd, &cmd, 1, PCI_COMMAND) != 1)
			setup_fail("enable memory decoding: %s", strerror(errno));
	}
	close(fd);
	if (!(cfg[PCI_STATUS] & PCI_STATUS_CAP_LIST))
		setup_fail("%s has no capability list", d.addr);
	for (pos = cfg[PCI_CAPABILITY_LIST] & ~3u; pos >= 0x40 && pos <= 0x100 - 4 && hops < 48;
	     pos = cfg[pos + PCI_CAP_LIST_NEXT] & ~3u, hops++) {
		uint8_t type = cfg[pos + 3], len = cfg[pos + 2];

		if (cfg[pos] != PCI_CAP_ID_VNDR || len < 16 || pos + len > 0x100)
			continue;
		if (type == VIRTIO_PCI_CAP_SWIOTLB && len >= 24) {
			d.ap_base = le32_at(cfg + pos + 8) | (uint64_t)le32_at(cfg + pos + 16) << 32;
			d.ap_size = le32_at(cfg + pos + 12) | (uint64_t)le32_at(cfg + pos + 20) << 32;
			have_ap = true;
		} else if (type == VIRTIO_PCI_CAP_COMMON_CFG && cfg[pos + 4] == 0) {
			d.common = le32_at(cfg + pos + 8);
			have_common = true;
		} else if (type == VIRTIO_PCI_CAP_NOTIFY_CFG && cfg[pos + 4] == 0 && len >= 20) {
			d.notify = le32_at(cfg + pos + 8);
			d.mult = le32_at(cfg + pos + 16);
			have_notify = true;
		}
	}
	if (!have_common || !have_notify)
		setup_fail("%s: no common or notify capability in BAR 0", d.addr);
	if (!have_ap || !d.ap_size)
		setup_fail("%s: no aperture capability (cfg_type %d): was the VM started with --dma aperture?", d.addr,
			   VIRTIO_PCI_CAP_SWIOTLB);
}

static void setup(void)
{
	char path[400], link[400];
	struct stat st;
	int fd;

	if (!find_device())
		setup_fail("no virtio-rng (%04x:%04x) in " PCI_DEVICES, RNG_VENDOR, RNG_DEVICE);
	/* Take the device away from its driver. */
	snprintf(path, sizeof(path), "%s/driver", d.dir);
	if (readlink(path, link, sizeof(link)) > 0) {
		snprintf(path, sizeof(path), "%s/driver/unbind", d.dir);
		if (write_file(path, d.addr))
			setup_fail("unbind %s: %s", d.addr, strerror(errno));
	}
	snprintf(path, sizeof(path), "%s/enable", d.dir);
	(void)write_file(path, "1"); /* best effort; parse_config() checks decoding */
	parse_config();

	d.pool_base = read_u64(POOL_DIR "swiotlb_base");
	d.pool_size = read_u64(POOL_DIR "swiotlb_size");
	if (d.ap_base < d.pool_base || d.ap_size > d.pool_size || d.ap_base - d.pool_base > d.pool_size - d.ap_size)
		setup_fail("aperture 0x%llx+0x%llx not inside the pool 0x%llx+0x%llx", (unsigned long long)d.ap_base,
			   (unsigned long long)d.ap_size, (unsigned long long)d.pool_base,
			   (unsigned long long)d.pool_size);
	if (d.ap_size < AP_MAP || d.ap_base % PAGE)
		setup_fail("aperture of 0x%llx bytes: too small or unaligned", (unsigned long long)d.ap_size);

	snprintf(path, sizeof(path), "%s/resource0", d.dir);
	fd = open(path, O_RDWR | O_SYNC | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		setup_fail("open %s: %s", path, strerror(errno));
	d.bar_len = (size_t)st.st_size;
	if (d.bar_len < PAGE || d.common + VIRTIO_PCI_COMMON_Q_USEDHI + 4 > d.bar_len)
		setup_fail("BAR 0 of %zu bytes too small", d.bar_len);
	d.bar = mmap(NULL, d.bar_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (d.bar == MAP_FAILED)
		setup_fail("mmap %s: %s", path, strerror(errno));
	close(fd);

	fd = open("/dev/mem", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		setup_fail("open /dev/mem: %s (CONFIG_DEVMEM, no STRICT_DEVMEM)", strerror(errno));
	d.ap = mmap(NULL, AP_MAP, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)d.ap_base);
	if (d.ap == MAP_FAILED)
		setup_fail("mmap /dev/mem at 0x%llx: %s", (unsigned long long)d.ap_base, strerror(errno));
	close(fd);

	dev_reset();
	cw16(VIRTIO_PCI_COMMON_Q_SELECT, 0);
	d.qmax = cr16(VIRTIO_PCI_COMMON_Q_SIZE);
	d.noff = cr16(VIRTIO_PCI_COMMON_Q_NOFF);
	d.qsz = d.qmax < 16 ? d.qmax : 16;
	if (d.qsz < 2 || (d.qsz & (d.qsz - 1)) || d.notify + (uint32_t)d.noff * d.mult + 2 > d.bar_len)
		setup_fail("queue 0: size %u, notify offset %u", d.qmax, d.noff);
	printf("hostile: device %s aperture base=0x%llx size=%llu pool base=0x%llx size=%llu queue=%u/%u\n", d.addr,
	       (unsigned long long)d.ap_base, (unsigned long long)d.ap_size, (unsigned long long)d.pool_base,
	       (unsigned long long)d.pool_size, d.qsz, d.qmax);
}

/*
 * Pages of our own, outside the aperture, locked (and kept from compaction)
 * so that their physical addresses stay what pagemap said. OWN_RING holds a
 * complete, valid queue whose one request points at OWN_BUF; OWN_IND an
 * indirect table whose entries point inside the aperture. Everything else
 * is a guard pattern; a shadow copy is kept to compare with at the end.
 */
static void own_setup(void)
{
	uint8_t *m = mmap(NULL, NOWN * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	int fd;

	(void)write_file("/proc/sys/vm/compact_unevictable_allowed", "0");
	if (m == MAP_FAILED || mlock(m, NOWN * PAGE) < 0)
		setup_fail("mmap/mlock own pages: %s", strerror(errno));
	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		setup_fail("open /proc/self/pagemap: %s (CONFIG_PROC_PAGE_MONITOR)", strerror(errno));
	for (unsigned i = 0; i < NOWN; i++) {
		own[i].p = m + i * PAGE;
		for (unsigned j = 0; j < PAGE; j++)
			own[i].p[j] = (uint8_t)(0x3C ^ (j * 7) ^ i);
		own[i].phys = pagemap_phys(fd, own[i].p);
		if (!own[i].phys || !outside_aperture(own[i].phys, PAGE))
			setup_fail("own page %u at phys 0x%llx: unknown or inside the aperture", i,
				   (unsigned long long)own[i].phys);
	}
	close(fd);
	{
		struct vring_desc *t = (struct vring_desc *)(void *)own[OWN_RING].p;
		struct vring_avail *a = (struct vring_avail *)(void *)(own[OWN_RING].p + O_AVAIL);
		struct vring_desc *ind = (struct vring_desc *)(void *)own[OWN_IND].p;

		memset(own[OWN_RING].p, 0, O_USED + 4 + 8 * 16 + 2);
		put_desc(t, 0, own[OWN_BUF].phys, PAGE, VRING_DESC_F_WRITE, 0);
		a->flags = VRING_AVAIL_F_NO_INTERRUPT;
		a->ring[0] = 0;
		a->idx = 1;
		put_desc(ind, 0, ap_phys(A_BUF), 64, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
		put_desc(ind, 1, ap_phys(A_BUF + 64), 64, VRING_DESC_F_WRITE, 0);
	}
	for (unsigned i = 0; i < NOWN; i++)
		memcpy(own[i].shadow, own[i].p, PAGE);
	printf("hostile: own pages ring=0x%llx buf=0x%llx ind=0x%llx (outside the aperture)\n",
	       (unsigned long long)own[OWN_RING].phys, (unsigned long long)own[OWN_BUF].phys,
	       (unsigned long long)own[OWN_IND].phys);
}

static struct ring own_ring(void)
{
	return (struct ring){ .desc = own[OWN_RING].phys, .avail = own[OWN_RING].phys + O_AVAIL,
			      .used = own[OWN_RING].phys + O_USED, .size = d.qsz };
}

/* ---- device attacks ---- */

/* A valid request, served: proves the driver side works (and indirect tables). */
static void control(const char *name, bool indirect)
{
	struct ring r = ap_ring(0);
	volatile struct vring_used *u = ap_used(0);
	bool served, changed;
	uint32_t len = 0;
	uint8_t s;

	ap_clear(0);
	if (indirect) {
		struct vring_desc *ind = (struct vring_desc *)(void *)(d.ap + A_IND);

		put_desc(ind, 0, ap_phys(A_BUF), 32, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
		put_desc(ind, 1, ap_phys(A_BUF + 32), 32, VRING_DESC_F_WRITE, 0);
		put_desc(ap_desc(0), 0, ap_phys(A_IND), 2 * sizeof(*ind), VRING_DESC_F_INDIRECT, 0);
	} else {
		put_desc(ap_desc(0), 0, ap_phys(A_BUF), 64, VRING_DESC_F_WRITE, 0);
	}
	ap_publish(0, 0, 1);
	bring_up(FULL_FEATURES, &r, UP_FOK | UP_DOK);
	kick();
	served = wait_used(u, 1, WAIT_SERVE_MS);
	if (served)
		len = u->ring[0].len;
	changed = buf_changed(A_BUF, 64);
	s = dev_status();
	report(name, served && len == 64 && changed && !(s & S_NR), "served=%d len=%u changed=%d needs_reset=%d status=0x%02x",
	       served, len, changed, !!(s & S_NR), s);
	dev_reset();
}

/* Rings the device must refuse when the queue is enabled. */
static void bad_ring(const char *name, struct ring r, volatile struct vring_used *u)
{
	uint16_t enabled;
	bool nr, served;

	if (u == ap_used(0))
		ap_clear(0);
	bring_up(FULL_FEATURES, &r, UP_FOK);
	cw16(VIRTIO_PCI_COMMON_Q_SELECT, 0);
	enabled = cr16(VIRTIO_PCI_COMMON_Q_ENABLE);
	nr = wait_status(S_NR, WAIT_FAIL_MS);
	set_status(S_ACK | S_DRV | S_FOK | S_DOK);
	kick();
	sleep_ms(WAIT_IDLE_MS);
	served = u && used_idx(u) != 0;
	report(name, nr && !enabled && !served, "needs_reset=%d enabled=%u served=%d", nr, enabled, served);
	dev_reset();
}

/*
 * A chain the device must refuse when it pops it: rings inside the
 * aperture, `build` writes descriptors and returns the head; idx is the
 * avail index published. Leaves the device failed if `keep`.
 */
static void bad_chain(const char *name, uint16_t (*build)(void), uint16_t idx, bool keep)
{
	struct ring r = ap_ring(0);
	volatile struct vring_used *u = ap_used(0);
	bool nr, served;
	uint8_t s;

	ap_clear(0);
	ap_publish(0, build(), idx);
	bring_up(FULL_FEATURES, &r, UP_FOK | UP_DOK);
	kick();
	nr = wait_status(S_NR, WAIT_FAIL_MS);
	served = used_idx(u) != 0;
	s = dev_status();
	report(name, nr && !served, "needs_reset=%d served=%d status=0x%02x", nr, served, s);
	if (!keep)
		dev_reset();
}

static uint16_t b_outside(void)
{
	put_desc(ap_desc(0), 0, own[OWN_BUF].phys, PAGE, VRING_DESC_F_WRITE, 0);
	return 0;
}

static uint16_t b_outside_second(void) /* a good first segment, then one outside */
{
	put_desc(ap_desc(0), 0, ap_phys(A_BUF), 64, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	put_desc(ap_desc(0), 1, own[OWN_BUF].phys, PAGE, VRING_DESC_F_WRITE, 0);
	return 0;
}

static uint16_t b_straddle_end(void)
{
	put_desc(ap_desc(0), 0, d.ap_base + d.ap_size - 2048, PAGE, VRING_DESC_F_WRITE, 0);
	return 0;
}

static uint16_t b_straddle_start(void)
{
	put_desc(ap_desc(0), 0, d.ap_base - 2048, PAGE, VRING_DESC_F_WRITE, 0);
	return 0;
}

static uint16_t b_wrap(void)
{
	put_desc(ap_desc(0), 0, 0xFFFFFFFFFFFFF000ULL, 0x2000, VRING_DESC_F_WRITE, 0);
	return 0;
}

static uint16_t b_huge(void)
{
	put_desc(ap_desc(0), 0, ap_phys(A_BUF), 0xFFFFFFFFu, VRING_DESC_F_WRITE, 0);
	return 0;
}

static uint16_t b_loop(void)
{
	put_desc(ap_desc(0), 0, ap_phys(A_BUF), 16, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	put_desc(ap_desc(0), 1, ap_phys(A_BUF + 16), 16, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 0);
	return 0;
}

static uint16_t b_next_beyond(void)
{
	put_desc(ap_desc(0), 0, ap_phys(A_BUF), 16, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, d.qsz);
	return 0;
}

static uint16_t b_head_beyond(void)
{
	put_desc(ap_desc(0), 0, ap_phys(A_BUF), 16, VRING_DESC_F_WRITE, 0);
	return 0xFFFF;
}

static uint16_t b_good(void)
{
	put_desc(ap_desc(0), 0, ap_phys(A_BUF), 16, VRING_DESC_F_WRITE, 0);
	return 0;
}

static uint16_t b_ind_table_outside(void)
{
	put_desc(ap_desc(0), 0, own[OWN_IND].phys, 2 * sizeof(struct vring_desc), VRING_DESC_F_INDIRECT, 0);
	return 0;
}

static uint16_t b_ind_entry_outside(void)
{
	struct vring_desc *ind = (struct vring_desc *)(void *)(d.ap + A_IND);

	put_desc(ind, 0, own[OWN_BUF].phys, PAGE, VRING_DESC_F_WRITE, 0);
	put_desc(ap_desc(0), 0, ap_phys(A_IND), sizeof(*ind), VRING_DESC_F_INDIRECT, 0);
	return 0;
}

static uint16_t b_ind_nested(void)
{
	struct vring_desc *ind = (struct vring_desc *)(void *)(d.ap + A_IND);

	put_desc(ind, 0, ap_phys(A_IND + 0x100), 2 * sizeof(*ind), VRING_DESC_F_INDIRECT, 0);
	put_desc(ind, 16, ap_phys(A_BUF), 16, VRING_DESC_F_WRITE, 0);
	put_desc(ap_desc(0), 0, ap_phys(A_IND), sizeof(*ind), VRING_DESC_F_INDIRECT, 0);
	return 0;
}

static uint16_t b_ind_loop(void)
{
	struct vring_desc *ind = (struct vring_desc *)(void *)(d.ap + A_IND);

	put_desc(ind, 0, ap_phys(A_BUF), 16, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 1);
	put_desc(ind, 1, ap_phys(A_BUF + 16), 16, VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 0);
	put_desc(ap_desc(0), 0, ap_phys(A_IND), 2 * sizeof(*ind), VRING_DESC_F_INDIRECT, 0);
	return 0;
}

static uint16_t b_readable(void)
{
	put_desc(ap_desc(0), 0, ap_phys(A_BUF), 16, 0, 0);
	return 0;
}

/*
 * Status and feature rules: the device must not serve a driver that did not
 * get FEATURES_OK accepted. `features` acknowledged; UP_FOK whether
 * FEATURES_OK is written. Expected: FEATURES_OK does not stick, nothing
 * served.
 */
static void bad_features(const char *name, uint64_t features, unsigned flags)
{
	struct ring r = ap_ring(0);
	volatile struct vring_used *u = ap_used(0);
	uint8_t after_fok, s;
	bool served;

	ap_clear(0);
	ap_publish(0, b_good(), 1);
	after_fok = bring_up(features, &r, flags | UP_DOK);
	kick();
	sleep_ms(WAIT_IDLE_MS);
	served = used_idx(u) != 0;
	s = dev_status();
	report(name, !(after_fok & S_FOK) && !(s & S_FOK) && !served,
	       "features_ok=%d served=%d needs_reset=%d status=0x%02x", !!(after_fok & S_FOK), served, !!(s & S_NR),
	       s);
	dev_reset();
}

/* After FEATURES_OK, the driver's features are fixed. */
static void features_rewrite(void)
{
	struct ring r = ap_ring(0);
	volatile struct vring_used *u = ap_used(0);
	uint64_t got;
	uint8_t after_fok;
	bool served;

	ap_clear(0);
	ap_publish(0, b_good(), 1);
	after_fok = bring_up(FULL_FEATURES, &r, UP_FOK);
	set_features(1ULL << VIRTIO_F_VERSION_1); /* drop ACCESS_PLATFORM and SWIOTLB */
	cw32(VIRTIO_PCI_COMMON_GFSELECT, 0);
	got = cr32(VIRTIO_PCI_COMMON_GF);
	cw32(VIRTIO_PCI_COMMON_GFSELECT, 1);
	got |= (uint64_t)cr32(VIRTIO_PCI_COMMON_GF) << 32;
	set_status(S_ACK | S_DRV | S_FOK | S_DOK);
	kick();
	served = wait_used(u, 1, WAIT_SERVE_MS);
	report("features-rewrite-after-features-ok", (after_fok & S_FOK) && got == FULL_FEATURES && served,
	       "features_ok=%d kept=%d served=%d", !!(after_fok & S_FOK), got == FULL_FEATURES, served);
	dev_reset();
}

/* Many NEEDS_RESET in a row from one call site: the monitor's log must stay bounded. */
static void needs_reset_flood(unsigned n)
{
	struct ring r = own_ring();
	unsigned seen = 0;
	long t0 = now_ms();

	for (unsigned i = 0; i < n; i++) {
		bring_up(FULL_FEATURES, &r, UP_FOK);
		if (dev_status() & S_NR)
			seen++;
	}
	report("needs-reset-flood", seen == n, "count=%u needs_reset=%u elapsed_ms=%ld", n, seen, now_ms() - t0);
	dev_reset();
}

/* ---- the reset storm ---- */

struct storm_arg {
	int cpu;
	unsigned iters;
	bool pinned;
	unsigned served; /* DRIVER_OK status seen back */
};

/*
 * A spinning barrier (user mode runs natively, a futex costs a slow guest
 * system call): both threads start each round together, so their resets
 * and DRIVER_OKs reach the monitor at the same time from two vCPUs.
 */
static unsigned storm_arrived, storm_round;

static void storm_barrier(void)
{
	unsigned round = __atomic_load_n(&storm_round, __ATOMIC_ACQUIRE);

	if (__atomic_add_fetch(&storm_arrived, 1, __ATOMIC_ACQ_REL) == 2) {
		__atomic_store_n(&storm_arrived, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&storm_round, round + 1, __ATOMIC_RELEASE);
		return;
	}
	while (__atomic_load_n(&storm_round, __ATOMIC_ACQUIRE) == round)
		__builtin_ia32_pause();
}

static void *storm_thread(void *p)
{
	struct storm_arg *a = p;
	struct ring r = ap_ring(A_STORM);
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(a->cpu, &set);
	a->pinned = pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0 && sched_getcpu() == a->cpu;
	for (unsigned i = 0; i < a->iters; i++) {
		storm_barrier();
		set_status(0);
		set_status(S_ACK);
		set_status(S_ACK | S_DRV);
		set_features(FULL_FEATURES);
		set_status(S_ACK | S_DRV | S_FOK);
		queue_setup(&r);
		set_status(S_ACK | S_DRV | S_FOK | S_DOK);
		kick();
		kick();
		if (dev_status() & S_DOK)
			a->served++;
	}
	return NULL;
}

static void reset_storm(unsigned iters)
{
	struct storm_arg a[2] = { { .cpu = 0, .iters = iters }, { .cpu = 1, .iters = iters } };
	pthread_t t[2];
	long t0 = now_ms();
	bool ok = true;

	/* A pending request in the storm's ring: every DRIVER_OK has work for the worker. */
	ap_clear(A_STORM);
	put_desc(ap_desc(A_STORM), 0, ap_phys(A_STORM + A_BUF), 256, VRING_DESC_F_WRITE, 0);
	ap_publish(A_STORM, 0, 1);
	for (int i = 0; i < 2; i++)
		if (pthread_create(&t[i], NULL, storm_thread, &a[i]) != 0)
			setup_fail("pthread_create: %s", strerror(errno));
	for (int i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		ok &= a[i].pinned;
	}
	report("reset-storm", ok, "threads=2 iterations=%u pinned=%d,%d driver_ok_seen=%u,%u elapsed_ms=%ld", iters,
	       a[0].pinned, a[1].pinned, a[0].served, a[1].served, now_ms() - t0);
	dev_reset();
}

/* ---- guard ---- */

static void guard_check(void)
{
	unsigned bad = 0, moved = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	for (unsigned i = 0; i < NOWN; i++) {
		if (memcmp(own[i].p, own[i].shadow, PAGE) != 0)
			bad++;
		if (fd < 0 || pagemap_phys(fd, own[i].p) != own[i].phys)
			moved++;
	}
	if (fd >= 0)
		close(fd);
	report("guard-pages", bad == 0 && moved == 0, "intact=%d pages=%u changed=%u moved=%u", bad == 0, NOWN, bad,
	       moved);
}

/* ---- the init channel ---- */

/* Append a 4-byte-aligned big-endian word / padded bytes to the structure block. */
static size_t put32(uint8_t *b, size_t at, uint32_t v)
{
	fdt32_t x = cpu_to_fdt32(v);

	memcpy(b + at, &x, 4);
	return at + 4;
}

static size_t put_bytes(uint8_t *b, size_t at, const void *s, size_t n)
{
	memcpy(b + at, s, n);
	memset(b + at + n, 0, (4 - n % 4) % 4);
	return at + (n + 3) / 4 * 4;
}

/*
 * A valid "boot-mark" message (DTB v17) built by hand: libfdt is not linked
 * into the guest tools. Layout: header, an empty memory reservation map,
 * the structure block (root node with `message` and `mark`), the strings.
 */
static size_t fdt_boot_mark(uint8_t *b, size_t cap, const char *mark)
{
	static const char strings[] = "message\0mark";
	const size_t rsv = sizeof(struct fdt_header), st = rsv + sizeof(struct fdt_reserve_entry);
	size_t at = st, sz;
	struct fdt_header h;

	if (cap < 512 || strlen(mark) > 100)
		return 0;
	memset(b, 0, cap);
	at = put32(b, at, FDT_BEGIN_NODE);
	at = put_bytes(b, at, "", 1);
	at = put32(b, at, FDT_PROP);
	at = put32(b, at, sizeof("boot-mark"));
	at = put32(b, at, 0);
	at = put_bytes(b, at, "boot-mark", sizeof("boot-mark"));
	at = put32(b, at, FDT_PROP);
	at = put32(b, at, (uint32_t)strlen(mark) + 1);
	at = put32(b, at, sizeof("message"));
	at = put_bytes(b, at, mark, strlen(mark) + 1);
	at = put32(b, at, FDT_END_NODE);
	at = put32(b, at, FDT_END);
	sz = at - st;
	memcpy(b + at, strings, sizeof(strings));
	h = (struct fdt_header){
		.magic = cpu_to_fdt32(FDT_MAGIC),
		.totalsize = cpu_to_fdt32((uint32_t)(at + sizeof(strings))),
		.off_dt_struct = cpu_to_fdt32((uint32_t)st),
		.off_dt_strings = cpu_to_fdt32((uint32_t)at),
		.off_mem_rsvmap = cpu_to_fdt32((uint32_t)rsv),
		.version = cpu_to_fdt32(17),
		.last_comp_version = cpu_to_fdt32(16),
		.boot_cpuid_phys = 0,
		.size_dt_strings = cpu_to_fdt32(sizeof(strings)),
		.size_dt_struct = cpu_to_fdt32((uint32_t)sz),
	};
	memcpy(b, &h, sizeof(h));
	return at + sizeof(strings);
}

#define PRIVILEGED 1 /* chan_connect(): the next free port below 1024 */

/*
 * Connect to the init channel from `*port` (0: any port the kernel picks;
 * PRIVILEGED: the next free one from 900 up, each used once, skipping any
 * the init holds). *port is set to the port bound. fd, or -errno.
 */
static int chan_connect(unsigned *port)
{
	static unsigned next_privileged = 900;
	struct sockaddr_vm local = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = *port };
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_HOST, .svm_port = 1024 };
	struct timeval tv = { .tv_sec = 5 };
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0), e;
	socklen_t len = sizeof(local);
	int r = 0;

	if (fd < 0)
		return -errno;
	setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT_NEW, &tv, sizeof(tv));
	if (*port == PRIVILEGED) {
		do {
			local.svm_port = next_privileged++;
			r = bind(fd, (struct sockaddr *)&local, sizeof(local));
		} while (r < 0 && errno == EADDRINUSE && next_privileged < 1024);
	} else if (*port) {
		r = bind(fd, (struct sockaddr *)&local, sizeof(local));
	}
	if (r < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		e = errno;
		close(fd);
		return -e;
	}
	if (getsockname(fd, (struct sockaddr *)&local, &len) == 0)
		*port = local.svm_port;
	return fd;
}

/* Send up to len bytes without blocking for more than ms in total. */
static size_t send_some(int fd, const uint8_t *b, size_t len, unsigned ms, int *err)
{
	long end = now_ms() + ms;
	size_t done = 0;

	*err = 0;
	while (done < len && now_ms() < end) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		ssize_t n;

		if (poll(&p, 1, 100) <= 0)
			continue;
		n = send(fd, b + done, len - done, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0) {
			*err = n < 0 ? errno : EPIPE;
			break;
		}
		done += (size_t)n;
	}
	return done;
}

/* Did the peer close or reset the connection within ms? */
static bool closed_by_peer(int fd, unsigned ms)
{
	long end = now_ms() + ms;
	char c[256];

	while (now_ms() < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 100) <= 0)
			continue;
		n = recv(fd, c, sizeof(c), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return true;
	}
	return false;
}

static void chan_garbage(const char *name, unsigned port, uint32_t totalsize, size_t extra)
{
	static uint8_t b[40 + 65536];
	size_t sent = 0;
	int fd = chan_connect(&port), err = 0;
	bool closed;

	if (fd < 0) {
		report(name, false, "port=%u connect=%s", port, strerror(-fd));
		return;
	}
	memset(b, 0x5A, sizeof(b));
	memset(b, 0, 40);
	{
		fdt32_t m = cpu_to_fdt32(FDT_MAGIC), t = cpu_to_fdt32(totalsize);

		memcpy(b, &m, 4);
		memcpy(b + 4, &t, 4);
	}
	/*
	 * Header and data in one call: the guest kernel queues as many packets
	 * as the monitor's credit allows before the monitor's RST comes back,
	 * so the data arrives on a connection the monitor has already closed.
	 */
	sent = send_some(fd, b, 40 + extra, 5000, &err);
	closed = closed_by_peer(fd, 10000);
	close(fd);
	report(name, closed, "port=%u sent=%zu send_error=%s closed=%d", port, sent, err ? strerror(err) : "none",
	       closed);
}

/* The well-behaved control: a privileged port, a valid boot-mark. */
static void chan_valid(const char *name, unsigned port, const char *mark)
{
	uint8_t b[1024];
	size_t len = fdt_boot_mark(b, sizeof(b), mark), sent = 0;
	int fd = chan_connect(&port), err = 0;
	bool closed;

	if (fd < 0) {
		report(name, false, "port=%u connect=%s", port, strerror(-fd));
		return;
	}
	sent = send_some(fd, b, len, 3000, &err);
	closed = closed_by_peer(fd, 500);
	close(fd);
	report(name, sent == len && !closed, "port=%u mark=%s sent=%zu/%zu closed=%d", port, mark, sent, len, closed);
}

/*
 * From an unprivileged port: refused (the connect fails) or reset right
 * after; the boot-mark it carries must never show in the monitor's events.
 */
static void chan_unprivileged(const char *name, unsigned port, const char *mark)
{
	uint8_t b[1024];
	size_t len = fdt_boot_mark(b, sizeof(b), mark), sent = 0;
	int fd = chan_connect(&port), err = 0;
	bool closed;

	if (fd < 0) {
		report(name, fd == -ECONNRESET || fd == -ECONNREFUSED, "uid=%u port=%u mark=%s connect=%s refused=1",
		       getuid(), port, mark, strerror(-fd));
		return;
	}
	sent = send_some(fd, b, len, 2000, &err);
	closed = closed_by_peer(fd, 3000);
	close(fd);
	report(name, closed, "uid=%u port=%u mark=%s connect=ok sent=%zu closed=%d refused=%d", getuid(), port, mark,
	       sent, closed, closed);
}

int main(int argc, char **argv)
{
	unsigned storm = 2000, flood = 1000;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--storm") && i + 1 < argc)
			storm = (unsigned)strtoul(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--flood") && i + 1 < argc)
			flood = (unsigned)strtoul(argv[++i], NULL, 0);
		else {
			fprintf(stderr, "usage: hostile [--storm N] [--flood N]\n");
			return 101;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (geteuid() != 0)
		setup_fail("must run as root");
	setup();
	own_setup();

	control("control", false);
	control("control-indirect", true);

	bad_ring("rings-outside-aperture", own_ring(), (volatile struct vring_used *)(void *)(own[OWN_RING].p + O_USED));
	{
		struct ring r = ap_ring(0);

		r.desc = d.ap_base + d.ap_size - 128;
		bad_ring("ring-straddles-aperture-end", r, NULL);
		r = ap_ring(0);
		r.size = 3;
		bad_ring("queue-size-not-power-of-two", r, ap_used(0));
		r = ap_ring(0);
		r.desc += 8;
		bad_ring("ring-misaligned", r, ap_used(0));
	}

	bad_chain("desc-outside-aperture", b_outside, 1, false);
	bad_chain("desc-second-outside-aperture", b_outside_second, 1, false);
	bad_chain("desc-straddles-aperture-end", b_straddle_end, 1, false);
	bad_chain("desc-straddles-aperture-start", b_straddle_start, 1, false);
	bad_chain("desc-address-wraps", b_wrap, 1, false);
	bad_chain("huge-length", b_huge, 1, false);
	bad_chain("desc-loop", b_loop, 1, false);
	bad_chain("next-beyond-queue-size", b_next_beyond, 1, false);
	bad_chain("head-beyond-queue-size", b_head_beyond, 1, false);
	bad_chain("avail-index-far-ahead", b_good, 0x8000, false);
	bad_chain("indirect-table-outside-aperture", b_ind_table_outside, 1, false);
	bad_chain("indirect-entry-outside-aperture", b_ind_entry_outside, 1, false);
	bad_chain("nested-indirect", b_ind_nested, 1, false);
	bad_chain("indirect-loop", b_ind_loop, 1, false);
	bad_chain("device-readable-buffer", b_readable, 1, false);

	bad_features("driver-ok-skipping-features-ok", FULL_FEATURES, 0);
	bad_features("features-ok-without-swiotlb", FULL_FEATURES & ~(1ULL << VIRTIO_F_SWIOTLB), UP_FOK);
	bad_features("features-ok-with-unoffered-feature", FULL_FEATURES | (1ULL << VIRTIO_F_RING_PACKED), UP_FOK);
	features_rewrite();

	needs_reset_flood(flood);
	if (storm) {
		reset_storm(storm);
		control("after-storm-control", false);
	}
	/* Leave the device failed: device-stats must say needs_reset at exit. */
	bad_chain("left-in-needs-reset", b_outside, 1, true);
	guard_check();

	chan_garbage("chan-bad-header-flood", PRIVILEGED, 0, 65536);
	chan_garbage("chan-oversize-header", PRIVILEGED, 16u << 20, 4096);
	chan_valid("chan-privileged-control", PRIVILEGED, "hostile-privileged");
	chan_unprivileged("chan-unprivileged-port", 5000, "hostile-unprivileged");
	if (setgid(65534) < 0 || setuid(65534) < 0)
		report("chan-nobody", false, "setuid(65534): %s", strerror(errno));
	else
		chan_unprivileged("chan-nobody", 0, "hostile-nobody");

	printf("hostile: summary attacks=%u unexpected=%u\n", attacks, unexpected);
	return unexpected > 100 ? 100 : (int)unexpected;
}
