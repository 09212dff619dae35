"""Which failures the RPC policy treats as transient, and which sends it may retry."""

import httpx
import pytest
from solana.exceptions import SolanaRpcException
from solana.rpc.core import RPCException
from solders.rpc.errors import NodeUnhealthyMessage, SendTransactionPreflightFailureMessage
from solders.rpc.responses import RpcSimulateTransactionResult

from minter.rpc import _NOT_TAKEN, fault_kind


def _wrapped(cause: Exception) -> SolanaRpcException:
    try:
        try:
            raise cause
        except Exception as inner:
            raise SolanaRpcException(inner, lambda *a: None, None, object()) from inner
    except SolanaRpcException as outer:
        return outer


def _status(code: int) -> httpx.HTTPStatusError:
    req = httpx.Request("POST", "http://127.0.0.1:1")
    return httpx.HTTPStatusError("x", request=req, response=httpx.Response(code, request=req))


def _preflight(err_json: str) -> RPCException:
    msg = SendTransactionPreflightFailureMessage.from_json(
        '{"code":-32002,"message":"Transaction simulation failed","data":'
        '{"err":' + err_json + ',"logs":[],"accounts":null,"unitsConsumed":0,'
        '"returnData":null,"innerInstructions":null}}'
    )
    return RPCException(msg)


@pytest.mark.parametrize(
    "exc,kind",
    [
        (_wrapped(httpx.ReadTimeout("t")), "timeout"),
        (_wrapped(httpx.ConnectError("refused")), "connect"),
        (_wrapped(httpx.RemoteProtocolError("closed")), "transport"),
        (_wrapped(_status(429)), "http_429"),
        (_wrapped(_status(503)), "http_5xx"),
        (_wrapped(_status(400)), None),
        (
            RPCException(
                NodeUnhealthyMessage.from_json(
                    '{"code":-32005,"message":"Node is behind by 42 slots",'
                    '"data":{"numSlotsBehind":42}}'
                )
            ),
            "node_behind",
        ),
        (_preflight('"BlockhashNotFound"'), "blockhash_not_found"),
        (_preflight('{"InstructionError":[1,{"Custom":0}]}'), None),
        (ValueError("x"), None),
    ],
)
def test_fault_kind(exc, kind):
    assert fault_kind(exc) == kind


def test_sends_are_retried_only_when_nothing_was_taken():
    # a timeout or a dropped response may have landed: the confirmer resolves those
    assert {"timeout", "transport", "http_5xx"}.isdisjoint(_NOT_TAKEN)
    assert {"connect", "http_429", "node_behind", "blockhash_not_found"} == _NOT_TAKEN


def test_simulation_result_shape_is_what_the_policy_reads():
    # guards the attribute names ChainClient.simulate relies on
    assert {"err", "logs", "units_consumed"} <= set(dir(RpcSimulateTransactionResult))


def test_only_the_payers_own_shortage_waits_for_funding():
    from actors.workflows.lifecycle import payer_problem

    assert payer_problem("TransactionErrorInsufficientFundsForFee")
    assert payer_problem("TransactionErrorInsufficientFundsForRent {\n    account_index: 0,\n}")
    # another account short of rent is the transaction's fault: funding the payer won't help
    assert not payer_problem("TransactionErrorInsufficientFundsForRent {\n    account_index: 1,\n}")
    assert not payer_problem("TransactionErrorFieldless.AlreadyProcessed")
