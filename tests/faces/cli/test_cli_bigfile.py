"""A million-row CSV is streamed: memory follows the numbers, not the table."""

import os
import subprocess
import sys

import pytest

from paths import ROOT


def peak_rss_mb(args, env, tmp_path) -> tuple[int, float, str]:
    """Run the real CLI; its own peak RSS from wait4 (not other children's)."""
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    with out.open("wb") as o, err.open("wb") as e:
        proc = subprocess.Popen([sys.executable, "-m", "tgcheck", *args], env=env, cwd=ROOT,
                                stdout=o, stderr=e)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    # ru_maxrss is in KiB on Linux
    return proc.returncode, usage.ru_maxrss / 1024, out.read_text() + err.read_text()


def write_csv(path, rows: int) -> None:
    # A wide notes column: holding the rows would cost several hundred MB.
    notes = "x" * 120
    with path.open("w") as f:
        f.write("id,notes,phone\n")
        f.writelines(f"{i},{notes},+4179{i % 5000:07d}\n" for i in range(rows))


@pytest.mark.slow
def test_million_row_csv_dry_run_stays_bounded(tmp_path):
    env = dict(os.environ, TGCHECK_HOME=str(tmp_path / "home"), TGCHECK_LOAD_PLUGINS="")
    env.pop("TGCHECK_API_KEY", None)  # a dry run needs no key
    small, big = tmp_path / "small.csv", tmp_path / "big.csv"
    write_csv(small, 1_000)
    write_csv(big, 1_000_000)
    code, base_mb, _ = peak_rss_mb(["check", str(small), "--dry-run"], env, tmp_path)
    assert code == 0
    code, big_mb, text = peak_rss_mb(["check", str(big), "--dry-run"], env, tmp_path)
    assert code == 0, text
    assert "1,000,000" in text and "5,000" in text  # inputs, to send
    # The file is ~140 MB; its rows as Python lists would be ~350 MB more.
    assert big.stat().st_size > 130e6
    assert big_mb - base_mb < 150, (base_mb, big_mb)
