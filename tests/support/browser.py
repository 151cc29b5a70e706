"""Headless Chromium for the tests of the pages a person sees (Debian's chromium and
chromium-driver, installed by .ci/system-packages): no browser download."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
OFFLINE_FLAGS = ("--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",)
"""No name resolves: the browser reaches 127.0.0.1 and nothing else (the network cut)."""

needs_chromium = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (CHROMIUM and CHROMEDRIVER) and not os.environ.get("CI"),
        reason="chromium and chromium-driver are not installed (.ci/system-packages installs them)",
    ),
]


def browser(profile: Path, *flags: str, language: str = "fr-FR") -> Any:
    """A headless Chromium with its own profile, speaking ``language`` first."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM or "/usr/bin/chromium"
    for flag in (*CHROMIUM_FLAGS, *flags):
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--lang={language}")
    short = language.split("-")[0]
    options.add_experimental_option("prefs", {"intl.accept_languages": f"{language},{short}"})
    return webdriver.Chrome(
        options=options, service=Service(CHROMEDRIVER or "/usr/bin/chromedriver")
    )
