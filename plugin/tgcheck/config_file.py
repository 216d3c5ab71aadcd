"""The key config file: where `tgcheck config set-key` keeps the API key.

TGCHECK_API_KEY wins when set; otherwise the key comes from this file, which is
written with mode 0600 and refused when others can read it (as ssh does), so a
key never sits world-readable and never has to be typed on a command line.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from pathlib import Path

import platformdirs

from . import settings_registry
from .errors import ConfigError
from .secret import Secret

FILE_NAME = "config.json"


def config_path() -> Path:
    """TGCHECK_HOME/config.json (tests, portable setups), else the platform's config dir."""
    home = settings_registry.read([settings_registry.FIELDS["home"]]).get("home")
    base = home or Path(platformdirs.user_config_dir("tgcheck", appauthor=False))
    return base / FILE_NAME


def _read(path: Path, *, check_mode: bool = True) -> dict:
    try:
        st = path.stat()
    except FileNotFoundError:
        return {}
    if check_mode and os.name == "posix" and st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"{path} can be read by other users; run `chmod 600 {path}` "
                          "(or `tgcheck config set-key` again)")
    try:
        data = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError) as e:
        raise ConfigError(f"{path} cannot be read ({type(e).__name__}); "
                          "run `tgcheck config set-key` to write it again") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} is not a JSON object; run `tgcheck config set-key`")
    return data


def stored_key() -> Secret | None:
    key = _read(config_path()).get("api_key")
    return Secret(key) if isinstance(key, str) and key else None


def key_source() -> str:
    """Where the key comes from, for `tgcheck config` (never the key itself)."""
    if settings_registry.is_set("api_key"):
        return "environment variable TGCHECK_API_KEY"
    try:
        if stored_key() is not None:
            return f"config file {config_path()}"
    except ConfigError as e:
        return f"none: {e}"
    return "none (set TGCHECK_API_KEY or run `tgcheck config set-key`)"


def _write(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    # Created 0600 from the first byte: never briefly readable by others.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):
        os.chmod(path, 0o600)


def set_key(key: str) -> Path:
    key = key.strip()
    if not key:
        raise ConfigError("no key given; nothing written")
    if any(c.isspace() for c in key):
        raise ConfigError("the key has spaces or several lines; paste the key alone")
    path = config_path()
    try:
        data = _read(path)
    except ConfigError:
        data = {}  # a broken or too-open file is replaced by a good one
    data["api_key"] = key
    _write(path, data)
    return path


def remove_key() -> bool:
    path = config_path()
    data = _read(path, check_mode=False)  # removing a key from a too-open file is fine
    if "api_key" not in data:
        return False
    del data["api_key"]
    _write(path, data)
    return True
