"""The interactive API reference, served from this package: Swagger UI at ``/docs``, ReDoc at ``/redoc``.

FastAPI's built-in pages load Swagger UI and ReDoc from a CDN (and ReDoc its fonts from Google), so
on a validator without internet access ``/docs`` stays blank. :func:`install_docs` serves both
pages with the release files shipped in ``tuneforge/api/docs_assets`` (see its README for versions,
licences and checksums) under ``/docs/assets/``, with Swagger UI's online spec validator turned off:
the pages reach nothing but this API. Call it on an app created with ``docs_url=None,
redoc_url=None``.
"""

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["ASSETS_DIR", "ASSETS_PATH", "install_docs"]

ASSETS_DIR = Path(__file__).resolve().parent / "docs_assets"
ASSETS_PATH = "/docs/assets"


def install_docs(app: FastAPI, *, docs_path: str = "/docs", redoc_path: str = "/redoc") -> None:
    """Add the Swagger UI and ReDoc pages and their assets to ``app`` (paths relative to the server's
    ``root_path``, so they stay right behind a proxy that mounts the API under a prefix)."""
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS_DIR), name="docs-assets")
    favicon = f"{ASSETS_PATH}/favicon-32x32.png"

    @app.get(docs_path, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css", swagger_favicon_url=f"{root}{favicon}",
            swagger_ui_parameters={"validatorUrl": None},  # no badge fetched from validator.swagger.io
        )

    @app.get(redoc_path, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_redoc_html(
            openapi_url=f"{root}{app.openapi_url}", title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_PATH}/redoc.standalone.js", redoc_favicon_url=f"{root}{favicon}",
            with_google_fonts=False,
        )
