"""Session-wide fixtures live in tests/support/; each module owns one kind of service."""

pytest_plugins = [
    "tests.support.services",
    "tests.support.validator",
    "tests.support.ledger",
]
