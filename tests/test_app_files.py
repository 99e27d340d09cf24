"""Issue 27 item 6: brainscan.log (and its rotated copies) and settings.ini are 0600 like their 0700 folder, and
highdicom's INFO lines stay out of brainscan.log. In a fresh process: configure_logging changes the root logger."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")

CODE = r"""
import json, logging, os, stat
from brainscan.app import configure_logging
from brainscan.config import user_home
from brainscan.ui.settings import app_settings

home = user_home()
old = home / "brainscan.log"
old.write_text("from an older BrainScan\n")
os.chmod(old, 0o644)
log_file = configure_logging()
logging.getLogger("highdicom.seg.sop").info("Frame positions are not regularly spaced.")
logging.getLogger("highdicom").warning("a highdicom warning")
logging.getLogger("brainscan.test").info("a BrainScan line")
settings = app_settings()
settings.setValue("recent", ["/data/study"])
settings.sync()
handler = next(h for h in logging.getLogger().handlers if hasattr(h, "doRollover"))
handler.doRollover()
logging.getLogger("brainscan.test").info("after the rollover")
for h in logging.getLogger().handlers:
    h.flush()
mode = lambda p: oct(stat.S_IMODE(os.stat(p).st_mode))
print(json.dumps({
    "log": mode(log_file), "rotated": mode(str(log_file) + ".1"), "settings": mode(home / "settings.ini"),
    "text": (home / "brainscan.log.1").read_text(),
}))
"""


def test_log_and_settings_are_private_and_highdicom_info_stays_out(tmp_path):
    env = dict(os.environ, BRAINSCAN_HOME=str(tmp_path), QT_QPA_PLATFORM="offscreen")
    done = subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert (out["log"], out["rotated"], out["settings"]) == ("0o600", "0o600", "0o600")
    assert "a BrainScan line" in out["text"] and "a highdicom warning" in out["text"]
    assert "not regularly spaced" not in out["text"]
