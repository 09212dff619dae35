"""Webhooks (DESIGN.md, Webhooks): events from the outbox (:mod:`.outbox`), their signed delivery
(:mod:`.delivery`) and the endpoints that receive them (:mod:`.endpoints`)."""
