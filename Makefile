# Thin wrapper over configure + ninja; see README.md.
#   make          build ./vmm (and the unit tests)
#   make images   build the guest kernel and initramfs (cached)
#   make check    unit tests, fuzz smoke (10 s a target), TSan stress (21 s), boot tests,
#                 the quick bench (bench/run --quick: figures produced, speeds not judged)
#   make bench    bench/run: the benchmark table and plots (BENCH_ARGS=--rounds 5 ...)
#   make run      boot the guest with a shell (SHARE=/path once virtio-fs lands)
#   make fuzz     each fuzz target for FUZZ_SECONDS (default 300), then the
#                 TSan stress test for STRESS_SECONDS (default 300)
#   make stress   the TSan stress test alone (STRESS_SECONDS)
#   make install  vmm, its man page and the guest image under $(DESTDIR)$(PREFIX)
#   make clean
NINJA ?= ninja
PREFIX ?= /usr/local
DESTDIR ?=
FUZZ_SECONDS ?= 300
STRESS_SECONDS ?= 300
SRCS := $(sort $(wildcard lib/*.c vmm/*.c devices/*.c firmware/*.c tests/unit/*.c tests/fuzz/*.c tests/stress/*.c bench/*.c))

.PHONY: all check unit fuzz-smoke fuzz stress boot-tests bench images run clean deps install uninstall

all: build/build.ninja
	$(NINJA) -C build

deps:
	./configure --install-deps

# Re-run configure when it, or the set of source files, changes.
build/srclist: FORCE
	@mkdir -p build
	@echo '$(SRCS)' | cmp -s - $@ || echo '$(SRCS)' > $@
build/build.ninja: configure build/srclist
	./configure --install-deps

images:
	images/build

unit: all
	build/unit-tests

fuzz-smoke: build/build.ninja
	tests/fuzz/run 20

fuzz: build/build.ninja
	rc=0; tests/fuzz/run $(FUZZ_SECONDS) || rc=1; tests/stress/run $(STRESS_SECONDS) || rc=1; exit $$rc

stress: build/build.ninja
	tests/stress/run $(STRESS_SECONDS)

boot-tests: all images
	tests/boot/run

check: all images
	tests/lint/layers
	tests/lint/readme-options
	tests/install
	build/unit-tests
	tests/fuzz/run 10
	tests/stress/run 21
	tests/boot/run
	bench/run --self-test --out build/bench-self-test
	bench/guest-copy --self-test
	# The smoke test of bench/run's boots: one of ours and QEMU (the other --dma modes differ
	# only in the monitor's flags, and make check has a time budget). --pool 64M, the monitor's
	# default: the smallest pool leaves passt's host->guest TCP even slower (docs/protocol.md, "Network").
	bench/run --quick --pool 64M --candidates aperture,qemu

bench: all images
	bench/run $(BENCH_ARGS)

# Ctrl-A x (exit 130) is how a user leaves the console: not a make error.
run: all images
	build/vmm $(if $(SHARE),--share $(SHARE)) $(VMM_ARGS) || [ $$? -eq 130 ]

# vmm finds the guest image in ../share/aperture relative to itself.
install: all images
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/aperture
	install -m 0755 build/vmm $(DESTDIR)$(PREFIX)/bin/vmm
	install -m 0644 build/vmm.1 $(DESTDIR)$(PREFIX)/share/man/man1/vmm.1
	install -m 0644 images/out/vmlinux images/out/bzImage images/out/initramfs.cpio images/out/kernel.release \
		$(DESTDIR)$(PREFIX)/share/aperture/

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/vmm $(DESTDIR)$(PREFIX)/share/man/man1/vmm.1
	rm -rf $(DESTDIR)$(PREFIX)/share/aperture

clean:
	rm -rf build

FORCE:
