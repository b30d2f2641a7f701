"""Riposte's entry point: `python app.py` serves the bot; with no configuration it runs on the local sandbox."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
import sys
from collections.abc import AsyncIterator
from typing import Any, Literal

from aiohttp import web
from azure.core.credentials_async import AsyncTokenCredential

from actions.credentials import MsalClientCredential
from actions.exchange import ExchangeAdmin
from actions.graph import build_graph_client
from actions.runner import ActionRunner
from actions.spec import Role
from actions.tenant import GraphTenant
from bot.access.policy import PolicyError, load_policy
from bot.access.roles import RoleResolver
from bot.access.signing import ButtonSigner, load_signing_key
from bot.approvals.handle import expire_due_forever
from bot.audit.cli import main as audit_main
from bot.audit.trail import RedisAudit, retention_forever, startup_settings
from bot.cards.views import CardPainter
from bot.config import Settings
from bot.doctor import WARN as DOCTOR_WARN
from bot.doctor import main as doctor_main
from bot.doctor import run as doctor_run
from bot.endpoints import METRICS, SERVICES, healthz, metrics, post_alert
from bot.intake.poller import poll_forever
from bot.logs import configure_logging, correlation_middleware, echo_correlation_id
from bot.metrics import Metrics
from bot.pipeline.limiter import TeamsLimiter
from bot.pipeline.queues import build_queues
from bot.pipeline.workers import Workers
from bot.run.inflight import InFlight
from bot.services import Services
from bot.signin import rules as signin_rules
from bot.state.approvals import ApprovalStore
from bot.state.cases import CaseStore
from bot.state.store import connect_redis
from bot.teams.adapter import TeamsChannel, build_adapter, process_request
from bot.teams.handler import RiposteBot

log = logging.getLogger("riposte")
Role_ = Literal["all", "web", "worker"]
ROLES: tuple[Role_, ...] = ("all", "web", "worker")
SANDBOX_PAGE: web.AppKey[str] = web.AppKey("sandbox_page", str)
BOT: web.AppKey[RiposteBot] = web.AppKey("bot", RiposteBot)


def graph_credential(settings: Settings) -> AsyncTokenCredential:
    return MsalClientCredential(
        tenant_id=settings.graph_tenant_id,
        client_id=settings.graph_client_id,
        authority_host=settings.authority_host,
        client_secret=settings.graph_client_secret.get_secret_value(),
        certificate_path=settings.graph_client_certificate_path,
    )


def create_app(
    settings: Settings, *, credential: AsyncTokenCredential | None = None, sandbox_page: str = "",
    role: Role_ = "all",
) -> web.Application:
    """The bot as an aiohttp application; `credential` overrides the msal one (the local sandbox). `role`: "all"
    (web front and workers), "web" (Bot Framework and alert endpoints; work is queued) or "worker" (jobs, the
    poller and approval expiry; only /healthz and /metrics are served)."""
    policy = load_policy(settings.policy_file)
    counters = Metrics()
    app = web.Application(client_max_size=1024 * 1024, middlewares=[correlation_middleware, counters.middleware()])
    app.on_response_prepare.append(echo_correlation_id)
    app[METRICS] = counters
    adapter = build_adapter(settings)

    async def services_ctx(app: web.Application) -> AsyncIterator[None]:
        redis = connect_redis(settings.redis_url)
        # saq speaks bytes and blocks on BLMOVE for up to a second: its own connections, longer socket timeout.
        job_redis = connect_redis(settings.redis_url, decode_responses=False, socket_timeout=10.0, stand_in=redis)
        queues = build_queues(job_redis, settings.job_heartbeat_seconds)
        limiter = TeamsLimiter.build(settings.redis_url, settings.teams_thread_limits, settings.teams_tenant_limits,
                                     settings.tenant_id)
        token_credential = credential or graph_credential(settings)
        tenant = GraphTenant(build_graph_client(settings.graph_endpoint, token_credential, counters.graph_call))
        exchange = ExchangeAdmin(token_credential, settings.graph_tenant_id, endpoint=settings.exchange_endpoint)
        audit = RedisAudit(redis, settings)
        signer = ButtonSigner(await load_signing_key(redis, settings.signing_key.get_secret_value()))
        groups = {
            Role.RESPONDER: settings.responder_groups,
            Role.APPROVER: settings.approver_groups,
            Role.ADMIN_RESPONDER: settings.admin_responder_groups,
        }
        services = Services(
            settings=settings, redis=redis, tenant=tenant,
            channel=TeamsChannel(adapter, settings, settings.tenant_id, limiter, counters), cases=CaseStore(redis),
            audit=audit,
            roles=RoleResolver(tenant, redis, groups, settings.role_cache_seconds),
            runner=ActionRunner(tenant, audit, exchange, settings.read_back_retry_seconds), inflight=InFlight(),
            signer=signer, policy=policy,
            painter=CardPainter(signer, settings.protected_users, policy.recommendations, policy.disabled,
                                unavailable=signin_rules.unavailable(settings)),
            approvals=ApprovalStore(redis), metrics=counters, queues=queues, limiter=limiter,
        )
        app[SERVICES] = services
        app[BOT] = RiposteBot(services)
        background: list[asyncio.Task[None]] = []
        workers = Workers(services) if role in ("all", "worker") else None
        if workers is not None:
            workers.start()
            sweep_every = max(1.0, min(30.0, settings.approval_timeout_minutes * 60 / 4))
            loop = asyncio.get_running_loop()
            background.append(loop.create_task(expire_due_forever(services, sweep_every)))
            background.append(loop.create_task(retention_forever(audit)))
            await audit.record_event("settings_at_startup", role=role, **startup_settings(settings))
            if settings.poll_alerts_seconds > 0:
                background.append(loop.create_task(poll_forever(services, settings.poll_alerts_seconds)))
        yield
        for task in background:
            task.cancel()
        started_stopping = loop_time()
        await services.inflight.drain(settings.shutdown_grace_seconds)  # actions finish, their updates are queued
        if workers is not None:
            left = settings.shutdown_grace_seconds - (loop_time() - started_stopping)
            await workers.flush_interactive(max(0.0, left))
            await workers.stop()
        await queues.close()
        await exchange.aclose()
        await token_credential.close()
        await redis.aclose()

    async def messages(request: web.Request) -> web.StreamResponse:
        return await process_request(adapter, request, request.app[BOT], request.app[SERVICES].inflight,
                                     settings.answer_budget_seconds)

    app.cleanup_ctx.append(services_ctx)
    if role != "worker":
        app.router.add_post("/api/messages", messages)
        app.router.add_post("/api/alerts", post_alert)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    if sandbox_page:
        app[SANDBOX_PAGE] = sandbox_page
        app.router.add_get("/sandbox", _to_sandbox_page)
    return app


async def doctor_on_the_sandbox(settings: Settings) -> int:
    """`doctor` in local mode checks the built-in sandbox tenant (started here: app.py is the one place that may)."""
    from sandbox.launcher import start_sandbox  # noqa: TID251  (local mode only, imported lazily)
    from sandbox.tenant_state import TENANT  # noqa: TID251

    sandbox = await start_sandbox(f"http://{settings.host}:{settings.port}", settings)
    try:
        print(f"{DOCTOR_WARN} local mode: checking the built-in sandbox tenant, not a real one")
        return await doctor_run(sandbox.settings, credential=sandbox.credential,
                                app_id=str(sandbox.tenant.app[TENANT].application.get("appId", "")),
                                configured=settings)
    finally:
        await sandbox.close()


def loop_time() -> float:
    return asyncio.get_running_loop().time()


async def _to_sandbox_page(request: web.Request) -> web.Response:
    raise web.HTTPFound(request.app[SANDBOX_PAGE])


async def serve(settings: Settings, role: Role_ = "all") -> None:
    credential: AsyncTokenCredential | None = None
    sandbox: Any = None
    page = ""
    if settings.local_mode:
        # Local try-out only, and lazy: a production configuration never imports the sandbox. The one allowed
        # import of it from production code (tests/test_layers.py names this line too).
        from sandbox.launcher import start_sandbox  # noqa: TID251

        sandbox = await start_sandbox(f"http://{settings.host}:{settings.port}", settings)
        settings, credential, page = sandbox.settings, sandbox.credential, sandbox.page_url
    runner = web.AppRunner(create_app(settings, credential=credential, sandbox_page=page, role=role))
    await runner.setup()
    await web.TCPSite(runner, settings.host, settings.port).start()
    # Everything built so far (modules, botbuilder, msgraph-sdk, the services) lives as long as the process: out of
    # the collector's sight, a full collection scans what requests leave behind in a few ms instead of 70-240 ms
    # (measured in the web and worker processes under bench/click_latency.py; each such pause stalled every
    # request in flight and was the clicks' p99).
    gc.freeze()
    if role == "worker":
        log.info("Riposte worker running (health and metrics on http://%s:%s)", settings.host, settings.port)
    else:
        log.info("Riposte listening on http://%s:%s (messaging endpoint /api/messages)", settings.host, settings.port)
    if settings.signin_warning():
        log.warning("%s", settings.signin_warning())
    if page:
        log.warning("Local sandbox: open http://%s:%s/sandbox in a browser", settings.host, settings.port)
    elif not settings.alert_token.get_secret_value():
        log.warning("RIPOSTE_ALERT_TOKEN is not set: /api/alerts trusts any loopback caller, which behind a "
                    "reverse proxy on this host is everyone. Set a token.")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    log.info("shutting down: finishing in-flight actions")
    await runner.cleanup()
    if sandbox is not None:
        await sandbox.close()


def parse_role(argv: list[str]) -> Role_:
    parser = argparse.ArgumentParser(prog="python app.py", description="Riposte: contain a compromised Microsoft 365 "
                                     "account from a Teams channel.")
    parser.add_argument("role", nargs="?", choices=("web", "worker"),
                        help="run only the web front (web) or only the workers (worker); default: both")
    role: Role_ = parser.parse_args(argv).role or "all"
    return role


def role_problem(settings: Settings, role: Role_) -> str | None:
    if role != "all" and settings.local_mode:
        return (f"'{role}' runs one part of Riposte; the parts share work through Redis and a real tenant, but this "
                "is local mode (the sandbox lives inside one process): run 'python app.py' instead.")
    return None


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["audit"]:
        return audit_main(args[1:])
    if args[:1] == ["doctor"]:
        return doctor_main(args[1:], doctor_on_the_sandbox)
    role = parse_role(args)
    settings = Settings()
    problem = settings.startup_problem() or role_problem(settings, role)
    try:
        load_policy(settings.policy_file)
    except PolicyError as error:
        problem = problem or str(error)
    if problem:  # refused before logging is set up: a refusal touches nothing (tests call main() in-process)
        print(f"Riposte will not start: {problem}", file=sys.stderr)
        return 2
    configure_logging(settings)
    logging.getLogger("saq").setLevel(logging.WARNING)  # a line per job at INFO would drown everything else
    asyncio.run(serve(settings, role))
    return 0


if __name__ == "__main__":
    sys.exit(main())
