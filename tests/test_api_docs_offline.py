"""/docs and /redoc work on a machine without internet access: the pages load Swagger UI and ReDoc
from this package (never a CDN, Google Fonts or Swagger's online validator), and the asset URLs
they name are served with the shipped files' exact bytes."""

import hashlib
import re
from pathlib import Path

import pytest
from test_api_harness import make_api

from tuneforge.api.docs import ASSETS_DIR

#: The shipped release files and their checksums (tuneforge/api/docs_assets/README.md).
SHIPPED = {
    "swagger-ui-bundle.js": "e6a898692f2d768e807c3ba4626068a69a2c5dd960dd6c76f3e4d3a3de180af2",
    "swagger-ui.css": "5ed08757e53da3e026d6cbecc61fe5d43585c9560b302d534ad56692519a273d",
    "redoc.standalone.js": "dcaf76612bc4a3fbcc923a8966dee2f6146a5f32e5ce1b6f02dd60cbbf89500b",
}
_REFERENCE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|(?:url|spec-url)\s*:\s*["']([^"']+)["']""")


def test_the_shipped_assets_are_the_release_files_with_their_licences() -> None:
    for name, digest in SHIPPED.items():
        assert hashlib.sha256((ASSETS_DIR / name).read_bytes()).hexdigest() == digest, name
    for licence in ("LICENSE.swagger-ui", "NOTICE.swagger-ui", "LICENSE.redoc"):
        assert (ASSETS_DIR / licence).stat().st_size > 0


@pytest.mark.parametrize(("page", "assets"), [
    ("/docs", {"/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css", "/docs/assets/favicon-32x32.png"}),
    ("/redoc", {"/docs/assets/redoc.standalone.js", "/docs/assets/favicon-32x32.png"}),
])
async def test_docs_pages_reference_only_this_server(tmp_path: Path, page: str, assets: set[str]) -> None:
    async with make_api(tmp_path) as api:
        r = await api.client.get(page)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        html = r.text
        assert "cdn.jsdelivr.net" not in html and "fonts.googleapis.com" not in html
        assert '"validatorUrl": null' in html or page == "/redoc"
        referenced = {a or b for a, b in _REFERENCE.findall(html)} | set(re.findall(r'spec-url="([^"]+)"', html))
        assert assets | {"/openapi.json"} <= referenced, referenced
        assert all(ref.startswith("/") and not ref.startswith("//") for ref in referenced), referenced
        for ref in sorted(referenced):
            served = await api.client.get(ref)
            assert served.status_code == 200, ref
            if ref.startswith("/docs/assets/"):
                assert served.content == (ASSETS_DIR / ref.rsplit("/", 1)[1]).read_bytes()


async def test_asset_types_and_no_directory_listing(tmp_path: Path) -> None:
    async with make_api(tmp_path) as api:
        js = await api.client.get("/docs/assets/swagger-ui-bundle.js")
        css = await api.client.get("/docs/assets/swagger-ui.css")
        assert "javascript" in js.headers["content-type"] and css.headers["content-type"].startswith("text/css")
        assert js.headers.get("etag") and "X-RateLimit-Limit" in js.headers
        for path in ("/docs/assets/", "/docs/assets/../docs.py", "/docs/assets/%2e%2e/docs.py"):
            r = await api.client.get(path)
            assert r.status_code == 404, (path, r.status_code)
            assert r.json() == {"detail": "Not Found"}
