"""Make sure Debian's chromium is present for the browser test; install it when missing.

Prints one line. Never fails the build: without chromium the browser test skips
and says why.
"""

import os
import shutil
import subprocess
import sys

# The package's real binary: tests/test_browser.py launches it directly, because the
# /usr/bin/chromium wrapper script misbehaves under playwright.
BINARY = "/usr/lib/chromium/chromium"


def found() -> str | None:
    return BINARY if os.access(BINARY, os.X_OK) else None


def version(binary: str) -> str:
    """``Chromium 150.0…`` when the binary starts, else why not (a half-installed package)."""
    try:
        result = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"does not start ({err})"
    return result.stdout.strip() or f"does not start: {result.stderr.strip()[:200]}"


def main() -> int:
    if found():
        print(f"chromium: {found()} ({version(found())})")
        return 0
    if shutil.which("apt-get") is None:
        print("chromium: not installed and no apt-get here; the browser test will skip")
        return 0
    sudo = [] if os.geteuid() == 0 else (["sudo", "-n"] if shutil.which("sudo") else None)
    if sudo is None:
        print("chromium: not installed and not root; the browser test will skip")
        return 0
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        result = subprocess.run(sudo + cmd, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            print(f"chromium: `{' '.join(cmd)}` failed; the browser test will skip")
            return 0
    if not found():
        print(f"chromium: installed, but {BINARY} is missing; the browser test will skip")
        return 0
    print(f"chromium: installed at {found()} ({version(found())})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
