"""The anchor server: bare aiohttp with a websocket echo (/ws) and a static page (/page), run as its own process.

    python -m bench.anchor --port P [--page-bytes N]
"""
from __future__ import annotations

import argparse

from aiohttp import WSMsgType, web


async def echo(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        if msg.type is WSMsgType.TEXT:
            await ws.send_str(msg.data)
    return ws


def html_of_size(size: int) -> str:
    filler = ("<p>" + "x" * 76 + "</p>\n") * (size // 84 + 1)
    return ("<!doctype html><html><body>\n" + filler)[:max(size - 15, 0)] + "</body></html>\n"


def make_app(page_bytes: int) -> web.Application:
    pages: dict[int, str] = {}

    async def static_page(request: web.Request) -> web.Response:
        """A page made once per size (?bytes=N, at most 10 MB; default --page-bytes), then served as is."""
        try:
            size = min(int(request.query.get("bytes", page_bytes)), 10**7)
        except ValueError:
            raise web.HTTPBadRequest(text="bytes must be a whole number")
        if size not in pages:
            pages[size] = html_of_size(size)
        return web.Response(text=pages[size], content_type="text/html")

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_routes([web.get("/ws", echo), web.get("/page", static_page), web.get("/healthz", healthz)])
    return app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.anchor", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--page-bytes", type=int, default=0, help="size of the page at /page")
    args = parser.parse_args()
    web.run_app(make_app(args.page_bytes), host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
