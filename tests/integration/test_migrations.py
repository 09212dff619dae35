"""Migrations against a real PostgreSQL: what upgrade creates, and what downgrade leaves."""

import psycopg
import pytest

from ledger.migrate import current, downgrade, upgrade


def _one(url, sql, *args):
    with psycopg.connect(url) as conn:
        return conn.execute(sql, args).fetchall()


def unique_columns(url, table):
    rows = _one(
        url,
        "SELECT a.attname FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid "
        "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY(c.conkey) "
        "WHERE t.relname = %s AND c.contype = 'u' AND array_length(c.conkey, 1) = 1",
        table,
    )
    return {r[0] for r in rows}


def check_constraints(url, table):
    rows = _one(
        url,
        "SELECT c.conname, pg_get_constraintdef(c.oid) FROM pg_constraint c "
        "JOIN pg_class t ON t.oid = c.conrelid WHERE t.relname = %s AND c.contype = 'c'",
        table,
    )
    return dict(rows)


def tables(url):
    return {r[0] for r in _one(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


def test_upgrade_creates_tables_keys_and_checks(database_url):
    upgrade(database_url)
    assert current(database_url) == "0005"
    assert {"nft_mints", "nft_transfers", "nft_attempts", "nft_collections", "metrics"} <= tables(
        database_url
    )
    assert {"event_id", "collection_address"} <= unique_columns(database_url, "nft_collections")
    assert {"ticket_id", "mint_address"} <= unique_columns(database_url, "nft_mints")
    assert {"transfer_id", "signature"} <= unique_columns(database_url, "nft_transfers")
    assert "signature" in unique_columns(database_url, "nft_attempts")
    for table in ("nft_mints", "nft_transfers", "nft_collections"):
        checks = check_constraints(database_url, table)
        status = checks[f"ck_{table}_status"]
        for s in ("pending", "submitted", "completed", "failed"):
            assert f"'{s}'" in status


def test_status_check_rejects_unknown_status(database_url):
    upgrade(database_url)
    with psycopg.connect(database_url) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(
            "INSERT INTO nft_mints (ticket_id, mint_address, owner_address, standard, metadata,"
            " payload, status) VALUES ('t', 'm', 'o', 'token2022', '{}', '{}', 'minted')"
        )


def test_unique_ticket_id_holds(database_url):
    upgrade(database_url)
    sql = (
        "INSERT INTO nft_mints (ticket_id, mint_address, owner_address, standard, metadata,"
        " payload) VALUES ('t', %s, 'o', 'token2022', '{}', '{}')"
    )
    with psycopg.connect(database_url) as conn:
        conn.execute(sql, ("m1",))
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(sql, ("m2",))


def test_downgrade_leaves_a_metrics_table_that_existed(database_url):
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE metrics (id serial PRIMARY KEY, metric_name varchar(255) NOT NULL,"
            " service_name varchar(255) NOT NULL, value double precision NOT NULL,"
            " metric_type varchar(32) NOT NULL, labels jsonb DEFAULT '{}',"
            " timestamp timestamptz DEFAULT now())"
        )
        conn.execute(
            "INSERT INTO metrics (metric_name, service_name, value, metric_type)"
            " VALUES ('cpu', 'monitoring-service', 0.5, 'gauge')"
        )
    upgrade(database_url)
    downgrade(database_url, "base")
    assert tables(database_url) == {"metrics", "alembic_version"}
    assert _one(database_url, "SELECT metric_name, value FROM metrics") == [("cpu", 0.5)]


def test_downgrade_removes_metrics_when_we_created_it(database_url):
    upgrade(database_url)
    assert "metrics" in tables(database_url)
    downgrade(database_url, "base")
    assert tables(database_url) == {"alembic_version"}
    upgrade(database_url)
    assert {"nft_mints", "metrics"} <= tables(database_url)


def test_0002_adds_core_and_downgrades_to_0001(database_url):
    upgrade(database_url)
    assert "'core'" in check_constraints(database_url, "nft_mints")["ck_nft_mints_standard"]
    policy = check_constraints(database_url, "nft_collections")
    assert "'locked_until_checkin'" in policy["ck_nft_collections_transfer_policy"]
    downgrade(database_url, "0001")
    assert current(database_url) == "0001"
    assert "nft_collections" not in tables(database_url)
    assert "'core'" not in check_constraints(database_url, "nft_mints")["ck_nft_mints_standard"]
    upgrade(database_url)
    assert current(database_url) == "0005"


def columns(url, table):
    rows = _one(
        url,
        "SELECT column_name, is_nullable FROM information_schema.columns WHERE table_name = %s",
        table,
    )
    return dict(rows)


def test_0005_records_each_attempts_payer_and_downgrades_to_0004(database_url):
    upgrade(database_url, "0004")
    with psycopg.connect(database_url) as conn:  # an attempt signed before the pool
        conn.execute(
            "INSERT INTO nft_attempts (kind, ref_id, signature, last_valid_block_height)"
            " VALUES ('mint', 'T-1', 'sig-old', 10)"
        )
    upgrade(database_url)
    assert current(database_url) == "0005"
    assert columns(database_url, "nft_attempts")["payer"] == "YES"  # nullable: older ones
    assert _one(database_url, "SELECT payer FROM nft_attempts") == [(None,)]
    downgrade(database_url, "0004")
    assert "payer" not in columns(database_url, "nft_attempts")
    upgrade(database_url)
