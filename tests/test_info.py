"""`python -m fastnn info` and fn.info(): version, build options, BLAS, its kernel, threads."""

import subprocess
import sys

import pytest

import fastnn as fn


def test_info_reports_build_and_blas():
    info = fn.info()
    assert info["version"] == fn.__version__
    assert "OpenBLAS" in info["blas"] and info["blas_core"]
    assert info["threads"] == fn.get_num_threads() >= 1
    assert isinstance(info["cuda"], bool) and isinstance(info["native"], bool)
    assert info["cuda"] or not fn.cuda.is_available()  # a usable GPU needs the CUDA build


def test_set_num_threads_resizes_the_pool_and_openblas_stays_single_threaded():
    """OpenBLAS runs inside the pool's threads, one each: its own threads would compete."""
    before = fn.get_num_threads()
    try:
        for n in (1, 3):
            fn.set_num_threads(n)
            assert fn.get_num_threads() == n and fn.info()["blas_threads"] == 1
    finally:
        fn.set_num_threads(before)
    assert fn.get_num_threads() == before


def test_main_info_runs():
    out = subprocess.run([sys.executable, "-m", "fastnn", "info"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert "fastnn" in out.stdout and "BLAS kernel" in out.stdout


def test_default_thread_count_follows_the_cpu_affinity():
    """A process pinned to one core (taskset, a container's cpuset) gets one thread, not one
    per machine core: polling workers beyond the allowed cores would starve the working one."""
    import os
    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("no CPU affinity on this platform")
    code = ("import os; os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]}); "
            "import fastnn; print(fastnn.get_num_threads())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "1"
