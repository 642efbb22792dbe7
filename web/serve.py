"""Serving the panel: HTTPS with the school's certificate, or one the hub makes itself.

Waitress, the usual choice, cannot serve HTTPS, so the panel runs on cheroot,
whose built-in TLS uses Python's own ssl module. Without a certificate in
``[web] tls_cert`` and ``tls_key``, the hub makes a self-signed one the first time
(with Debian's openssl) and keeps it in the data folder; browsers warn about it
until the school provides a proper one (docs/install-raspberry-pi.md).

cheroot serves each request on one of a fixed number of threads (``[web] threads``).
An open call desk keeps one of them for as long as it is open, for its live call
state (web/live.py), so the pool is sized for the desks plus pages: 8 threads are
never given to a desk, and the bench measures what each desk costs.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import threading
from pathlib import Path
from types import FrameType

from cheroot import wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter

from hub.config import Config
from hub.exceptions import PhoneHubError
from web import create_app

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
    names = {f"DNS:{host}", f"DNS:{host}.local", "DNS:localhost", "IP:127.0.0.1"}
    # No address for our own name: the names above still work.
    with contextlib.suppress(OSError):
        names |= {f"IP:{ip}" for ip in socket.gethostbyname_ex(host)[2]}
    if config.web.bind not in ("0.0.0.0", "::"):
        kind = "IP" if config.web.bind.replace(".", "").isdigit() else "DNS"
        names.add(f"{kind}:{config.web.bind}")
    command = [
        "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes", "-days", str(CERTIFICATE_DAYS), "-subj", f"/CN={config.hub.name}",
        "-addext", "subjectAltName=" + ",".join(sorted(names)),
        "-keyout", str(key), "-out", str(cert),
    ]  # fmt: skip
    try:
        subprocess.run(command, check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise PhoneHubError(
            "Could not make the panel's certificate with openssl; install it "
            "(sudo apt-get install openssl) or set [web] tls_cert and tls_key."
        ) from exc
    key.chmod(0o600)


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
        app.extensions["phonehub.db"].close()
    return 0
