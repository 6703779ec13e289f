/* SPDX-License-Identifier: MIT */
/*
 * The UNIX-socket bridge of virtio-vsock (--vsock-uds): host programs reach
 * guest vsock ports through a socket file. A plain user of the vsock host
 * API (vsock_connect/send/close), kept apart from the device.
 */
#ifndef APERTURE_VSOCK_UDS_H
#define APERTURE_VSOCK_UDS_H

#include "devices/virtio-vsock.h"

/*
 * Host programs: listen on the UNIX socket `path` (a stale socket there is
 * replaced; any other file is left alone and the call fails with -EEXIST). A client writes "CONNECT <port>\n", gets "OK <host_port>\n"
 * once the guest accepted (or is disconnected if it refused), then raw bytes
 * flow both ways (Firecracker's convention). One bridge thread, stopped and
 * joined by virtio_vsock_destroy(). -errno.
 */
int vsock_uds_listen(struct virtio_vsock *v, const char *path) must_check;

/* Stop the bridge thread (no more calls into the device); NULL is fine. */
void vsock_uds_stop(struct vsock_uds *u);
/* Free the bridge's clients once the device called closed() for their connections; NULL is fine. */
void vsock_uds_free(struct vsock_uds *u);

#endif
