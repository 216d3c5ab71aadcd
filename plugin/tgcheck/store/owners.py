"""Who drives a job: this process's name in the journal, and whether an owner lives.

A job's owner is "host:pid". On this host the process table says at once whether
an owner lives; on another host only its lease does (its last heartbeat, on the
store's clock). The lease and the names are a store's tuning (tuning.StoreTuning):
these functions take them as parameters, with the defaults a store runs by.
"""

from __future__ import annotations

import hashlib
import os

from .. import settings_registry

# A driving process that stops heart-beating for this long is taken for dead
# (on another host; on this one the process table decides at once).
LEASE_SECONDS = 60.0

# The host part of a job's owner. TGCHECK_HOST_NAME overrides it: tests pose as
# two machines with it, and containers that share a name can tell themselves apart.
def _host_name() -> str:
    """socket.gethostname() without importing socket (0.002-0.004 s of every
    start, for a run that opens no connection): on POSIX both are uname's node
    name."""
    if hasattr(os, "uname"):
        return os.uname().nodename
    import socket

    return socket.gethostname()


HOST = settings_registry.value("host_name") or _host_name()


def this_owner(host: str = HOST) -> str:
    """This process as a job's owner: host:pid (read at each call: a forked child
    is another process)."""
    return f"{host}:{os.getpid()}"


def _started_at(pid: int) -> float | None:
    """When a process started (epoch seconds), where /proc says; else None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            # Field 22, after the command name in parentheses (which may hold spaces).
            ticks = int(f.read().rsplit(b")", 1)[1].split()[19])
        with open("/proc/stat", "rb") as f:
            boot = next(int(line.split()[1]) for line in f if line.startswith(b"btime"))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def owner_alive(owner: str | None, heartbeat: float | None, now: float, *,
                lease_seconds: float = LEASE_SECONDS, host: str = HOST) -> bool:
    """Whether the process driving a job is still there.

    On this host the process table decides: a live owner whose heartbeat is old
    (stopped with Ctrl-Z, a laptop asleep) is alive, and must not have its create
    taken for cut off; a pid that is gone (or was reused by a process started
    after the owner's last beat) is dead at once. Elsewhere only the lease does:
    an owner on another host is alive until lease_seconds after its last beat.
    """
    if not owner:
        return False
    host_of_owner, _, pid = owner.rpartition(":")
    if host_of_owner == host and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False  # killed: no need to wait out the lease
        except PermissionError:
            pass
        started = _started_at(int(pid))
        # False: that pid is another process, started after the owner's last beat.
        return started is None or heartbeat is None or started <= heartbeat + 1.0
    return heartbeat is not None and now - heartbeat < lease_seconds


def account_of(api_key: str) -> str:
    """A short fingerprint of an API key, kept with each job: it tells members'
    accounts apart without the key (not reversible, and not the key's prefix)."""
    return hashlib.sha256(f"tgcheck-account\0{api_key}".encode()).hexdigest()[:12]
