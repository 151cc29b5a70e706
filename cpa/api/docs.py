"""The interactive API docs (``/docs``), served whole by cpa: Swagger UI 5's scripts, styles
and icon come from the ``swagger-ui-py`` package under ``/docs/assets``, never from a CDN, so
the docs work for a partner behind a firewall, in a sandbox without internet, and do not tell a
third party who reads them. (Swagger UI 5: the spec is OpenAPI 3.1, which 4.x cannot render.)
"""

from __future__ import annotations

from importlib.resources import files

from litestar import Router
from litestar.openapi.plugins import OpenAPIRenderPlugin, SwaggerRenderPlugin
from litestar.static_files import create_static_files_router

ASSETS_PATH = "/docs/assets"
SWAGGER_UI_FILES = files("swagger_ui") / "static"
"""The files of Swagger UI's distribution, as the package carries them (read, never imported)."""


def docs_render_plugins() -> list[OpenAPIRenderPlugin]:
    """Swagger UI at ``/docs``, loading only what ``docs_assets_router`` serves."""
    return [
        SwaggerRenderPlugin(
            path="/",
            js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            css_url=f"{ASSETS_PATH}/swagger-ui.css",
            standalone_preset_js_url=f"{ASSETS_PATH}/swagger-ui-standalone-preset.js",
            favicon=f'<link rel="icon" type="image/png" href="{ASSETS_PATH}/favicon-32x32.png">',
        )
    ]


def docs_assets_router() -> Router:
    """Swagger UI's files, cached by browsers for a day (they change with the package only)."""
    return create_static_files_router(
        path=ASSETS_PATH,
        directories=[str(SWAGGER_UI_FILES)],
        include_in_schema=False,
        cache_control=None,
        name="docs_assets",
    )
