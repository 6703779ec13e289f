/* SPDX-License-Identifier: MIT */
/* Unit-test runner: every suite from suites.h in one SRunner. */
#include <stdlib.h>
#include "tests/unit/suites.h"
#include "lib/log.h"

int main(void)
{
	SRunner *sr;
	int failed;

	/* Devices log ignored guest accesses; keep the test output readable. */
	log_set_quiet(true);
	sr = srunner_create(loader_suite());
	srunner_add_suite(sr, firmware_suite());
	srunner_add_suite(sr, cli_suite());
	srunner_add_suite(sr, devices_suite());
	srunner_add_suite(sr, memory_suite());
	srunner_add_suite(sr, pci_suite());
	srunner_add_suite(sr, virtqueue_suite());
	srunner_add_suite(sr, msix_suite());
	srunner_add_suite(sr, virtio_suite());
	srunner_add_suite(sr, vsock_suite());
	srunner_add_suite(sr, initchan_suite());
	srunner_add_suite(sr, aperture_suite());
	srunner_add_suite(sr, fuse_suite());
	srunner_add_suite(sr, fuse_fs_suite());
	srunner_add_suite(sr, iov_suite());
	srunner_add_suite(sr, ratelimit_suite());
	srunner_add_suite(sr, vhost_user_suite());
	srunner_add_suite(sr, net_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
