"""The operator UI (`smbos ui`) and the operations it shares with the CLI.

`smbos.web.ops` has no web dependency; `smbos.web.app.create_app` builds the ASGI app and
`smbos.web.server.serve` runs it with uvicorn.
"""
