"""The web console (console/, a single-page app) served at /console, same origin
as the API it calls: its built files from `console_dir`, and `index.html` for
every other path under /console so a deep link (/console/payouts/{id}) opens
the app, which routes it in the browser."""

from pathlib import Path

from litestar import Response, get
from litestar.exceptions import NotFoundException
from litestar.response import File
from litestar.static_files import create_static_files_router

PREFIX = "/console"
ASSETS = "assets"
# Everything the app loads comes from this origin: no CDN, no inline script.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
HEADERS = {"Content-Security-Policy": CONTENT_SECURITY_POLICY}


class ConsoleNotBuilt(NotFoundException):
    """The build output is missing: `./callastar` builds it at set-up."""


def route_handlers(console_dir: Path) -> list:
    index = console_dir / "index.html"

    @get([PREFIX, f"{PREFIX}/{{deep_link:path}}"], include_in_schema=False, cache_control=None)
    async def app_shell() -> Response:
        if not index.is_file():
            raise ConsoleNotBuilt(f"the console is not built ({index} is missing): run ./callastar up once")
        # Revalidated each time: a new build's asset names must reach the browser.
        return File(index, media_type="text/html; charset=utf-8", content_disposition_type="inline",
                    headers={**HEADERS, "Cache-Control": "no-cache"})

    assets = create_static_files_router(f"{PREFIX}/{ASSETS}", directories=[console_dir / ASSETS],
                                        include_in_schema=False, name="console-assets")
    return [assets, app_shell]
