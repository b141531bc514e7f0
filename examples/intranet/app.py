"""hothat inside an intranet: a small Starlette app that runs the engine and takes its webhooks.

One process, one event loop: the app's lifespan starts the engine (which resumes every open incident from its
store and starts its scheduler task in the same loop) and stops it on shutdown. The routes:

- ``POST /hothat/hooks/sms/...`` and ``/hothat/hooks/voice/...``: provider callbacks (replies, keypresses, delivery
  reports), handed unchanged to ``engine.inbound``; the channel verifies them and says what to answer. A refused
  callback (``InboundError``) is answered 403.
- ``GET /hothat/link?t=...``: the page an e-mail's "Jag tar det" / "Jag kan inte" link opens. It only shows a
  confirmation form: mail security scanners open every link in a message, and a GET that acted would let a
  scanner take the step. ``POST /hothat/link`` acts.
- ``GET /hothat/health``: for monitoring: 200 while all is well, 503 while the store refuses writes.

Run it (with the municipality file's channels set to real providers, and the secrets in the environment)::

    export HOTHAT_CONFIG=municipality.toml
    uvicorn --factory app:from_environment --proxy-headers --forwarded-allow-ips=10.0.0.1

Behind a reverse proxy, ``request.url`` must be the public URL the provider called (Twilio signs it): let the
server trust the proxy's ``X-Forwarded-*`` headers, as ``--proxy-headers`` does.
"""

from __future__ import annotations

import contextlib
import html
import logging
import os
from collections.abc import AsyncIterator
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from hothat import Engine, HothatError, InboundError, TokenError, UnknownChannelError

__all__ = ["create_app", "from_environment"]

log = logging.getLogger("intranet")

PAGE = """<!doctype html>
<html lang="sv"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<meta name="referrer" content="no-referrer"><title>{title}</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 36rem; margin: 3rem auto; padding: 0 1rem">
<h1>{title}</h1>{body}</body></html>"""

TOKEN_PROBLEMS = {
    "expired": "Länken har gått ut. Svara på sms:et eller ring säkerhetsfunktionen.",
    "used": "Länken är redan använd.",
}


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    """A small HTML page; links carry tokens, so nothing on it may leak them (no referrer, no outside assets)."""
    headers = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
    return HTMLResponse(PAGE.format(title=html.escape(title), body=body), status_code=status, headers=headers)


def create_app(engine: Engine, *, prefix: str = "/hothat") -> Starlette:
    """The app around ``engine``: its lifespan runs the engine, its routes take the engine's webhooks."""

    # --8<-- [start:lifespan]
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with engine:  # resumes open incidents, starts the scheduler task in this event loop
            yield
        # leaving the block: deliveries in flight finish, channels and the store are closed

    # --8<-- [end:lifespan]

    # --8<-- [start:webhook]
    async def webhook(request: Request) -> Response:
        channel = request.path_params["channel"]
        body = await request.body()
        try:
            result = await engine.inbound(channel, request.method, str(request.url), dict(request.headers), body)
        except InboundError:
            return Response(status_code=403)  # forged, unsigned or replayed: keep nothing
        except UnknownChannelError:
            return Response(status_code=404)
        except HothatError:
            log.exception("callback for channel %s failed", channel)
            return Response(status_code=503)  # our failure: the provider tries again later
        return Response(result.body, status_code=result.status, headers=dict(result.headers))

    # --8<-- [end:webhook]

    # --8<-- [start:link]
    async def link(request: Request) -> Response:
        if request.method == "GET":
            token = html.escape(request.query_params.get("t", ""), quote=True)
            confirm = (
                f'<form method="post" action="{prefix}/link"><input type="hidden" name="t" value="{token}">'
                '<p>Bekräfta ditt svar på ärendet.</p><button type="submit">Bekräfta</button></form>'
            )
            return page("Bekräfta", confirm)
        form = parse_qs((await request.body()).decode("utf-8", "replace"))  # one field: no multipart parser needed
        token = form.get("t", [""])[0]
        try:
            outcome = await engine.follow_link(token)
        except TokenError as exc:
            text = TOKEN_PROBLEMS.get(exc.reason, "Länken gäller inte.")
            return page("Länken gäller inte", f"<p>{text}</p>", status=403)
        if outcome == "acknowledged":
            return page("Tack", "<p>Du har tagit steget. De andra som tillfrågades får veta det.</p>")
        return page("Tack", "<p>Vi frågar nästa person.</p>")

    # --8<-- [end:link]

    async def health(request: Request) -> Response:
        # A backlog means the store is refusing writes: deliveries and their outcomes are waiting.
        return JSONResponse({"backlog": engine.backlog}, status_code=200 if engine.backlog == 0 else 503)

    return Starlette(
        routes=[
            Route(prefix + "/hooks/{channel:str}/{rest:path}", webhook, methods=["GET", "POST"]),
            Route(prefix + "/link", link, methods=["GET", "POST"]),
            Route(prefix + "/health", health),
        ],
        lifespan=lifespan,
    )


def from_environment() -> Starlette:
    """The app for the municipality file named by ``HOTHAT_CONFIG``: ``uvicorn --factory app:from_environment``."""
    return create_app(Engine.from_config(os.environ.get("HOTHAT_CONFIG", "municipality.toml")))
