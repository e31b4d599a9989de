"""Environnement Alembic : la connexion est fournie par `base.connexion.migrer` (aucun alembic.ini)."""

from __future__ import annotations

from alembic import context

from generateur.base.modeles import Base


def executer() -> None:
    connexion = context.config.attributes["connection"]
    context.configure(connection=connexion, target_metadata=Base.metadata,
                      render_as_batch=connexion.dialect.name == "sqlite")  # SQLite : ALTER TABLE par recopie
    with context.begin_transaction():
        context.run_migrations()


if hasattr(context, "config"):  # chargé par Alembic ; un simple import (inventaire des modules) ne fait rien
    executer()
