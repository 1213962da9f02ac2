"""The operator UI (`smbos ui`): Starlette app, pages, JSON API and proxy.

It calls `smbos.operations` (shared with the CLI), the controller and the runtime client;
`smbos.web.app.create_app` builds the ASGI app and `smbos.web.server.serve` runs it with uvicorn.
"""
