# The service image: the `minter` command with every dependency. Used by docker-compose.yml.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY minter ./minter
COPY ledger ./ledger
COPY actors ./actors
COPY migrations ./migrations
RUN pip install --no-cache-dir .
USER nobody
ENTRYPOINT ["minter"]
