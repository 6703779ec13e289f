/* SPDX-License-Identifier: MIT */
/*
 * The wire between the guest's init (guest/init/) and the monitor, in one
 * place: both sides include this file (images/build hands it to the guest
 * compiler as lib/protocol.h). docs/protocol.md describes the protocol;
 * these are its numbers. Plain C, no dependencies, usable in a static guest
 * program.
 */
#ifndef APERTURE_LIB_PROTOCOL_H
#define APERTURE_LIB_PROTOCOL_H

/* ---- paravirtual port (one 32-bit I/O port) ---- */
#define PVPORT_BASE 0xA70
#define PVPORT_LEN 4
#define PVPORT_MAGIC 0x54525041u /* "APRT" little-endian, read back from the port */
#define PVPORT_CMD_BOOT_MARK 0x01u   /* bits 31..24 command, 23..0 argument */
#define PVPORT_CMD_EXIT_STATUS 0x02u
#define PVPORT_MARK_INIT 1u          /* guest init is running */
#define PVPORT_MARK_WORKLOAD 2u      /* the --exec command is starting */

/* ---- init channel: FDT messages on a vsock stream ---- */
#define INITCHAN_HOST_CID 2
#define INITCHAN_PORT 1024
/*
 * The monitor accepts the init channel only from guest source ports below
 * this (ports Linux reserves for CAP_NET_BIND_SERVICE): an unprivileged
 * guest process cannot spoof the exit status or the capabilities.
 */
#define INITCHAN_PRIVILEGED_PORTS 1024
#define INITCHAN_MAX_MSG (64 * 1024)  /* largest message, either way */
#define INITCHAN_STR 128              /* longest string property, NUL included */
#define INITCHAN_MAX_DEVICES 16       /* device nodes in one devices-ready */
/*
 * --exec travels in devices-ready (property "exec"), not on the kernel
 * command line (2 KiB at most): up to this many bytes. The command line
 * then carries INITCHAN_EXEC_PARAM "=" INITCHAN_EXEC_VIA_CHANNEL so that the
 * init knows to run it; other launchers (QEMU in bench/) may instead put
 * the command there base64-encoded.
 */
#define INITCHAN_MAX_EXEC (32 * 1024)
#define INITCHAN_EXEC_PARAM "aperture.exec"
#define INITCHAN_EXEC_VIA_CHANNEL "channel"

/* Message names (the root node's "message" property). */
#define INITCHAN_MSG_CAPS "guest-capabilities"
#define INITCHAN_MSG_BOOT_MARK "boot-mark"
#define INITCHAN_MSG_EXIT "exit-status"
#define INITCHAN_MSG_READY "devices-ready"

#endif
