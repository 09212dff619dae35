"""Operator inputs: tuning knobs, CSV rows, tables."""

import pytest

from actors.entrypoints.cli.mints import format_table, read_csv
from actors.infra.config import ChainSettings, DatabaseSettings, MintingSettings, load_settings
from actors.infra.errors import SettingsError


def test_tuning_defaults_and_overrides():
    s = load_settings({})
    assert (s.minting, s.chain, s.database) == (
        MintingSettings(),
        ChainSettings(),
        DatabaseSettings(),
    )
    t = load_settings(
        {"MINT_SEND_RATE": "250", "SOLANA_SKIP_PREFLIGHT": "true", "MINT_PENDING_AGE": "2.5"}
    )
    assert (t.minting.send_rate, t.chain.skip_preflight, t.minting.pending_age) == (250, True, 2.5)


@pytest.mark.parametrize("name,value", [("MINT_SEND_RATE", "fast"), ("MINT_PENDING_AGE", "-1")])
def test_bad_tuning_names_the_variable(name, value):
    with pytest.raises(SettingsError) as err:
        load_settings({name: value})
    assert err.value.name == name


def test_csv_rows_become_requests(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(
        "ticket_id,owner,name,symbol,uri,seller_fee_basis_points,seat\n"
        "T-1,Own1,Ticket 1,TIX,https://x/1.json,250,\n"
        "T-2,Own2,Ticket 2,TIX,https://x/2.json,,B12\n"
    )
    rows = read_csv(str(path))  # in the JSON form: metadata nested, the integer typed
    assert rows[0]["metadata"]["seller_fee_basis_points"] == 250 and "seat" not in rows[0]
    assert rows[1]["seat"] == "B12" and "seller_fee_basis_points" not in rows[1]["metadata"]


def test_table_aligns_columns():
    out = format_table([{"a": "x", "b": 1}, {"a": "long", "b": None}], ("a", "b"))
    lines = out.splitlines()
    assert lines[0].startswith("a     b")
    assert lines[3].rstrip() == "long"
