"""Loopback-only ZMQ XSUB/XPUB proxy for Dynamo's event plane.

Why: in Dynamo 1.6.1's direct ZMQ mode every publisher binds tcp://0.0.0.0
(only the advertised address follows DYN_EVENT_PLANE_HOST). In broker mode
(DYN_ZMQ_BROKER_URL) publishers and subscribers *connect* to a broker instead,
so running this tiny proxy on 127.0.0.1 keeps every socket on loopback.

    python -m rehearsal.event_broker --xsub-port 19100 --xpub-port 19101
"""

from __future__ import annotations

import argparse

import zmq

from rehearsal.settings import HOST


def broker_url(xsub_port: int, xpub_port: int, host: str = HOST) -> str:
    """Value for DYN_ZMQ_BROKER_URL (Dynamo's 'xsub=<urls> , xpub=<urls>' format)."""
    return f"xsub=tcp://{host}:{xsub_port} , xpub=tcp://{host}:{xpub_port}"


def serve(xsub_port: int, xpub_port: int, host: str = HOST) -> None:
    context = zmq.Context()
    frontend = context.socket(zmq.XSUB)  # publishers connect here
    frontend.bind(f"tcp://{host}:{xsub_port}")
    backend = context.socket(zmq.XPUB)  # subscribers connect here
    backend.bind(f"tcp://{host}:{xpub_port}")
    zmq.proxy(frontend, backend)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--xsub-port", type=int, required=True)
    parser.add_argument("--xpub-port", type=int, required=True)
    args = parser.parse_args()
    try:
        serve(args.xsub_port, args.xpub_port)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
