"""End to end: a newcomer clicks through the demo partner page in headless Chromium, against a
real ``cpa serve`` in demo mode (the demo set loaded by its own loader), and sees the account
the partner obtained; then refuses, and sees the OAuth error."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import httpx

from cpa.demo import DEMO_PERSONS
from cpa.demo.auth import demo_password
from tests.support.browser import axe_report, axe_violations, needs_chromium
from tests.support.browser import browser as open_browser
from tests.support.processes import cpa_env, free_port, start_server, wait_ready

pytestmark = needs_chromium

SERVER_STOP_TIMEOUT_S = 30


def _log_in_and_decide(browser: Any, base_url: str, decision: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{base_url}/demo/")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "fr"
    violations = axe_violations(browser)
    assert violations == [], axe_report(violations)
    browser.find_element(By.LINK_TEXT, "Commencer le parcours").click()
    browser.find_element(By.ID, "nir").send_keys(DEMO_PERSONS[0].nir)
    browser.find_element(By.ID, "password").send_keys(demo_password(0))
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    browser.find_element(By.CSS_SELECTOR, f"button[value={decision}]").click()


def test_demo_partner_flow_in_chromium(tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    data_dir = tmp_path / "data"
    # Its own embedded PostgreSQL on a free port: `cpa serve` as a newcomer runs it.
    env = cpa_env(port=str(port), data_dir=str(data_dir), pg_port=str(free_port()))
    server = start_server(env, tmp_path / "server.log")
    browser = None
    try:
        wait_ready(base_url, timeout_s=180)
        assert not (data_dir / "demo-loading").exists(), "ready means the demo set is in"
        browser = open_browser(tmp_path / "profile")
        browser.set_page_load_timeout(30)
        browser.implicitly_wait(20)
        # Refused first (no consent yet), then accepted in a new browser session.
        _log_in_and_decide(browser, base_url, "refuse")
        refused = browser.find_element(By.ID, "oauth-error")
        assert "access_denied" in refused.text and "vous avez refusé" in refused.text
        assert browser.title.startswith("Erreur")
        assert axe_violations(browser) == []
        # Back from the authorization server a second time: the flow was used, it is refused.
        replayed = httpx.get(browser.current_url, timeout=10)
        assert replayed.status_code == 400
        browser.delete_all_cookies()
        _log_in_and_decide(browser, base_url, "accept")
        shown = browser.find_element(By.ID, "account").text
        assert "Compte personnel de formation (CPF), disponible" in shown
        account = json.loads(browser.find_element(By.ID, "account-json").text)
        assert {"as_of", "sub", "cpf", "cec", "c2p"} <= account.keys()
        assert browser.current_url.startswith(f"{base_url}/demo/callback?")
        assert browser.title.startswith("Compte obtenu")
        assert axe_violations(browser) == []
        # Again within the browser session: the consent is reused, no login, no consent page.
        browser.get(f"{base_url}/demo/")
        browser.find_element(By.LINK_TEXT, "Commencer le parcours").click()
        again = browser.find_element(By.ID, "account").text
        assert "Compte personnel de formation (CPF), disponible" in again
    finally:
        if browser is not None:
            browser.quit()
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(SERVER_STOP_TIMEOUT_S)
        except Exception:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    logged = (tmp_path / "server.log").read_text()
    assert '"event":"demo_flow_completed"' in logged
    events = [line for line in logged.splitlines() if line.startswith("{")]
    assert not [line for line in events if DEMO_PERSONS[0].nir in line]
    assert "Demo partner page" in logged  # the loader's announcement names the page
