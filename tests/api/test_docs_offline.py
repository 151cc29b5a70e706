"""``/docs`` renders with the network cut: Swagger UI's files are served by cpa itself."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.browser import OFFLINE_FLAGS, browser, needs_chromium
from tests.support.processes import serving

pytestmark = needs_chromium

TITLE = "cpa — Compte Personnel d'Activité API"


def test_the_docs_page_names_only_cpa_s_own_files(fresh_dsn: str, tmp_path: Path) -> None:
    with serving(fresh_dsn, tmp_path) as base_url:
        page = httpx.get(f"{base_url}/docs", timeout=10)
        assert page.status_code == 200
        assert "cdn." not in page.text and "https://" not in page.text.split("<body>")[0]
        script = httpx.get(f"{base_url}/docs/assets/swagger-ui-bundle.js", timeout=10)
        assert script.status_code == 200 and "SwaggerUIBundle" in script.text


def test_the_docs_render_with_the_network_cut(fresh_dsn: str, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    with serving(fresh_dsn, tmp_path) as base_url:
        offline = browser(tmp_path / "profile", *OFFLINE_FLAGS, language="en-GB")
        try:
            offline.set_page_load_timeout(30)
            offline.implicitly_wait(20)
            offline.get(f"{base_url}/docs")
            title = offline.find_element(By.CSS_SELECTOR, ".swagger-ui .info .title")
            assert TITLE in title.text
            operations = offline.find_elements(By.CSS_SELECTOR, ".opblock-summary")
            assert len(operations) > 20  # every route listed, rendered by the served bundle
            loaded = offline.execute_script(
                "return performance.getEntriesByType('resource').map(e => e.name)"
            )
            assert loaded and all(url.startswith(base_url) for url in loaded), loaded
        finally:
            offline.quit()
