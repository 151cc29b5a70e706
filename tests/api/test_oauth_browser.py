"""End to end: a citizen logs in and consents in headless Chromium against a real server.

On the way, the pages are checked as a person using a keyboard or a screen reader meets them
(RGAA 4.1 / WCAG 2.1 AA): axe-core finds no violation on the login page, the login page after
a wrong password, the consent page and an error page; the keyboard focus ring has a measured
contrast of 3:1 at least with what surrounds it; the language link changes the page's
``lang``; a wrong password is announced (role=alert, the title) and the NIR is kept.

Then the partner redeems the code with Authlib's client and reads ``/v1/me``; the server's
log holds none of the secrets that crossed it. Skipped only outside CI when Chromium is
absent (``.ci/system-packages`` installs it in CI).
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlencode

import asyncpg
import httpx
from authlib.integrations.httpx_client import OAuth2Client

from cpa.db.pool import _init_connection
from cpa.persons import NirVault
from tests.auth import support
from tests.support.browser import axe_report, axe_violations, contrast, focus_ring, needs_chromium
from tests.support.browser import browser as open_browser
from tests.support.processes import cpa_env, free_port, start_server, wait_ready

pytestmark = needs_chromium

FOCUS_CONTRAST_MIN = 3.0
"""WCAG 1.4.11 (non-text contrast) for the focus indicator of 2.4.7; RGAA 10.7."""


class _Callback(BaseHTTPRequestHandler):
    received: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        _Callback.received.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(b"<p id='done'>back at the partner</p>")

    def log_message(self, *args: Any) -> None:
        """Quiet."""


async def _prepare(dsn: str, vault: NirVault, redirect_uri: str) -> tuple[dict[str, Any], str]:
    db = await asyncpg.connect(dsn)
    await _init_connection(db)
    try:
        creds = await support.client(db, "portal", redirect_uris=[redirect_uri])
        _, nir_value = await support.person(db, vault)
    finally:
        await db.close()
    return creds, nir_value


def _accessible(browser: Any, page: str) -> None:
    violations = axe_violations(browser)
    assert violations == [], f"{page}: {axe_report(violations)}"


def _focus_visible(browser: Any, button: Any) -> None:
    """The button reached with the keyboard shows a ring that contrasts 3:1 at least with what
    surrounds it, drawn outside the button (not on its own dark-blue border)."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    browser.execute_script("arguments[0].previousElementSibling.focus()", button)
    ActionChains(browser).send_keys(Keys.TAB).perform()  # a keyboard user's way in
    assert browser.switch_to.active_element == button
    ring = focus_ring(browser, button)
    assert ring["style"] != "none" and ring["width"] >= 2 and ring["offset"] > 0, ring
    assert contrast(ring["outline"], ring["around"]) >= FOCUS_CONTRAST_MIN, ring


def _switch_language(browser: Any) -> None:
    """The language link says which language it leads to, and the page then speaks it."""
    from selenium.webdriver.common.by import By

    link = browser.find_element(By.CSS_SELECTOR, "a.lang")
    assert (link.get_attribute("lang"), link.get_attribute("hreflang")) == ("en", "en")
    link.click()
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    assert browser.find_element(By.ID, "nir").get_attribute("aria-describedby") == "nir-hint"
    back = browser.find_element(By.CSS_SELECTOR, "a.lang")
    assert (back.get_attribute("lang"), back.get_attribute("hreflang")) == ("fr", "fr")
    back.click()
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "fr"


def _wrong_password(browser: Any, nir_value: str) -> None:
    """Announced (role=alert, the title starts with "Erreur"), focus on the first field, the
    fields invalid and described by the error, the NIR kept as typed (spaces accepted)."""
    from selenium.webdriver.common.by import By

    typed = " ".join((nir_value[:1], nir_value[1:3], nir_value[3:5], nir_value[5:]))
    browser.find_element(By.ID, "nir").send_keys(typed)
    _focus_visible(browser, browser.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    browser.find_element(By.ID, "password").send_keys("not-the-password")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    alert = browser.find_element(By.CSS_SELECTOR, "[role=alert]")
    assert alert.text.startswith("Numéro ou mot de passe incorrect.")
    assert browser.title.startswith("Erreur : ")
    nir = browser.find_element(By.ID, "nir")
    assert browser.switch_to.active_element == nir
    assert nir.get_attribute("value") == typed
    for field in (nir, browser.find_element(By.ID, "password")):
        assert field.get_attribute("aria-invalid") == "true"
        assert alert.get_attribute("id") in field.get_attribute("aria-describedby").split()
    _accessible(browser, "login after a wrong password")


def test_login_and_consent_in_chromium(fresh_dsn: str, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    data_dir = tmp_path / "data"
    vault = NirVault.from_key_file(data_dir / "nir.key")
    callback = HTTPServer(("127.0.0.1", 0), _Callback)
    threading.Thread(target=callback.serve_forever, daemon=True).start()
    redirect_uri = f"http://127.0.0.1:{callback.server_port}/callback"
    creds, nir_value = asyncio.run(_prepare(fresh_dsn, vault, redirect_uri))
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "server.log"
    server = start_server(
        cpa_env(database_url=fresh_dsn, port=str(port), data_dir=str(data_dir)),
        log_path,
        demo=False,  # the test registers its own client and person
    )
    browser = None
    try:
        wait_ready(base_url)
        verifier, challenge = support.pkce()
        query = urlencode(
            {
                "response_type": "code",
                "client_id": creds["client_id"],
                "redirect_uri": redirect_uri,
                "scope": "account:read cpf:read",
                "state": "s-123",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            }
        )
        browser = open_browser(tmp_path / "profile")
        browser.set_page_load_timeout(30)
        # Each click navigates: wait for the next page's elements (a loaded machine is slow).
        browser.implicitly_wait(20)
        browser.get(f"{base_url}/oauth/authorize?{query}")
        assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "fr"
        _accessible(browser, "login")
        _switch_language(browser)
        _wrong_password(browser, nir_value)
        browser.find_element(By.ID, "password").send_keys(support.PASSWORD)
        browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        accept = browser.find_element(By.CSS_SELECTOR, "button[value=accept]")
        assert "voir vos droits à la formation (CPF), en euros" in browser.page_source
        assert "Pour votre sécurité, décidez avant" in browser.page_source
        _accessible(browser, "consent")
        _focus_visible(browser, accept)
        accept.click()
        browser.find_element(By.ID, "done")
        params = support.query_of(next(p for p in _Callback.received if p.startswith("/callback")))
        assert "code" in params, _Callback.received
        assert params["state"] == "s-123" and params["iss"] == base_url
        with OAuth2Client(
            creds["client_id"], creds["client_secret"], redirect_uri=redirect_uri
        ) as oauth:
            token = oauth.fetch_token(
                f"{base_url}/oauth/token", code=params["code"], code_verifier=verifier
            )
        me = httpx.get(
            f"{base_url}/v1/me", headers={"Authorization": f"Bearer {token['access_token']}"}
        )
        assert me.status_code == 200 and me.json()["client_id"] == creds["client_id"]
        browser.get(f"{base_url}/oauth/authorize?{query}&scope=no-such-scope")
        assert browser.title.startswith("Erreur : ")
        assert browser.find_element(By.CSS_SELECTOR, "code[lang=en]").text
        _accessible(browser, "error")
        # The check can fail: an image without a text alternative is found.
        browser.execute_script("document.body.insertAdjacentHTML('beforeend', '<img src=x>')")
        assert "image-alt" in {v["id"] for v in axe_violations(browser)}
    finally:
        if browser is not None:
            browser.quit()
        callback.shutdown()
        os.killpg(server.pid, signal.SIGINT)
        server.wait(30)
    logged = log_path.read_text()
    assert '"route":"/oauth/token"' in logged
    for secret in (
        creds["client_secret"],
        nir_value,
        support.PASSWORD,
        params["code"],
        token["access_token"],
    ):
        assert secret not in logged
