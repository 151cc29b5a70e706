"""End to end: a citizen logs in and consents in headless Chromium against a real server.

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
from tests.support.browser import browser as open_browser
from tests.support.browser import needs_chromium
from tests.support.processes import cpa_env, free_port, start_server, wait_ready

pytestmark = needs_chromium


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
        cpa_env(database_url=fresh_dsn, port=str(port), data_dir=str(data_dir)), log_path
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
        browser.find_element(By.ID, "nir").send_keys(nir_value)
        browser.find_element(By.ID, "password").send_keys(support.PASSWORD)
        browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        accept = browser.find_element(By.CSS_SELECTOR, "button[value=accept]")
        assert "voir vos droits à la formation (CPF), en euros" in browser.page_source
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
