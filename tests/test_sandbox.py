"""Generated code runs behind a kernel boundary (jeval.tasks.sandbox) and cannot forge its verdict
(code_exec.py). Every attack row runs in the real bubblewrap sandbox: each program *passes only if
its attack worked*, so every row must score 0, and its side effects are checked on the host too."""

from __future__ import annotations

import os
import resource
import socket
import sys
import sysconfig
import textwrap
import time
from pathlib import Path

import pytest

from jeval.errors import JevalError
from jeval.tasks.jaster import metrics as m
from jeval.tasks.jaster.code_exec import Check, CodeExecConfig, run_batch, run_one
from jeval.tasks.sandbox import Limits, Sandbox, SandboxUnavailable, seccomp_filter

FAST = CodeExecConfig(timeout_s=1.0, workers=2)
MODULE = CodeExecConfig(timeout_s=1.0, workers=2, scope="module")
SECRET = "sekrit-7f3a"
CORRECT = "def add(a, b):\n    return a + b"
ADD_TESTS = ["assert add(1, 2) == 3", "assert add(2, 2) == 4"]


def _alive(marker: str) -> list[int]:
    """Host processes whose command line holds `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _fill(text: str, world: dict) -> str:
    for key, value in world.items():
        text = text.replace("{" + key + "}", str(value))
    return text


# One row per attack class: (name, program, tests, why it fails). A row's program passes only if
# its attack worked. The rows run with scope="module" so that their imports reach their functions.

ROWS = [
    ("secret from the scorer's environment", """
        import glob, os
        def leak():
            found = [os.environ.get("JEVAL_SANDBOX_SECRET", "")]
            for path in glob.glob("/proc/*/environ"):
                try:
                    found.append(open(path).read())
                except OSError:
                    pass
            return any("{secret}" in f for f in found)
        """, ["assert leak() == True"], "assertion false"),
    ("list /root", """
        import os
        def leak():
            return sorted(os.listdir("/root"))
        """, ["assert leak() == {root}"], "assertion false"),
    ("read a host file", """
        def leak():
            return open("{host_file}").read()
        """, ["assert leak() == '{secret}'"], "FileNotFoundError"),
    ("write outside through dir_fd", """
        import os
        def wrote():
            folder = os.open("{host_dir}", os.O_RDONLY)
            os.close(os.open("escaped.txt", os.O_WRONLY | os.O_CREAT, dir_fd=folder))
            return True
        """, ["assert wrote() == True"], "FileNotFoundError"),
    ("write into the interpreter and /usr", """
        import sys
        def wrote():
            open(sys.base_prefix + "/jeval-escaped", "w")
            open("/usr/jeval-escaped", "w")
            return True
        """, ["assert wrote() == True"], "OSError"),
    ("persist a .pth in site-packages", """
        import sysconfig
        def wrote():
            open(sysconfig.get_paths()["purelib"] + "/jeval_escape.pth", "w").write("import os")
            return True
        """, ["assert wrote() == True"], "OSError"),
    ("spawn: subprocess (_posixsubprocess.fork_exec), posix_spawn, fork, a thread", """
        import os, subprocess, threading
        def spawned():
            n = 0
            for attempt in (lambda: subprocess.run(["/usr/bin/true"]),
                            lambda: os.posix_spawn("/usr/bin/true", ["true"], {}),
                            lambda: os.fork() or 1, lambda: threading.Thread(target=print).start()):
                try:
                    attempt()
                    n += 1
                except (OSError, RuntimeError):
                    pass
            return n
        """, ["assert spawned() >= 1"], "assertion false"),
    ("raw syscalls through ctypes: fork, ptrace pid 1, a new user namespace, setns", """
        import ctypes, os, platform
        def escaped():
            libc = ctypes.CDLL(None, use_errno=True)
            pid = libc.syscall({"x86_64": 57, "aarch64": 220}[platform.machine()], 17, 0, 0, 0, 0)
            if pid == 0:
                os._exit(0)
            netns = os.open("/proc/1/ns/net", os.O_RDONLY)
            return [pid > 0, libc.ptrace(16, 1, 0, 0) == 0, libc.unshare(0x10000000) == 0,
                    libc.setns(netns, 0x40000000) == 0]
        """, ["assert True in escaped()"], "assertion false"),
    ("network: connect to the scorer's loopback listener", """
        import socket
        def reached():
            socket.create_connection(("127.0.0.1", {port}), timeout=1).sendall(b"leak")
            return True
        """, ["assert reached() == True"], "ConnectionRefusedError"),
    ("signal the scorer", """
        import os
        def signalled():
            os.kill({scorer}, 0)
            return True
        """, ["assert signalled() == True"], "ProcessLookupError"),
    ("forge: walk frames and gc for a nonce, write a report on the pipe, os._exit(0)", """
        import gc, json, os, stat, sys
        def add(a, b):
            return 0
        seen = set()
        frame = sys._getframe()
        while frame is not None:
            seen |= {repr(v) for v in {**frame.f_locals, **frame.f_globals}.values()}
            frame = frame.f_back
        jobs = [o["probes"] for o in gc.get_objects() if isinstance(o, dict)
                and isinstance(o.get("probes"), list) and all(isinstance(p, list) for p in o["probes"])]
        forged = {"tests": [{"values": [["bool", True] for _ in p]} for p in jobs[0]]}
        for fd in range(3, 40):
            try:
                if stat.S_ISFIFO(os.fstat(fd).st_mode):
                    os.write(fd, json.dumps(forged).encode())
            except OSError:
                pass
        os._exit(0)
        """, ADD_TESTS, "assertion false"),
    ("forge: an object whose __eq__ is always true", """
        class Yes:
            def __eq__(self, other):
                return True
            __hash__ = object.__hash__
        def add(a, b):
            return Yes()
        """, ADD_TESTS, "assertion false"),
    ("forge: an int subclass whose __eq__ is always true", """
        class Yes(int):
            def __eq__(self, other):
                return True
            __hash__ = int.__hash__
        def add(a, b):
            return Yes(0)
        """, ADD_TESTS, "assertion false"),
    ("forge: sys.exit(0) before the tests", "import sys\nsys.exit(0)", ADD_TESTS, "SystemExit"),
    ("forge: os._exit(0) before the tests", "import os\nos._exit(0)", ADD_TESTS, "unreadable report"),
    ("forge: override AssertionError, eval and isinstance in builtins", """
        import builtins
        class Yes:
            __eq__ = lambda self, other: True
        builtins.AssertionError = type("Nope", (Exception,), {})
        builtins.eval = lambda *args, **kwargs: Yes()
        builtins.isinstance = lambda *args: False
        def add(a, b):
            return 0
        """, ADD_TESTS, "assertion false"),
]


@pytest.fixture
def world(tmp_path, monkeypatch):
    """What the attacks aim at on the host: an environment secret, a secret file, a folder, a
    loopback listener, this process."""
    monkeypatch.setenv("JEVAL_SANDBOX_SECRET", SECRET)
    (tmp_path / "secret.txt").write_text(SECRET)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.settimeout(0.2)
    names = {"secret": SECRET, "host_file": tmp_path / "secret.txt", "host_dir": tmp_path,
             "port": listener.getsockname()[1], "scorer": os.getpid(), "root": sorted(os.listdir("/root")),
             "listener": listener}
    yield names
    listener.close()


def test_every_attack_scores_zero_and_a_correct_solution_scores_one(sandbox, world):
    items = [(_fill(textwrap.dedent(code), world), [_fill(t, world) for t in tests]) for _, code, tests, _ in ROWS]
    outcomes = run_batch([*items, (CORRECT, ADD_TESTS)], MODULE, sandbox)
    assert [o.passed for o in outcomes] == [False] * len(ROWS) + [True]
    assert [(name, why) for (name, _, _, why), o in zip(ROWS, outcomes) if why not in o.reason] == [], [
        o.reason for o in outcomes]
    host = world["host_dir"]
    assert sorted(p.name for p in host.iterdir()) == ["secret.txt"]
    assert not Path(sys.base_prefix, "jeval-escaped").exists() and not Path("/usr/jeval-escaped").exists()
    assert not Path(sysconfig.get_paths()["purelib"], "jeval_escape.pth").exists()
    with pytest.raises(TimeoutError):
        world["listener"].accept()


def test_flooding_every_channel_keeps_the_scorer_small_and_fast(sandbox):
    flood = ("import os\nchunk = b'x' * (1 << 20)\nfor fd in [1, 2] + list(range(3, 20)):\n    for _ in range(256):\n"
             "        try:\n            os.write(fd, chunk)\n        except OSError:\n            break\n"
             "def add(a, b):\n    return a + b")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    outcome = run_one(flood, ADD_TESTS, FAST, sandbox)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert not outcome.passed and outcome.reason == "output limit"
    assert grown_kib < 64 * 1024 and time.monotonic() - started < FAST.limits().wall_s


def _daemon(marker: str, then: str = "") -> str:
    """A program that hands its report pipe to a double-forked, setsid'd `sleep` and returns."""
    return ("def daemon():\n    import os, time\n    for fd in range(3, 10):\n        try:\n"
            "            os.set_inheritable(fd, True)\n        except OSError:\n            pass\n"
            "    if os.fork() == 0:\n        os.setsid()\n        if os.fork() == 0:\n"
            f"            os.execv('/usr/bin/sleep', ['sleep', '{marker}'])\n        os._exit(0)\n"
            f"    time.sleep(0.2)\n{then}    return 1")


def test_no_process_outlives_scoring_even_holding_the_pipe(sandbox):
    marker = f"61.{os.getpid()}{int(time.time())}"
    assert not run_one(_daemon(marker), ["assert daemon() == 1"], FAST, sandbox).passed  # processes=1: no fork
    many = CodeExecConfig(timeout_s=1.0, processes=8)
    started = time.monotonic()
    outcome = run_one(_daemon(marker), ["assert daemon() == 1"], many, sandbox)
    assert outcome.passed and time.monotonic() - started < 2.0, outcome
    assert _alive(marker) == []
    stretch = "    import signal, time\n    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n    time.sleep(60)\n"
    started = time.monotonic()
    outcome = run_one(_daemon(marker, stretch), ["assert daemon() == 1"], many, sandbox)
    elapsed = time.monotonic() - started
    assert outcome.reason == "timeout" and many.limits().wall_s <= elapsed < many.limits().wall_s + 1.5
    assert _alive(marker) == []


def test_the_assertion_is_decided_outside_and_expected_values_never_enter():
    cases = {
        "assert add(1, 2) == 3": ["add(1, 2)"],
        "assert set(f((3, 4, 5), (5, 7, 4))) == set((4, 5))": ["set(f((3, 4, 5), (5, 7, 4)))"],
        "assert math.isclose(v(10), 4188.79, rel_tol=0.001)": ["v(10)"],
        "assert f(2) == [-1, 2.5, 'x', None, {'k': (1,)}, 2 ** 10]": ["f(2)"],
        "assert not is_odd(2) and is_odd(3)": ["is_odd(2)", "is_odd(3)"],
        "assert x == 1": ["x"],
        "assert True": [],
    }
    for test, probes in cases.items():
        assert list(Check.parse(test).probes) == probes, test
    with pytest.raises(JevalError, match="one assert statement"):
        Check.parse("x = 1")


def test_plain_values_compare_as_python_does(sandbox):
    code = ("import collections\ndef f(x):\n    return collections.Counter('aab') if x else None\n"
            "def g(x):\n    return (1, 2) if x == 1 else True\ndef boom():\n    raise ValueError\n"
            "class Bad:\n    def __bool__(self):\n        return False\n")
    tests = ["assert f(1) == {'a': 2, 'b': 1}", "assert f(0) is None", "assert g(1) == (1, 2)", "assert g(0) == 1",
             "assert g(1) != [1, 2]", "assert g(0) or boom()", "assert not Bad()", "assert 1.0 == g(0)"]
    assert run_one(code, tests, MODULE, sandbox).passed
    assert not run_one(code, ["assert g(1) == (1, 2) and boom()"], MODULE, sandbox).passed


def test_without_bwrap_code_exec_refuses(monkeypatch, tmp_path):
    with pytest.raises(SandboxUnavailable, match="bubblewrap"):
        Sandbox.create(bwrap=str(tmp_path / "no-bwrap"))
    with pytest.raises(SandboxUnavailable, match="cannot start a sandbox"):
        Sandbox.create(bwrap="/bin/false")
    monkeypatch.setattr("shutil.which", lambda name, *a, **k: None)
    with pytest.raises(m.MetricUnavailable, match=r"only run in a sandbox.*bubblewrap"):
        m.CodeExec("code_exec", config=FAST).corpus([CORRECT], [repr(ADD_TESTS)])
    with pytest.raises(SandboxUnavailable):
        run_one(CORRECT, ADD_TESTS, FAST)


def test_the_record_names_the_sandbox_and_its_limits(sandbox):
    metric = m.CodeExec("code_exec", config=FAST)
    assert metric.record() == {}
    assert metric.corpus([CORRECT], [repr(ADD_TESTS)]) == 1.0
    record = metric.record()["sandbox"]
    assert record["tool"].startswith("bubblewrap") and record["network"] == "none" and record["uid"] == 65534
    assert record["limits"]["processes"] == 1 and record["limits"]["cpu_s"] == 1


def test_an_mbpp_result_carries_the_sandbox_or_the_reason_it_is_missing(sandbox, monkeypatch):
    from jeval.registry import load_registry

    task = load_registry().tasks["mbpp"]
    scores = [{"prediction": CORRECT, "reference": repr(ADD_TESTS), "source": "", "code_exec": None}]
    metrics = task.aggregate(scores)
    assert metrics["code_exec"] == 1.0 and metrics["sandbox"]["tool"].startswith("bubblewrap")
    missing = SandboxUnavailable("bwrap (bubblewrap) is not installed")
    monkeypatch.setitem(m.METRICS["code_exec"]._cache, "sandbox", missing)
    metrics = task.aggregate(scores)
    assert metrics["code_exec"] is None and "sandbox" not in metrics
    assert "bubblewrap) is not installed" in metrics["unavailable"]["code_exec"]


def test_limits_and_filter():
    with pytest.raises(ValueError):
        Limits(processes=0)
    with pytest.raises(SandboxUnavailable, match="no seccomp syscall table"):
        seccomp_filter(1, machine="mips")
    assert len(seccomp_filter(1, "x86_64")) > len(seccomp_filter(8, "x86_64"))
