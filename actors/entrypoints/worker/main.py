"""The module Dramatiq's worker processes import: it wires the services from the environment.

``minter worker`` runs ``dramatiq actors.entrypoints.worker.main``; this is the bootstrap for
that process tree, so building here at import time is the point of the module.
"""

from actors.entrypoints.services import check_default_endpoint, services_for
from actors.entrypoints.worker.actors import register_actors
from actors.infra import config as cfg
from actors.infra.logs import configure_logging

settings = cfg.load_settings(require=cfg.DATABASE + cfg.QUEUE + cfg.CHAIN)
configure_logging(fmt=settings.logging.format, level=settings.logging.level)

check_default_endpoint(settings)
services = services_for(settings)
broker = services.broker
actors = register_actors(broker, services)
