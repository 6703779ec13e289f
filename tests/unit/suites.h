/* SPDX-License-Identifier: MIT */
/* One suite per unit-test file; main.c runs them all. */
#ifndef APERTURE_TEST_SUITES_H
#define APERTURE_TEST_SUITES_H

#include <check.h>

Suite *loader_suite(void);
Suite *firmware_suite(void);
Suite *cli_suite(void);
Suite *devices_suite(void);
Suite *memory_suite(void);
Suite *pci_suite(void);
Suite *virtqueue_suite(void);
Suite *msix_suite(void);
Suite *virtio_suite(void);
Suite *vsock_suite(void);
Suite *initchan_suite(void);
Suite *aperture_suite(void);
Suite *fuse_suite(void);
Suite *fuse_fs_suite(void);
Suite *iov_suite(void);
Suite *ratelimit_suite(void);
Suite *vhost_user_suite(void);
Suite *net_suite(void);

#endif
