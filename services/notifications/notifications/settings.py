from pydantic import Field
from pydantic_settings import SettingsConfigDict

from common.settings import ServiceSettings, secret, shared


class Settings(ServiceSettings):
    """CALLASTAR_NOTIFICATIONS_* (DATABASE_URL, HOST, PORT and the ones below), plus the
    shared CALLASTAR_SMTP_HOST / CALLASTAR_SMTP_PORT of the stack's mail server."""

    model_config = SettingsConfigDict(
        env_prefix="CALLASTAR_NOTIFICATIONS_", extra="ignore", populate_by_name=True
    )

    port: int = 8104
    database_url: str = "postgresql+asyncpg://notifications:notifications@127.0.0.1:55432/notifications"

    smtp_host: str = shared("CALLASTAR_SMTP_HOST", "127.0.0.1")
    smtp_port: int = shared("CALLASTAR_SMTP_PORT", 8025)
    smtp_timeout_s: float = 10.0
    mail_from: str = "Callastar <notifications@callastar.local>"
    # Where the links in an email point: the gateway as people reach it.
    public_url: str = "http://127.0.0.1:8000"
    # Signs unsubscribe links (HMAC-SHA256); rotate it and old links stop working.
    unsubscribe_secret: str = secret("CALLASTAR_NOTIFICATIONS_UNSUBSCRIBE_SECRET")
    unsubscribe_ttl_days: int = Field(30, gt=0)
    # How long the role a person's call showed is believed: nothing tells this
    # service when an admin is demoted, so one not seen as admin for this long
    # stops getting the admins' emails (and one seen as anything else, at once).
    role_ttl_hours: int = Field(24, gt=0)

    email_poll_s: float = Field(1.0, gt=0)  # the sender also wakes after every commit
    email_batch: int = Field(20, gt=0)
    email_retry_base_s: float = Field(2.0, gt=0)  # doubled per failed try ...
    email_retry_cap_s: float = Field(300.0, gt=0)  # ... up to this
    # Tries of one message the mail server refused (4xx), or whose SMTP
    # conversation went wrong otherwise, before it is FAILED. A
    # server that cannot be reached is not the message's fault: those tries are
    # retried forever, so an outage loses nothing.
    email_max_attempts: int = Field(8, gt=0)

    retention_days: int = Field(365, gt=0)
    purge_interval_s: float = Field(3600.0, gt=0)
