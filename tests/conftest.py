"""Session-wide fixtures live in tests/fixtures/; each module owns one kind of service."""

pytest_plugins = [
    "tests.fixtures.services",
    "tests.fixtures.validator",
    "tests.fixtures.ledger",
]
