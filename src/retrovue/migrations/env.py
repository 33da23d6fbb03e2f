"""Alembic environment: retrovue passes its own connection (see retrovue.database.migrate)."""

from alembic import context
from sqlalchemy import create_engine

from retrovue.database.tables import metadata

config = context.config
target_metadata = metadata


def run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:  # `alembic -x url=...` from a shell, for authoring migrations
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    with create_engine(url).begin() as conn:
        run(conn)
