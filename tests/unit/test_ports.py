"""The ports are what the real adapters offer: ``ledger.unit_of_work.UnitOfWork`` and
``minter.rpc.ChainClient`` (and the fakes, and both kinds) satisfy them structurally, method by
method with the same parameters; not merely by name, as ``isinstance`` on a Protocol checks."""

from __future__ import annotations

import inspect
from typing import Protocol

import pytest
from sqlalchemy.orm import sessionmaker

from actors.workflows import ports
from actors.workflows.lifecycle import Kind
from actors.workflows.mints import MINTS
from actors.workflows.transfers import TRANSFERS
from ledger.unit_of_work import UnitOfWork
from minter.rpc import ChainClient
from tests.fakes import FakeChain, FakeLedger


def methods(proto: type) -> list[str]:
    """The methods a Protocol declares, its bases' included."""
    names = []
    for cls in proto.__mro__:
        if cls in (Protocol, object) or not getattr(cls, "_is_protocol", False):
            continue
        for name, value in vars(cls).items():
            if callable(value) and (not name.startswith("_") or name in ("__enter__", "__exit__")):
                names.append(name)
    return sorted(set(names))


def shape(fn) -> list[tuple[str, object, bool]]:
    """Parameters as a caller sees them: name, kind, and whether it may be left out."""
    params = list(inspect.signature(fn).parameters.values())
    if params and params[0].name == "self":
        params = params[1:]
    return [(p.name, p.kind, p.default is not inspect.Parameter.empty) for p in params]


def assert_satisfies(impl: object, proto: type) -> None:
    assert isinstance(impl, proto), f"{type(impl).__name__} is not a {proto.__name__}"
    for name in methods(proto):
        want, got = shape(getattr(proto, name)), shape(getattr(type(impl), name))
        assert got == want, f"{type(impl).__name__}.{name}{got} != {proto.__name__}{want}"


@pytest.fixture(params=["ledger", "fake"])
def uow(request):
    if request.param == "ledger":  # no engine: nothing here talks to a database
        with UnitOfWork(sessionmaker()) as uow:
            yield uow
    else:
        with FakeLedger().uow() as uow:
            yield uow


def test_the_unit_of_work_satisfies_its_port(uow):
    assert_satisfies(uow, ports.UnitOfWork)
    assert_satisfies(uow.mints, ports.MintRepository)
    assert_satisfies(uow.transfers, ports.TransferRepository)
    assert_satisfies(uow.attempts, ports.AttemptRepository)
    assert_satisfies(uow.metrics, ports.MetricsRepository)


@pytest.mark.parametrize("chain", ["client", "fake"])
def test_the_chain_satisfies_its_port(chain):
    impl = ChainClient("http://127.0.0.1:9") if chain == "client" else FakeChain()
    assert_satisfies(impl, ports.Chain)
    assert len(methods(ports.Chain)) == 12


@pytest.mark.parametrize("kind", [MINTS, TRANSFERS], ids=["mints", "transfers"])
def test_each_kind_satisfies_the_kind_protocol(kind):
    assert_satisfies(kind, Kind)


def test_a_missing_method_is_caught():
    class Partial:
        def latest_blockhash(self): ...

    assert not isinstance(Partial(), ports.Chain)

    class Misnamed(FakeChain):
        def send(self, data: bytes): ...

    with pytest.raises(AssertionError, match="send"):
        assert_satisfies(Misnamed(), ports.Chain)
