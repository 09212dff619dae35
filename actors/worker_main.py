"""The module Dramatiq's worker processes import: it wires the services from the environment.

``minter worker`` runs ``dramatiq actors.worker_main``; this is the bootstrap for that process
tree, so building here at import time is the point of the module.
"""

from actors import settings as cfg
from actors.bootstrap import build_services
from actors.logs import configure_logging
from actors.tuning import tuning_from_env

configure_logging()

services = build_services(
    cfg.load_settings(require=cfg.DATABASE + cfg.QUEUE + cfg.CHAIN),
    tuning=tuning_from_env(),
    workers=True,
)
broker = services.broker
