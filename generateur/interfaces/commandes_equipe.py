"""`dce utilisateur ajouter | lister | desactiver` et `dce base migrer` : comptes et base du serveur d'équipe."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from .groupe import main

ROLES = ("acheteur", "juriste", "administrateur")


def option_base(commande: Any) -> Any:
    return click.option("--base", "url", envvar="DCE_BASE", show_envvar=True, default="sqlite:///equipe/dce.sqlite",
                        show_default=True,
                        help="Adresse de la base : sqlite:///chemin.sqlite ou postgresql://utilisateur@hote/base.")(commande)


def _ouvrir(url: str) -> Any:
    from sqlalchemy.orm import sessionmaker

    from ..base import connexion

    moteur = connexion.ouvrir(url)
    connexion.migrer(moteur)
    return sessionmaker(moteur, expire_on_commit=False)


@main.group("utilisateur")
def utilisateur() -> None:
    """Comptes du serveur d'équipe (dce serveur --equipe) : ajouter, lister, désactiver."""


@utilisateur.command("ajouter")
@click.argument("identifiant")
@click.option("--nom", default="", help="Nom affiché (par défaut l'identifiant).")
@click.option("--role", type=click.Choice(ROLES), default="acheteur", show_default=True)
@click.option("--service", default=None, help="Service (direction) de l'utilisateur ; créé s'il n'existe pas.")
@click.option("--mot-de-passe-stdin", "depuis_stdin", is_flag=True,
              help="Lire le mot de passe sur l'entrée standard (scripts) au lieu de le demander.")
@option_base
def ajouter(identifiant: str, nom: str, role: str, service: str | None, depuis_stdin: bool, url: str) -> None:
    """Ajoute un compte ; le mot de passe (12 caractères au moins) est demandé sans écho, puis haché (argon2id)."""
    from ..base import comptes, connexion

    connexion.exiger_option(url)
    if depuis_stdin:
        mot_de_passe = sys.stdin.readline().rstrip("\r\n")
    else:
        mot_de_passe = click.prompt("Mot de passe", hide_input=True, confirmation_prompt="Confirmer le mot de passe")
    with connexion.session(_ouvrir(url)) as s:
        compte = comptes.ajouter(s, identifiant, nom, role, mot_de_passe, service, qui=f"{os.environ.get('USER', 'système')} (ligne de commande)")
        click.echo(f"Utilisateur « {compte.identifiant} » ajouté : {role}"
                   + (f", service {compte.service.nom}" if compte.service else "") + ".")


@utilisateur.command("lister")
@option_base
def lister(url: str) -> None:
    """Liste les comptes : identifiant, nom, rôle, service, état."""
    from ..base import comptes, connexion

    connexion.exiger_option(url)
    with connexion.session(_ouvrir(url)) as s:
        liste = comptes.lister(s)
        if not liste:
            click.echo("Aucun utilisateur : en ajouter un avec « dce utilisateur ajouter ».")
        for u in liste:
            click.echo(f"{u.identifiant}\t{u.nom}\t{u.role}\t{u.service.nom if u.service else '—'}\t"
                       f"{'actif' if u.actif else 'désactivé'}")


@utilisateur.command("desactiver")
@click.argument("identifiant")
@option_base
def desactiver(identifiant: str, url: str) -> None:
    """Désactive un compte : il ne peut plus se connecter, ses sessions ouvertes se ferment ; son travail reste."""
    from ..base import comptes, connexion

    connexion.exiger_option(url)
    with connexion.session(_ouvrir(url)) as s:
        comptes.desactiver(s, identifiant, qui=f"{os.environ.get('USER', 'système')} (ligne de commande)")
    click.echo(f"Compte « {identifiant} » désactivé.")


@main.group("base")
def base() -> None:
    """Base de données du serveur d'équipe."""


@base.command("migrer")
@option_base
def migrer(url: str) -> None:
    """Met la base au niveau de cette version de dce (migrations Alembic) ; sans effet si elle y est déjà."""
    from ..base import connexion

    moteur = connexion.ouvrir(url)
    avant = connexion.niveau(moteur)
    connexion.migrer(moteur)
    apres = connexion.niveau(moteur)
    click.echo(f"Base au niveau {apres}" + (f" (était {avant or 'vide'})." if avant != apres else " (déjà à jour)."))
