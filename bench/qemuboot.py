"""What bench/run and bench/guest-copy share to boot the same guest under QEMU:
our monitor's kernel command line, Debian's virtiofsd, and QEMU's command for
our vmlinux and initramfs with one virtio-fs share (imported by both scripts,
which live in this folder)."""
import base64
import os
import re
import shutil
import subprocess
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VMM = os.path.join(TOP, "build", "vmm")
IMG = os.path.join(TOP, "images", "out")
QEMU = shutil.which("qemu-system-x86_64")
VIRTIOFSD = "/usr/lib/qemu/virtiofsd"
QBOOT = "/usr/share/qemu/qboot.rom"


def have_qemu():
    """QEMU, Debian's C virtiofsd and qboot are all installed."""
    return bool(QEMU) and os.path.exists(VIRTIOFSD) and os.path.exists(QBOOT)


def kernel_cmdline(net_none=True):
    """Our monitor's kernel command line (from --verbose) without what is its own
    (the guest command, the pool size): QEMU boots the same kernel the same way.
    None when the monitor did not print one."""
    cmd = [VMM, "--kernel", os.path.join(IMG, "vmlinux"), "--verbose", "--timeout", "1", "--exec", "true"]
    if net_none:
        cmd += ["--net", "none"]
    out = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    m = re.search(r"^vmm: kernel command line: (.*)$", out.stdout + out.stderr, re.M)
    return re.sub(r"\s*(aperture\.exec|virtio_swiotlb)=\S*", "", m.group(1)) if m else None


def start_virtiofsd(sock, source, log=subprocess.DEVNULL):
    """Debian's virtiofsd (cache=auto) serving `source` on `sock`; returns once the
    socket exists (or after 10 s: QEMU then says why it cannot connect)."""
    p = subprocess.Popen([VIRTIOFSD, f"--socket-path={sock}", "-o", f"source={source}", "-o", "cache=auto"],
                         stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    for _ in range(100):
        if os.path.exists(sock):
            break
        time.sleep(0.1)
    return p


def qemu_argv(mem_mb, cpus, sock, tag, cmdline, guest_cmd):
    """QEMU 7.2 booting our vmlinux and initramfs (-M pc with qboot, memfd memory
    for vhost-user) with virtio-fs `tag` from virtiofsd on `sock`; the guest mounts
    it on /mnt/TAG and runs guest_cmd (aperture.exec, as our monitor passes it)."""
    exec_b64 = base64.b64encode(f"mkdir -p /mnt/{tag} && mount -t virtiofs {tag} /mnt/{tag} && {guest_cmd}"
                                .encode()).decode()
    return [QEMU, "-M", "pc", "-bios", QBOOT, "-nodefaults", "-no-user-config", "-enable-kvm",
            "-cpu", "qemu64", "-smp", str(cpus), "-m", f"{mem_mb}M",
            "-object", f"memory-backend-memfd,id=mem,size={mem_mb}M,share=on", "-numa", "node,memdev=mem",
            "-chardev", f"socket,id=fs0,path={sock}", "-device", f"vhost-user-fs-pci,chardev=fs0,tag={tag}",
            "-kernel", os.path.join(IMG, "vmlinux"), "-initrd", os.path.join(IMG, "initramfs.cpio"),
            "-serial", "stdio", "-display", "none", "-no-reboot",
            "-append", f"{cmdline} aperture.exec={exec_b64}"]
