"""Marriage registration (婚姻登记): marriages, divorces by agreement with the cooling-off period, certificates and
electronic certificates, corrections, revocations and archive queries, statistics, and the spouse's widowhood when
a death is registered."""

from fastapi import FastAPI

from civic.app import create_app
from civic.clock import Clock
from civic.config import Settings
from civic.migrations import versions_of
from services.marriage import amendments, corrections, divorces, ecertificates, registrations, statistics
from services.marriage.handlers import HANDLERS
from services.marriage.models import TABLES
from services.marriage.policy_store import policy_loaded
from services.marriage.signing_keys import CertificateSettings, certificate_keys


def build_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    certificates: CertificateSettings | None = None,
) -> FastAPI:
    """``clock`` says what day it is at the registry; tests pass one they can move. ``certificates`` configures
    the electronic certificates' signing key (from the environment by default)."""
    app = create_app(
        settings or Settings(service_name="marriage"),
        title="civic · marriage registration",
        routers=[
            registrations.router,
            divorces.router,
            amendments.router,
            corrections.router,
            ecertificates.router,
            statistics.router,
        ],
        tables=TABLES,
        migrations_dir=versions_of(__file__),
        handlers=HANDLERS,
        resources=[policy_loaded, certificate_keys, divorces.expiry_schedule],
    )
    if clock is not None:
        app.state.clock = clock
    app.state.marriage_certificate_settings = certificates or CertificateSettings()
    return app


app = build_app()
