"""`make serve`'s pieces without a browser: the generated nginx config, the readiness answers, the image's command."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import IN_CI, ROOT

sys.path.insert(0, str(ROOT / "deploy"))
import serve  # noqa: E402  (deploy/serve.py, the launcher)


def test_generated_nginx_config_is_valid(tmp_path):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        if IN_CI:
            pytest.fail("nginx is not installed; .ci/run must apt-get install nginx")
        pytest.skip("nginx is not installed")
    conf = tmp_path / "nginx.conf"
    conf.write_text(serve.render_nginx_conf([50001, 50002], "127.0.0.1", 50000, tmp_path))
    assert not re.search(r"@[A-Z_]+@", conf.read_text())  # every template field was filled
    done = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(conf), "-e", "stderr"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert conf.read_text().count("server 127.0.0.1:50002") == 2  # in the sticky pool and the health pool


def test_healthz_is_503_until_the_model_is_loaded():
    """Run in a child: importing the module builds an st.App, which sets process-wide Streamlit config."""
    code = """
import asyncio, json, sys
sys.path.insert(0, "deploy")
import app_process as a
out = []
def ask():
    r = asyncio.run(a.healthz(None))
    out.append([r.status_code, r.body.decode()])
ask()
a.READY["error"] = "OSError"; ask()
a.READY.update(model="pocket-lm", error=None); ask()
print(json.dumps(out))
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    loading, failed, ready = json.loads(done.stdout.strip().splitlines()[-1])
    assert loading == [503, "loading the model\n"]
    assert failed == [503, "model failed to load: OSError\n"]
    assert ready == [200, "ok: pocket-lm loaded\n"]


def test_the_image_runs_make_serve_which_runs_the_launcher():
    cmd = [line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("CMD")]
    assert cmd == ['CMD ["make", "serve"]']
    dry = subprocess.run(["make", "--no-print-directory", "-n", "-o", ".venv/.ready", "serve", "PROCESSES=3"], cwd=ROOT,
                         capture_output=True, text=True)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.strip().splitlines()[-1].split()[2:] == ["deploy/serve.py", "--processes", "3"]


@pytest.mark.parametrize("env", [{"PROCESSES": "abc"}, {"PROCESSES": "0"}, {"PORT": "http"}])
def test_bad_settings_get_one_line_not_a_traceback(env):
    done = subprocess.run([sys.executable, "deploy/serve.py"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", **env})
    assert done.returncode == 2
    assert "Traceback" not in done.stderr and done.stderr.strip().splitlines()[-1].startswith("serve.py: error:")
