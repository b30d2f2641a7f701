"""Settings: the only module that reads the environment (and `.env`).

Names follow the contract (Bot Framework's own names for the bot identity). Local mode means neither a bot
app id nor Graph credentials are set: the app then runs against the embedded sandbox.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

LOOPBACK_NAMES = {"localhost", "ip6-localhost"}


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


CsvList = Annotated[list[str], NoDecode]
CsvFloats = Annotated[list[Annotated[float, Field(ge=0)]], NoDecode]


def _is_loopback_url(url: str) -> bool:
    return is_loopback(urlsplit(url).hostname or "")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    # The bot's identity (Bot Framework names).
    microsoft_app_id: str = Field("", validation_alias=AliasChoices("MicrosoftAppId", "MICROSOFT_APP_ID"))
    microsoft_app_password: SecretStr = Field(
        SecretStr(""), validation_alias=AliasChoices("MicrosoftAppPassword", "MICROSOFT_APP_PASSWORD")
    )
    microsoft_app_tenant_id: str = Field(
        "", validation_alias=AliasChoices("MicrosoftAppTenantId", "MICROSOFT_APP_TENANT_ID")
    )
    # Empty: SingleTenant when MicrosoftAppTenantId is set, else MultiTenant (see app_type).
    microsoft_app_type: str = Field(
        "", validation_alias=AliasChoices("MicrosoftAppType", "MICROSOFT_APP_TYPE")
    )

    # Microsoft Graph application credentials.
    graph_tenant_id: str = Field("", validation_alias="GRAPH_TENANT_ID")
    graph_client_id: str = Field("", validation_alias="GRAPH_CLIENT_ID")
    graph_client_secret: SecretStr = Field(SecretStr(""), validation_alias="GRAPH_CLIENT_SECRET")
    graph_client_certificate_path: str = Field("", validation_alias="GRAPH_CLIENT_CERTIFICATE_PATH")
    graph_endpoint: str = Field("https://graph.microsoft.com", validation_alias="GRAPH_ENDPOINT")
    authority_host: str = Field("https://login.microsoftonline.com", validation_alias="AUTHORITY_HOST")

    # Exchange Online admin API (mailbox forwarding, FullAccess, transport rules), same app credentials.
    exchange_endpoint: str = Field("https://outlook.office365.com", validation_alias="EXCHANGE_ENDPOINT")

    redis_url: str = Field("", validation_alias="REDIS_URL")

    alert_token: SecretStr = Field(SecretStr(""), validation_alias="RIPOSTE_ALERT_TOKEN")
    alert_channel: str = Field("", validation_alias="RIPOSTE_ALERT_CHANNEL")
    service_url: str = Field("https://smba.trafficmanager.net/teams/", validation_alias="RIPOSTE_SERVICE_URL")

    responder_groups: CsvList = Field(default_factory=list, validation_alias="RIPOSTE_RESPONDER_GROUPS")
    approver_groups: CsvList = Field(default_factory=list, validation_alias="RIPOSTE_APPROVER_GROUPS")
    admin_responder_groups: CsvList = Field(
        default_factory=list, validation_alias="RIPOSTE_ADMIN_RESPONDER_GROUPS"
    )
    protected_users: CsvList = Field(default_factory=list, validation_alias="RIPOSTE_PROTECTED_USERS")
    allow_unauthenticated: bool = Field(False, validation_alias="RIPOSTE_ALLOW_UNAUTHENTICATED")

    # HMAC key for button data; generated once and shared through Redis when unset.
    signing_key: SecretStr = Field(SecretStr(""), validation_alias="RIPOSTE_SIGNING_KEY")
    # HMAC key of the audit's signed checkpoints; kept apart from the button key and, ideally, from Redis: a key
    # generated and kept in Redis (when unset) lets whoever can rewrite the trail re-sign it too.
    audit_key: SecretStr = Field(SecretStr(""), validation_alias="RIPOSTE_AUDIT_KEY")
    audit_retention_days: float = Field(400.0, gt=0, validation_alias="RIPOSTE_AUDIT_RETENTION_DAYS")
    # A signed checkpoint of the chain head after this many entries, or this many minutes, whichever comes first.
    audit_checkpoint_entries: int = Field(100, ge=1, validation_alias="RIPOSTE_AUDIT_CHECKPOINT_ENTRIES")
    audit_checkpoint_minutes: float = Field(10.0, gt=0, validation_alias="RIPOSTE_AUDIT_CHECKPOINT_MINUTES")
    # Optional TOML file overriding which role runs each action and which actions need approval.
    policy_file: str = Field("", validation_alias="RIPOSTE_POLICY_FILE")
    approval_timeout_minutes: float = Field(30.0, validation_alias="RIPOSTE_APPROVAL_TIMEOUT_MINUTES")
    # A further alert about a user with a case opened in the last N minutes joins that case's thread; 0 = off.
    group_alerts_minutes: float = Field(30.0, ge=0, validation_alias="RIPOSTE_GROUP_ALERTS_MINUTES")
    # Poll Microsoft Graph security alerts (alerts_v2) every N seconds; 0 = off (alerts come by webhook only).
    poll_alerts_seconds: float = Field(0.0, validation_alias="RIPOSTE_POLL_ALERTS_SECONDS")
    # Automatic containment (bot/automation/run.py): the switch's start-up default, used until someone switches it in
    # chat (the switch then lives in Redis); the default rule's actions (the policy's [[automation.rules]] replace
    # that rule); the cap on automated actions per rolling hour, across every replica, beyond which automation
    # switches itself off; and dry run: matching rules say what they would do and change nothing.
    automation_enabled: bool = Field(False, validation_alias="RIPOSTE_AUTOMATION")
    automation_actions: CsvList = Field(
        default_factory=lambda: ["revoke_sessions"], validation_alias="RIPOSTE_AUTOMATION_ACTIONS"
    )
    automation_max_per_hour: int = Field(20, ge=1, validation_alias="RIPOSTE_AUTOMATION_MAX_PER_HOUR")
    automation_dry_run: bool = Field(False, validation_alias="RIPOSTE_AUTOMATION_DRY_RUN")

    # Graph and Exchange are eventually consistent: a read-back that does not show the change yet is tried again
    # after each of these pauses before the card warns (actions/verification.py). Tests shorten them.
    read_back_retry_seconds: CsvFloats = Field(
        default_factory=lambda: [0.5, 1.5], validation_alias="RIPOSTE_READ_BACK_RETRY_SECONDS"
    )
    # Teams drops a click's answer later than about 5 s: the steps before it (role look-up, a listing, Bot Connector
    # calls) share this budget per turn, each also capped by its own limit. Never longer; tests shorten it.
    answer_budget_seconds: float = Field(4.5, gt=0, le=4.5, validation_alias="RIPOSTE_ANSWER_BUDGET_SECONDS")

    # Privileged actions (bot/signin): "delegated" runs every Graph action on an administrator, and every password
    # reset, with the Graph token of the person whose click releases it, through the Azure Bot's OAuth connection
    # (Teams sign-in); "app" runs them with the app's own rights (which then needs the Privileged Authentication
    # Administrator directory role). OAuthUrl: the Bot Framework token service (a regional one, or the sandbox's);
    # empty: botbuilder's default. The OAuth connection's app id (for the admin-consent link): the bot's by default.
    privileged_actions: Literal["delegated", "app"] = Field("delegated", validation_alias="RIPOSTE_PRIVILEGED_ACTIONS")
    oauth_connection: str = Field("", validation_alias="RIPOSTE_OAUTH_CONNECTION")
    oauth_app_id: str = Field("", validation_alias="RIPOSTE_OAUTH_APP_ID")
    oauth_url: str = Field("", validation_alias=AliasChoices("OAuthUrl", "OAUTH_URL"))

    # How long a clicker's group membership is trusted before Graph is asked again.
    role_cache_seconds: int = Field(60, ge=1, validation_alias="RIPOSTE_ROLE_CACHE_SECONDS")
    # How long shutdown waits for in-flight actions before recording them as interrupted.
    shutdown_grace_seconds: float = Field(20.0, validation_alias="RIPOSTE_SHUTDOWN_GRACE_SECONDS")
    # A running action is held by a lease its process renews every third of this: when the process dies (or loses
    # Redis) the lease lapses and another worker settles the action by reading the tenant, this long plus a few
    # seconds later.
    action_lease_seconds: int = Field(20, ge=2, validation_alias="RIPOSTE_ACTION_LEASE_SECONDS")

    # The durable pipeline (bot/pipeline): jobs each worker process runs at once, how long a job may go without a
    # heartbeat before another worker takes it over (its worker died), and Teams' documented send limits, which
    # tests shorten. Limits are `limits` strings: per thread (a channel counts as one thread) and per tenant.
    worker_concurrency: int = Field(10, ge=1, validation_alias="RIPOSTE_WORKER_CONCURRENCY")
    job_heartbeat_seconds: int = Field(20, ge=2, validation_alias="RIPOSTE_JOB_HEARTBEAT_SECONDS")
    teams_thread_limits: str = Field(
        "7/1second;8/2seconds;60/30seconds;1800/hour", validation_alias="RIPOSTE_TEAMS_THREAD_LIMITS"
    )
    teams_tenant_limits: str = Field("50/second", validation_alias="RIPOSTE_TEAMS_TENANT_LIMITS")

    # Case notes (bot/audit/case_notes.py): notes within this many seconds of the first pending one go out as one
    # reply in the case's thread. Always on; tests shorten it.
    case_notes_seconds: float = Field(5.0, ge=0, validation_alias="RIPOSTE_CASE_NOTES_SECONDS")

    # Watching a contained user (bot/watch): for this many hours after the first containment action, re-check the
    # user every N seconds (with jitter) and report what was undone; 0 hours = off. The watcher's Graph and Exchange
    # reads are limited to this many per second across every replica and worker.
    watch_hours: float = Field(24.0, ge=0, validation_alias="RIPOSTE_WATCH_HOURS")
    watch_interval_seconds: float = Field(900.0, gt=0, validation_alias="RIPOSTE_WATCH_INTERVAL_SECONDS")
    watch_max_rps: int = Field(2, ge=1, validation_alias="RIPOSTE_WATCH_MAX_RPS")

    # The Teams app package (manifest/build.py): the host name Teams reaches the bot at (the messaging endpoint's,
    # e.g. riposte.contoso.com; a host, not a URL), which goes in validDomains and in the SSO resource
    # api://<host>/botid-<MicrosoftAppId> (webApplicationInfo); and the publisher shown in Teams' app details.
    public_host: str = Field("", validation_alias="RIPOSTE_PUBLIC_HOST")
    developer_name: str = Field("Riposte", validation_alias=AliasChoices("RIPOSTE_DEVELOPER_NAME", "DEVELOPER_NAME"))
    website_url: str = Field(
        "https://example.com/riposte", validation_alias=AliasChoices("RIPOSTE_WEBSITE_URL", "WEBSITE_URL")
    )

    host: str = Field("127.0.0.1", validation_alias="HOST")
    port: int = Field(3978, validation_alias="PORT")
    log_level: str = Field("INFO", validation_alias="LOG_LEVEL")
    # json: one JSON object per line (for a log pipeline); text: for people. Empty: json outside local mode, text in it.
    log_format: Literal["", "json", "text"] = Field("", validation_alias="LOG_FORMAT")

    @field_validator(
        "responder_groups", "approver_groups", "admin_responder_groups", "protected_users", "automation_actions",
        "read_back_retry_seconds", mode="before",
    )
    @classmethod
    def _csv(cls, value: object) -> object:
        return _split_csv(value)

    @property
    def has_graph_credentials(self) -> bool:
        has_secret = bool(self.graph_client_secret.get_secret_value() or self.graph_client_certificate_path)
        return bool(self.graph_client_id and self.graph_tenant_id and has_secret)

    @property
    def local_mode(self) -> bool:
        return not self.microsoft_app_id and not self.has_graph_credentials

    @property
    def app_type(self) -> str:
        """The bot's app type. New Azure Bot resources are single-tenant only (since July 2025), and a
        single-tenant app run as MultiTenant fails every outgoing post (AADSTS700016): a tenant id implies it."""
        if self.microsoft_app_type:
            return self.microsoft_app_type
        return "SingleTenant" if self.microsoft_app_tenant_id else "MultiTenant"

    @property
    def tenant_id(self) -> str:
        """The one tenant whose activities and users this deployment serves."""
        return self.microsoft_app_tenant_id or self.graph_tenant_id

    @property
    def delegated(self) -> bool:
        return self.privileged_actions == "delegated"

    def signin_warning(self) -> str | None:
        """What start-up says when delegated mode cannot sign anyone in (the bot still starts; those actions are
        greyed out on cards with this reason)."""
        if self.delegated and not self.oauth_connection:
            return ("RIPOSTE_PRIVILEGED_ACTIONS=delegated but RIPOSTE_OAUTH_CONNECTION is not set: actions on "
                    "administrators and password resets are greyed out. Set it to the Azure Bot's OAuth connection "
                    "name (README: Privileged actions), or RIPOSTE_PRIVILEGED_ACTIONS=app to use the app's own rights.")
        return None

    def automation_token_problem(self) -> str | None:
        """Why automation must not act with these settings, or None: the rule at start-up (RIPOSTE_AUTOMATION=true)
        and for `automation on` in chat."""
        if not self.alert_token.get_secret_value() and not self.local_mode:
            return ("RIPOSTE_ALERT_TOKEN is not set, so anyone who can reach /api/alerts could forge an alert that "
                    "triggers actions: set the token first.")
        return None

    def startup_problem(self) -> str | None:
        """Why this combination of settings must not start, or None."""
        graph_set = {"GRAPH_TENANT_ID": self.graph_tenant_id, "GRAPH_CLIENT_ID": self.graph_client_id,
                     "GRAPH_CLIENT_SECRET or GRAPH_CLIENT_CERTIFICATE_PATH":
                         self.graph_client_secret.get_secret_value() or self.graph_client_certificate_path}
        missing = [name for name, value in graph_set.items() if not value]
        if 0 < len(missing) < len(graph_set):  # half-configured: never fall back to the sandbox tenant quietly
            return f"Graph credentials are incomplete: {', '.join(missing)} not set."
        if self.allow_unauthenticated and self.microsoft_app_id:
            return ("RIPOSTE_ALLOW_UNAUTHENTICATED=true has no effect with MicrosoftAppId set (activities are always "
                    "authenticated then): remove one of them.")
        if self.microsoft_app_id and not self.microsoft_app_password.get_secret_value():
            return "MicrosoftAppId is set but MicrosoftAppPassword is not: set the bot's client secret."
        if self.app_type.lower() == "singletenant" and not self.microsoft_app_tenant_id:
            return "MicrosoftAppType=SingleTenant needs MicrosoftAppTenantId (the bot's tenant id)."
        if self.app_type.lower() == "multitenant" and self.microsoft_app_tenant_id:
            return ("MicrosoftAppType=MultiTenant with MicrosoftAppTenantId set: an app registered in one tenant "
                    "(every Azure Bot created since July 2025) fails each outgoing message as MultiTenant "
                    "(AADSTS700016). Set MicrosoftAppType=SingleTenant, or remove MicrosoftAppTenantId for a "
                    "genuinely multi-tenant app.")
        if self.microsoft_app_id and not self.has_graph_credentials:
            return (
                "MicrosoftAppId is set but Graph credentials are not: set GRAPH_TENANT_ID, GRAPH_CLIENT_ID and "
                "GRAPH_CLIENT_SECRET (or GRAPH_CLIENT_CERTIFICATE_PATH)."
            )
        if not self.microsoft_app_id:
            unauthenticated_ok = self.local_mode or self.allow_unauthenticated
            if not unauthenticated_ok:
                return (
                    "No MicrosoftAppId: activities could not be authenticated. Set MicrosoftAppId and "
                    "MicrosoftAppPassword, or RIPOSTE_ALLOW_UNAUTHENTICATED=true for a loopback-only test."
                )
            if not is_loopback(self.host):
                return (
                    f"HOST={self.host} is not a loopback address, and without MicrosoftAppId activities are not "
                    "authenticated: set MicrosoftAppId and MicrosoftAppPassword, or bind HOST=127.0.0.1."
                )
        if self.allow_unauthenticated and self.has_graph_credentials and not _is_loopback_url(self.graph_endpoint):
            return (
                "RIPOSTE_ALLOW_UNAUTHENTICATED=true with Graph credentials for a real tenant would let anything that "
                "reaches this port act as any user: set MicrosoftAppId and MicrosoftAppPassword instead (it is for "
                "local tests against a local tenant only)."
            )
        if self.automation_enabled and self.automation_token_problem():
            return "RIPOSTE_AUTOMATION=true needs RIPOSTE_ALERT_TOKEN: otherwise a forged alert could trigger actions."
        if not self.local_mode and not self.redis_url:
            return "REDIS_URL is not set: outside local mode state must live in a shared Redis."
        return None
