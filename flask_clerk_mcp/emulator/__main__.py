"""``python -m flask_clerk_mcp.emulator``: run the emulator until SIGINT or SIGTERM.

Prints ``EMULATOR_READY <issuer>`` (flushed) once the socket is listening, so a parent process
(an integration test, the demo's Makefile) can start it with ``--port 0`` and read the port it
got. Signal handlers are installed before that line, so a parent that reads it and at once
sends SIGTERM still gets a clean exit.
"""

from __future__ import annotations

import argparse
import ipaddress
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from .config import TOKEN_FORMATS, EmulatorConfig, OAuthClient, default_clients
from .server import EmulatorServer

BANNER = (
    "Clerk emulator: for development and tests only. It is not an identity provider;"
    " never expose it to a network."
)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m flask_clerk_mcp.emulator",
        description="An offline stand-in for one Clerk instance's OAuth endpoints.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (default)")
    parser.add_argument("--issuer", default="", help="issuer URL if not http://HOST:PORT")
    parser.add_argument("--latency-ms", type=int, default=0, help="delay added to every call")
    parser.add_argument("--client-id", help="pre-registered client id (replaces the demo one)")
    parser.add_argument("--client-secret", help="its secret; omit for a public (PKCE) client")
    parser.add_argument("--client-name", default=None, help="name shown on the consent page")
    parser.add_argument(
        "--redirect-uri",
        action="append",
        default=[],
        help="allowed redirect URI of that client (repeatable)",
    )
    parser.add_argument("--no-dcr", action="store_true", help="disable dynamic client registration")
    parser.add_argument(
        "--no-consent",
        action="store_true",
        help="skip the consent page (only effective with --no-dcr, as on Clerk)",
    )
    parser.add_argument(
        "--token-format",
        choices=TOKEN_FORMATS,
        default="jwt",
        help="access tokens as at+jwt JWTs (Clerk's new apps, the default) or opaque oat_ (older)",
    )
    parser.add_argument(
        "--no-jwt-revocation",
        action="store_true",
        help="refuse to revoke JWT access tokens (400 unsupported_token_type), as Clerk documents",
    )
    parser.add_argument(
        "--custom-scope",
        action="append",
        default=[],
        help="a custom scope of the instance, as made in Clerk's dashboard (repeatable)",
    )
    parser.add_argument("--verbose", action="store_true", help="log each request line")
    args = parser.parse_args(argv)
    if args.client_secret and not args.client_id:
        parser.error("--client-secret needs --client-id")
    if args.latency_ms < 0:
        parser.error("--latency-ms must be >= 0")
    return args


def build_config(args: argparse.Namespace) -> EmulatorConfig:
    if args.client_id:
        client = OAuthClient(
            client_id=args.client_id,
            client_secret=args.client_secret or None,
            redirect_uris=list(args.redirect_uri),
            client_name=args.client_name or args.client_id,
            token_endpoint_auth_method="client_secret_basic" if args.client_secret else "none",
        )
        clients = {client.client_id: client}
    else:
        clients = default_clients()
        for client in clients.values():
            client.redirect_uris.extend(
                u for u in args.redirect_uri if u not in client.redirect_uris
            )
            if args.client_name:
                client.client_name = args.client_name
    return EmulatorConfig(
        issuer=args.issuer,
        clients=clients,
        latency_ms=args.latency_ms,
        dcr_enabled=not args.no_dcr,
        consent_required=not args.no_consent,
        access_token_format=args.token_format,
        jwt_access_tokens_revocable=not args.no_jwt_revocation,
        custom_scopes=tuple(args.custom_scope),
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        server = EmulatorServer(
            build_config(args), host=args.host, port=args.port, quiet=not args.verbose
        )
    except OSError as error:
        print(f"emulator: {error}", file=sys.stderr)
        return 2
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print(BANNER, flush=True)
    if not _is_loopback(args.host):
        print(f"WARNING: listening on {args.host}, not a loopback address.", file=sys.stderr)
    for client in server.config.clients.values():
        kind = "public" if client.is_public else "confidential"
        print(f"client {client.client_id} ({kind}) redirect URIs: {client.redirect_uris}")
    server.start()
    print(f"access tokens: {server.config.access_token_format}", flush=True)
    print(f"EMULATOR_READY {server.issuer}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        server.stop()
    print("emulator stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
