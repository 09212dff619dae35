"""The throwaway servers are real PostgreSQL and Redis, not stand-ins."""

import psycopg
import redis


def test_postgres_is_a_real_server(database_url):
    with psycopg.connect(database_url) as conn:
        version = conn.execute("SHOW server_version_num").fetchone()[0]
        conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
        conn.execute("INSERT INTO t VALUES (1)")
        count = conn.execute("SELECT count(*) FROM t").fetchone()[0]
    assert int(version) >= 150000
    assert count == 1


def test_each_test_gets_an_empty_database(database_url):
    with psycopg.connect(database_url) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()[0]
    assert tables == 0


def test_redis_is_a_real_server(redis_url):
    client = redis.Redis.from_url(redis_url)
    client.set("k", "v")
    assert client.get("k") == b"v"
    assert client.info("server")["redis_version"]
    client.close()


def test_postgres_survives_a_restart(postgres, database_url):
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (v text)")
        conn.execute("INSERT INTO kept VALUES ('before')")
    postgres.restart()
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT v FROM kept").fetchone()[0] == "before"
