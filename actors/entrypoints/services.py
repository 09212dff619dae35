"""What every entry point builds: :func:`actors.infra.bootstrap.build_services` plus the
workflows' hook that writes webhook events beside the ledger's terminal changes, and the
webhook sender and secrets of the settings."""

from __future__ import annotations

from datetime import timedelta

from actors.infra.bootstrap import Services, build_services
from actors.infra.config import Settings, reveal
from actors.infra.errors import SettingsError
from actors.infra.webhook_http import UrlRefused, WebhookSender, check_url
from actors.workflows.payers import PayerPool
from actors.workflows.webhooks import endpoints, outbox
from actors.workflows.webhooks.delivery import DeliveryPolicy


def services_for(settings: Settings, **parts: bool) -> Services:
    """``build_services(settings, **parts)`` with the outbox publisher wired in."""
    services = build_services(settings, **parts)
    services.publish = outbox.publisher(
        mint_secret=reveal(settings.signer.mint_key_secret),
        wake=services.notify_webhooks,
        endpoint=endpoints.default_writer(_default_url(settings), vet=vet(settings)),
    )
    return services


def _default_url(settings: Settings) -> str | None:
    """WEBHOOK_URL when WEBHOOK_SECRET comes with it (alone, the webhook sweep refuses it)."""
    wh = settings.webhooks
    return wh.url if wh.secret is not None else None


def payer_pool(services: Services) -> PayerPool:
    """The fee-payer pool of the settings over the services' chain: build it once per process
    (its turns and balance reads are per instance)."""
    signer = services.settings.signer
    return PayerPool(
        signer.payers or (signer.payer,),
        chain=services.chain,
        min_lamports=signer.payer_min_lamports,
    )


def vet(settings: Settings):
    """The URL check of registrations and deliveries, with the loopback switch of the settings."""
    allow = settings.webhooks.allow_http_loopback
    return lambda url: check_url(url, allow_http_loopback=allow)


def sender(settings: Settings) -> WebhookSender:
    wh = settings.webhooks
    return WebhookSender(timeout=wh.timeout, allow_http_loopback=wh.allow_http_loopback)


def policy(settings: Settings) -> DeliveryPolicy:
    wh = settings.webhooks
    return DeliveryPolicy(
        schedule=tuple(wh.schedule),
        timeout=wh.timeout,
        disable_after=timedelta(seconds=wh.disable_after),
    )


def secret_for(settings: Settings):
    default = settings.webhooks.secret
    return endpoints.secret_source(
        master=reveal(settings.signer.mint_key_secret) or b"",
        default_secret=default.get_secret_value().decode() if default is not None else None,
    )


def check_default_endpoint(settings: Settings) -> None:
    """WEBHOOK_URL and WEBHOOK_SECRET come together (checked at start, touching nothing)."""
    wh = settings.webhooks
    if (wh.url is None) != (wh.secret is None):
        missing = "WEBHOOK_SECRET" if wh.secret is None else "WEBHOOK_URL"
        raise SettingsError(missing, "must be set with WEBHOOK_URL and WEBHOOK_SECRET together")


def put_default_endpoint(services: Services) -> None:
    """WEBHOOK_URL's endpoint as the settings say (the workers' first webhook sweep does it, so
    a worker starts while PostgreSQL is away)."""
    wh = services.settings.webhooks
    check_default_endpoint(services.settings)
    try:
        endpoints.put_default(wh.url, uow_factory=services.uow_factory, vet=vet(services.settings))
    except UrlRefused as exc:
        raise SettingsError("WEBHOOK_URL", str(exc)) from None
