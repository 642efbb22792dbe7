"""Serving the panel: HTTPS with the school's certificate, or one the hub makes itself.

Waitress, the usual choice, cannot serve HTTPS, so the panel runs on cheroot,
whose built-in TLS uses Python's own ssl module. Without a certificate in
``[web] tls_cert`` and ``tls_key``, the hub makes a self-signed one the first time
(with the cryptography package) and keeps it in the data folder; browsers warn about it
until the school provides a proper one (docs/install-raspberry-pi.md).

cheroot serves each request on one of a fixed number of threads (``[web] threads``).
An open call desk keeps one of them for as long as it is open, for its live call
state (web/live.py), so the pool is sized for the desks plus pages: 8 threads are
never given to a desk, and the bench measures what each desk costs.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import signal
import socket
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.x509.oid import NameOID

from hub.config import Config
from hub.exceptions import PhoneHubError
from hub.private_files import private_file
from web import create_app

log = logging.getLogger(__name__)

CERTIFICATE_DAYS = 825  # the longest validity browsers accept


def certificate(config: Config) -> tuple[Path, Path]:
    """The panel's certificate and key: the configured ones, or the hub's own."""
    web = config.web
    if web.tls_cert is not None and web.tls_key is not None:
        for path in (web.tls_cert, web.tls_key):
            if not path.is_file():
                raise PhoneHubError(f"Cannot read {path} ([web] tls_cert / tls_key).")
        return web.tls_cert, web.tls_key
    folder = Path(config.hub.data_dir) / "tls"
    cert, key = folder / "panel.pem", folder / "panel-key.pem"
    if not (cert.exists() and key.exists()):
        _make_self_signed(config, cert, key)
    return cert, key


def _make_self_signed(config: Config, cert: Path, key: Path) -> None:
    cert.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    host = socket.gethostname()
    names: set[x509.GeneralName] = {
        x509.DNSName(host),
        x509.DNSName(f"{host}.local"),
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    }
    # No address for our own name: the names above still work.
    with contextlib.suppress(OSError):
        names |= {
            x509.IPAddress(ipaddress.ip_address(ip)) for ip in socket.gethostbyname_ex(host)[2]
        }
    if config.web.bind not in ("0.0.0.0", "::"):
        try:
            names.add(x509.IPAddress(ipaddress.ip_address(config.web.bind)))
        except ValueError:
            names.add(x509.DNSName(config.web.bind))
    # A key already there (the certificate was lost) is kept; otherwise a new P-256 one.
    fresh = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        own_key = serialization.load_pem_private_key(private_file(key, fresh), password=None)
    except (ValueError, TypeError) as exc:
        raise PhoneHubError(
            f"Cannot read the panel's key {key}; delete it for a new one, "
            "or set [web] tls_cert and tls_key."
        ) from exc
    try:
        cert.write_bytes(_self_signed(config.hub.name, names, own_key))
    except ValueError as exc:  # a [hub] name or host name a certificate cannot hold
        raise PhoneHubError(
            f"Could not make the panel's certificate ({exc}); "
            "set [web] tls_cert and tls_key, or shorten [hub] name."
        ) from exc


def _self_signed(
    name: str, names: set[x509.GeneralName], key: CertificateIssuerPrivateKeyTypes
) -> bytes:
    """A PEM certificate for ``name`` signed by its own ``key``, as ``openssl req -x509`` makes."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    public = key.public_key()
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=CERTIFICATE_DAYS))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(sorted(names, key=str)), critical=False)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


def serve(config: Config) -> int:
    """Serve the panel until SIGTERM or Ctrl-C."""
    app = create_app({"PHONEHUB": config})
    server = wsgi.Server((config.web.bind, config.web.port), app,
                         numthreads=config.web.threads, server_name="School Phone Hub")  # fmt: skip
    scheme = "http"
    if config.web.https:
        cert, key = certificate(config)
        server.ssl_adapter = BuiltinSSLAdapter(str(cert), str(key))
        app.config["SESSION_COOKIE_SECURE"] = True
        scheme = "https"

    stopping = threading.Event()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.prepare()  # binds now, so a port in use is an error here, not in a thread
    except OSError as exc:
        raise PhoneHubError(
            f"Cannot serve the panel on {config.web.bind}:{config.web.port} ({exc.strerror}); "
            "is it already running, or is [web] port taken?"
        ) from exc
    # cheroot's stop() can't be called from inside its own serving loop, so it
    # serves on a thread and the main thread waits for the signal.
    serving = threading.Thread(target=server.serve, name="panel", daemon=True)
    serving.start()
    host = "127.0.0.1" if config.web.bind in ("0.0.0.0", "::") else config.web.bind
    print(f"The panel is on {scheme}://{host}:{config.web.port}/", flush=True)
    try:
        while not stopping.wait(0.5) and serving.is_alive():
            pass
    finally:
        # The desks' streams first: each holds a thread that server.stop() would wait for.
        feed = app.extensions.get("phonehub.live")
        if feed is not None:
            feed.close()
        server.stop()
        serving.join(10)
        if serving.is_alive():
            log.error("the web server did not stop within 10 s; stopping anyway")
        app.extensions["phonehub.db"].close()
    return 0
