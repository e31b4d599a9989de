"""Commandes `dce annexe` (annexe de conformité d'une consultation) et `dce bilan` (bilan SPASER d'un dossier)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from .groupe import NBSP, afficher_conformite, main, option_droit_du
from ..donnees.formats import pluriel
from ..erreurs import option_manquante


@main.command("annexe")
@click.argument("reponses", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--sortie", type=click.Path(file_okay=False, path_type=Path), default=Path("sortie"),
              show_default=True, help="Dossier où écrire l'annexe.")
@option_droit_du
@click.pass_context
def annexe(ctx: click.Context, reponses: Path, sortie: Path, droit_du: dt.date | None) -> None:
    """Écrit seule l'annexe de conformité (Word, JSON, CSV) d'une consultation.

    Code de sortie 1 si une obligation légale n'est pas respectée.
    """
    from ..rendu.generation import contenus_annexe, ecrire
    from ..pieces.lecture import controler
    from ..donnees.fichiers import ensemble, nom_sur
    from ..droit.regles import preparer

    analyse = preparer(reponses, ctx.obj["racine"], droit_du)
    conformite = controler(analyse)
    contenus = contenus_annexe(analyse, conformite, nom_sur(str(analyse.contexte["reference"])))
    with ensemble(sortie) as dossier:  # les trois fichiers ensemble, ou rien de nouveau
        ecrire(contenus, dossier)
    for nom in contenus:
        click.echo(f"  écrit{NBSP}: {sortie / nom}")
    if afficher_conformite(conformite):
        ctx.exit(1)


@main.command("bilan")
@click.argument("dossier", type=click.Path(exists=True, file_okay=False, path_type=Path), required=False)
@click.option("--annee", type=click.IntRange(2000, 2100), metavar="AAAA",
              help="Ne retenir que les consultations lancées cette année-là.")
@click.option("--acheteur", metavar="ID", help="Ne retenir que les consultations de ce profil d'acheteur.")
@click.option("-o", "--sortie", type=click.Path(file_okay=False, path_type=Path), default=Path("sortie"),
              show_default=True, help="Dossier où écrire le rapport et le classeur.")
@click.option("--base", "url", metavar="URL",
              help="Bilan des consultations de la base du serveur d'équipe (au lieu d'un DOSSIER).")
@click.option("--stockage", type=click.Path(file_okay=False, path_type=Path), default=Path("equipe"),
              show_default=True, help="Avec --base : dossier des pièces du serveur d'équipe.")
@click.pass_context
def bilan(ctx: click.Context, dossier: Path | None, annee: int | None, acheteur: str | None, sortie: Path,
          url: str | None, stockage: Path) -> None:
    """Bilan SPASER de toutes les consultations d'un dossier : rapport Word avec graphiques et classeur Excel.

    Chaque fichier de réponses (*.yaml) du dossier et de ses sous-dossiers est une consultation ; un bilan
    est écrit pour chaque acheteur présent.
    """
    from ..lot.bilan import bilans

    try:
        from ..lot.rapport_bilan import ecrire
    except ModuleNotFoundError as exc:  # graphiques : matplotlib, option [bilan]
        raise option_manquante(exc, "le bilan SPASER (graphiques)") from None

    if (dossier is None) == (url is None):
        raise click.UsageError("donner soit un DOSSIER de consultations, soit --base URL")
    if url is not None:
        from .commandes_equipe import dossier_de_la_base

        with dossier_de_la_base(url, stockage, ctx.obj["racine"]) as exporte:
            resultats = bilans(exporte, ctx.obj["racine"], annee, acheteur)
    else:
        resultats = bilans(dossier, ctx.obj["racine"], annee, acheteur)
    chemins = ecrire(resultats, sortie, ctx.obj["racine"], annee)
    for b in resultats:
        click.echo(f"{b.acheteur.profil['nom']}{NBSP}: {pluriel(b.consultations, 'consultation')}, "
                   f"{', '.join(str(a) for a in b.annees)}.")
    for chemin in chemins.values():
        click.echo(f"  écrit{NBSP}: {chemin}")
