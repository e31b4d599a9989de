"""Ouvrir la base (SQLite embarqué ou PostgreSQL, d'après son URL) et la mettre au niveau par les migrations Alembic.

Les bibliothèques du serveur d'équipe (SQLAlchemy, Alembic, argon2, waitress, psycopg) sont l'option `[equipe]`
de dce : sans elle, `exiger_option` dit en français comment l'installer au lieu d'une trace Python.
"""

from __future__ import annotations

import importlib.util
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from ..erreurs import ErreurDCE, Probleme

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
URL_PAR_DEFAUT = "sqlite:///equipe/dce.sqlite"
_MODULES_OPTION = {"sqlalchemy": "sqlalchemy", "alembic": "alembic", "argon2": "argon2-cffi", "waitress": "waitress"}


def exiger_option(url: str | None = None) -> None:
    """Erreur claire si l'option [equipe] n'est pas installée (ou psycopg pour une base PostgreSQL)."""
    manquants = [paquet for module, paquet in _MODULES_OPTION.items() if importlib.util.find_spec(module) is None]
    if url and url.startswith("postgresql") and importlib.util.find_spec("psycopg") is None:
        manquants.append("psycopg[binary]")
    if manquants:
        raise ErreurDCE(Probleme(
            f"le serveur d'équipe demande l'option « equipe » de dce (manque : {', '.join(manquants)}) ; "
            "l'installer avec : pip install 'dce[equipe]'"))


def normaliser_url(url: str) -> str:
    """postgresql://… utilise psycopg 3 (pilote de l'option [equipe]) ; sqlite:///chemin reste tel quel."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def ouvrir(url: str) -> Any:
    """Moteur SQLAlchemy de la base `url` ; le dossier d'une base SQLite est créé au besoin."""
    exiger_option(url)
    from sqlalchemy import create_engine, event
    from sqlalchemy.engine import make_url

    url = normaliser_url(url)
    try:
        adresse = make_url(url)
    except Exception:  # noqa: BLE001 - URL mal écrite : message en français
        raise ErreurDCE(Probleme(f"adresse de base de données illisible « {url} » (exemples : "
                                 "sqlite:///equipe/dce.sqlite, postgresql://dce@localhost/dce)")) from None
    if adresse.get_backend_name() == "sqlite":
        if adresse.database and adresse.database != ":memory:":
            Path(adresse.database).parent.mkdir(parents=True, exist_ok=True)
        moteur = create_engine(url, connect_args={"check_same_thread": False, "timeout": 60})

        @event.listens_for(moteur, "connect")
        def _reglages(connexion: Any, _enregistrement: Any) -> None:
            curseur = connexion.cursor()
            curseur.execute("PRAGMA foreign_keys=ON")
            curseur.execute("PRAGMA journal_mode=WAL")  # lectures pendant une écriture, à plusieurs
            curseur.execute("PRAGMA busy_timeout=60000")
            curseur.close()
        return moteur
    if adresse.get_backend_name() != "postgresql":
        raise ErreurDCE(Probleme(f"base « {adresse.get_backend_name()} » non prise en charge : SQLite ou PostgreSQL"))
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def _config(moteur: Any, connexion: Any) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connexion
    return config


def migrer(moteur: Any, cible: str = "head") -> None:
    """Met la base au niveau `cible` (la dernière migration par défaut) ; sans effet si elle y est déjà."""
    from alembic import command

    with moteur.begin() as connexion:
        command.upgrade(_config(moteur, connexion), cible)


def niveau(moteur: Any) -> str | None:
    """Révision Alembic de la base (None : base vide)."""
    from alembic.runtime.migration import MigrationContext

    with moteur.connect() as connexion:
        return MigrationContext.configure(connexion).get_current_revision()


def derniere_revision() -> str:
    from alembic.script import ScriptDirectory

    return str(ScriptDirectory(str(MIGRATIONS)).get_current_head())


@contextmanager
def session(fabrique: Any) -> Iterator[Any]:
    """Une transaction : validée à la sortie, annulée sur erreur."""
    s = fabrique()
    try:
        yield s
        s.commit()
    except BaseException:
        s.rollback()
        raise
    finally:
        s.close()
