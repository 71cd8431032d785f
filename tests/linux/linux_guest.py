"""What the Linux guest tests share: skipping without /dev/kvm or the kernel package, the
kernel and its modules, an initramfs, and an ext4 image with e2fsprogs from the host."""
import os
import shutil
import subprocess
import sys

SKIP = 77
# e2fsprogs lives in /sbin on Debian, outside a user's PATH.
E2FS_ENV = dict(os.environ, PATH=os.environ.get("PATH", "") + ":/sbin:/usr/sbin")


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(SKIP)


def require_kvm():
    dev = os.environ.get("LODGER_KVM_DEVICE", "/dev/kvm")
    try:
        os.close(os.open(dev, os.O_RDWR))
    except OSError as e:
        skip(f"{dev} is not usable ({e.strerror})")


def require_e2fsprogs():
    for tool in ("mkfs.ext4", "e2fsck", "debugfs"):
        if not shutil.which(tool, path=E2FS_ENV["PATH"]):
            skip(f"{tool} (e2fsprogs) is missing")


def kernel(get_kernel, cache):
    """(vmlinuz, module tree) of Debian's kernel package, fetched into cache."""
    k = subprocess.run([get_kernel, cache], capture_output=True, text=True, timeout=600)
    if k.returncode == 3:
        skip("Debian's kernel package cannot be fetched")
    if k.returncode:
        sys.exit(f"FAIL: get-debian-kernel exited {k.returncode}: {k.stderr.strip()}")
    info = dict(line.split("=", 1) for line in k.stdout.splitlines() if "=" in line)
    vmlinuz = info["vmlinuz"]
    moddir = os.path.join(os.path.dirname(os.path.dirname(vmlinuz)), "lib", "modules",
                          info["release"])
    return vmlinuz, moddir


def initramfs(make_initramfs, out, moddir=None, modules=(), adds=()):
    cmd = [make_initramfs, "-o", out]
    if modules:
        cmd += ["--modules", moddir] + [a for m in modules for a in ("--module", m)]
    cmd += [a for add in adds for a in ("--add", add)]
    subprocess.run(cmd, check=True, capture_output=True)
    return out


def ext4_image(path, mib=64):
    with open(path, "wb") as f:
        f.truncate(mib << 20)
    subprocess.run(["mkfs.ext4", "-q", "-F", path], check=True, env=E2FS_ENV)
    return path


def debugfs(image, request, text=True):
    return subprocess.run(["debugfs", "-R", request, image], capture_output=True, text=text,
                          env=E2FS_ENV).stdout


def save_transcript(cache, name, text):
    """Keeps a run's whole console output beside the kernel cache, so that a slow or failed
    boot (a nested run takes minutes) can be read after the fact; returns the path."""
    path = os.path.join(cache, name + ".log")
    with open(path, "w", errors="replace") as f:
        f.write(text)
    return path


def lodger_cmd(lodger, vmlinuz, initramfs_path, append, image=None):
    cmd = [lodger, "-m", "512M", "-serial", "stdio", "-display", "none", "-kernel", vmlinuz,
           "-initrd", initramfs_path, "-append", append]
    if image:
        cmd += ["-drive", f"file={image},format=raw,if=xen"]
    return cmd
