"""`dce utilisateur ajouter | lister | desactiver`, `dce base migrer | importer` : comptes et base du serveur
d'équipe ; `dossier_de_la_base` prête la base à `dce regenerer --base` et `dce bilan --base`."""

from __future__ import annotations

import datetime as dt
import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

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
        compte = comptes.ajouter(s, identifiant, nom, role, mot_de_passe, service, qui=_qui())
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
        comptes.desactiver(s, identifiant, qui=_qui())
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


def option_stockage(commande: Any) -> Any:
    return click.option("--stockage", type=click.Path(file_okay=False, path_type=Path), default=Path("equipe"),
                        show_default=True, help="Dossier des pièces du serveur d'équipe.")(commande)


@contextmanager
def dossier_de_la_base(url: str, stockage: Path, racine: Path | None) -> Iterator[Path]:
    """Les consultations de la base exportées dans la disposition de `dce regenerer` (stockage/lot/AAAAMMJJ-HHMMSS) ;
    à la sortie, les nouvelles versions produites dans ce dossier deviennent des générations en base."""
    from sqlalchemy import select

    from ..base import connexion, echange
    from ..base.dce import Stockage
    from ..base.modeles import Consultation
    from ..donnees.catalogue import resoudre_racine
    from ..lot.regeneration import version_courante

    connexion.exiger_option(url)
    racine = resoudre_racine(racine)
    fabrique = _ouvrir(url)
    pieces = Stockage(stockage / "pieces")
    # un dossier neuf par commande : deux commandes lancées dans la même seconde (regenerer puis bilan) ne se
    # partagent jamais un export
    (stockage / "lot").mkdir(parents=True, exist_ok=True)
    dossier = Path(tempfile.mkdtemp(prefix=dt.datetime.now().strftime("%Y%m%d-%H%M%S-"), dir=stockage / "lot"))
    with connexion.session(fabrique) as s:
        correspondance = echange.exporter(s, pieces, list(s.scalars(select(Consultation).order_by(Consultation.id))),
                                          dossier)
    avant = {nom: version_courante(dossier / nom) for nom in correspondance}
    click.echo(f"{len(correspondance)} consultation(s) de la base exportée(s) dans {dossier}")
    yield dossier
    with connexion.session(fabrique) as s:
        nouvelles = echange.reprendre_versions(s, pieces, dossier, correspondance, avant, _qui(), racine)
    if nouvelles:
        click.echo(f"Base : {len(nouvelles)} nouvelle(s) version(s) enregistrée(s) ({', '.join(nouvelles)}).")


def _qui() -> str:
    return f"{os.environ.get('USER', 'système')} (ligne de commande)"


@base.command("importer")
@click.argument("dossier", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--service", required=True, help="Service (direction) auquel rattacher les consultations ; créé au besoin.")
@option_base
@option_stockage
@click.pass_context
def importer(ctx: click.Context, dossier: Path, service: str, url: str, stockage: Path) -> None:
    """Importe un dossier de consultations (celui de `dce regenerer`) : réponses et versions générées. Une
    référence déjà présente dans le service est ignorée : l'import peut être relancé."""
    from ..base import comptes, connexion, echange
    from ..base.dce import Stockage
    from ..donnees.catalogue import resoudre_racine

    connexion.exiger_option(url)
    with connexion.session(_ouvrir(url)) as s:
        rattache = comptes.service(s, service, _qui(), creer=True)
        resultat = echange.importer(s, Stockage(stockage / "pieces"), dossier, rattache, _qui(),
                                    resoudre_racine(ctx.obj["racine"]))
    click.echo(f"{len(resultat.importees)} consultation(s) importée(s) dans le service « {service} », "
               f"{len(resultat.ignorees)} déjà présente(s), {len(resultat.erreurs)} illisible(s).")
    for erreur in resultat.erreurs:
        click.echo(f"  - {erreur}", err=True)
