"""The public edge of the load generator: what a client reaches before any route runs.

protocol (the socket-level deadlines and caps under uvicorn), admission (who gets a slot), guard (the ASGI
middleware: ports, hosts, tokens, body limits), feed (the live websocket fan-out) and views (the public
GETs built once per tick for every viewer). Everything below the edge trusts what passes it.
"""
