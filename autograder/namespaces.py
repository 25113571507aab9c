"""The Linux system calls the jail needs, through ctypes (Python 3.11 has no os.unshare).

Each function raises OSError with the call's errno, so the jail's caller can tell "this
machine does not allow it" from a bug.
"""
from __future__ import annotations

import ctypes
import os

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                        ctypes.c_char_p]
_libc.syscall.restype = ctypes.c_long

CLONE_NEWNS, CLONE_NEWUSER = 0x00020000, 0x10000000
CLONE_NEWPID, CLONE_NEWNET = 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV = 1, 2, 4
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
_PR_SET_PDEATHSIG, _PR_SET_DUMPABLE, _PR_SET_NO_NEW_PRIVS = 1, 4, 38
_SYS_MOUNT_SETATTR, _AT_FDCWD, _AT_RECURSIVE, _MOUNT_ATTR_RDONLY = 442, -100, 0x8000, 1
_CAPABILITY_VERSION_3 = 0x20080522


def _checked(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def unshare(flags: int) -> None:
    _checked(_libc.unshare(flags), "unshare")


def map_own_user(uid: int, gid: int) -> None:
    """In a new user namespace: map the uid and gid this process had before it entered
    (inside, getuid() says 65534 until then) to themselves, so files keep their owners."""
    # A process that changed its uid is not dumpable, which leaves its /proc files to root.
    _checked(_libc.prctl(_PR_SET_DUMPABLE, 1, 0, 0, 0), "prctl(DUMPABLE)")
    with open("/proc/self/setgroups", "w") as setgroups:
        setgroups.write("deny")
    with open("/proc/self/uid_map", "w") as uid_map:
        uid_map.write(f"{uid} {uid} 1")
    with open("/proc/self/gid_map", "w") as gid_map:
        gid_map.write(f"{gid} {gid} 1")


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0,
          data: str | None = None) -> None:
    encode = lambda text: None if text is None else text.encode()  # noqa: E731
    _checked(_libc.mount(encode(source), encode(target), encode(fstype), flags, encode(data)),
             f"mount {target}")


def make_private(path: str = "/") -> None:
    """Mounts made from now on stay in this mount namespace."""
    mount(None, path, None, MS_REC | MS_PRIVATE)


def tmpfs(target: str, mode: str = "0755", size: str = "1m") -> None:
    mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, f"mode={mode},size={size}")


def bind(source: str, target: str) -> None:
    mount(source, target, None, MS_BIND | MS_REC)


def set_read_only(path: str, read_only: bool) -> bool:
    """Make every mount at and under `path` read-only (or writable again). False when the
    kernel is older than 5.12 (no mount_setattr)."""
    # struct mount_attr { u64 attr_set, attr_clr, propagation, userns_fd; }
    attributes = (ctypes.c_uint64 * 4)(_MOUNT_ATTR_RDONLY if read_only else 0,
                                       0 if read_only else _MOUNT_ATTR_RDONLY, 0, 0)
    result = _libc.syscall(_SYS_MOUNT_SETATTR, _AT_FDCWD, path.encode(), _AT_RECURSIVE,
                           attributes, ctypes.sizeof(attributes))
    if result != 0 and ctypes.get_errno() == 38:  # ENOSYS
        return False
    _checked(result, f"mount_setattr {path}")
    return True


def die_with_parent() -> None:
    """SIGKILL this process when the process that forked it ends."""
    _checked(_libc.prctl(_PR_SET_PDEATHSIG, 9, 0, 0, 0), "prctl(PDEATHSIG)")


def drop_capabilities() -> None:
    """No capability left, and none to gain by exec (setuid files are ignored)."""
    _checked(_libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")
    header = (ctypes.c_uint32 * 2)(_CAPABILITY_VERSION_3, 0)
    empty = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable x 2 words
    _checked(_libc.capset(header, empty), "capset")
