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


WCAG_AA_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
"""The axe-core rules of WCAG 2.0 and 2.1, levels A and AA (RGAA 4.1's reference)."""


def axe_violations(driver: Any) -> list[dict[str, Any]]:
    """axe-core's violations of WCAG 2.1 A/AA on the page ``driver`` shows (the axe-core that
    selenium-axe-python bundles, injected into the page: nothing is downloaded)."""
    from selenium_axe_python import Axe

    Axe(driver).inject()
    options = {"runOnly": {"type": "tag", "values": WCAG_AA_TAGS}}
    results = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, arguments[0]).then(done, (e) => done({error: String(e)}));",
        options,
    )
    assert "error" not in results, results
    return list(results["violations"])


def axe_report(violations: list[dict[str, Any]]) -> str:
    return "; ".join(
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']]}" for v in violations
    )


_SURROUNDING_AND_RING = """
const element = arguments[0];
const ring = getComputedStyle(element);
const none = ['transparent', 'rgba(0, 0, 0, 0)'];
const clear = (e) => none.includes(getComputedStyle(e).backgroundColor);
let around = element.parentElement;
while (around && clear(around)) {
    around = around.parentElement;
}
return {
    outline: ring.outlineColor, style: ring.outlineStyle,
    width: parseFloat(ring.outlineWidth), offset: parseFloat(ring.outlineOffset),
    border: ring.borderTopColor, own: ring.backgroundColor,
    around: around ? getComputedStyle(around).backgroundColor : 'rgb(255, 255, 255)',
};
"""


def _luminance(css_rgb: str) -> float:
    """WCAG 2.1 relative luminance of ``rgb(r, g, b)`` / ``rgba(r, g, b, 1)``."""
    values = css_rgb[css_rgb.index("(") + 1 : css_rgb.index(")")].split(",")
    channels = [int(float(v)) / 255 for v in values[:3]]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(first: str, second: str) -> float:
    """WCAG 2.1 contrast ratio of two CSS colours."""
    light, dark = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def focus_ring(driver: Any, element: Any) -> dict[str, Any]:
    """The focused ``element``'s outline (colour, style, width, offset), its own border and
    background, and the background around it (its nearest ancestor's that is not
    transparent), as the browser computed them."""
    return dict(driver.execute_script(_SURROUNDING_AND_RING, element))
