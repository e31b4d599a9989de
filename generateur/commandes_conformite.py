"""Commandes `dce annexe` (annexe de conformité d'une consultation) et `dce bilan` (bilan SPASER d'un dossier)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from .cli import main, option_droit_du
from .conformite import Conformite

NBSP = "\u00a0"
COULEURS = {"non_conforme": "red", "a_verifier": "yellow", "justifie": "cyan"}


def afficher_conformite(conformite: Conformite) -> bool:
    """Résumé des contrôles au terminal ; vrai si une obligation légale n'est pas respectée."""
    compte = {statut: conformite.compte(statut) for statut in ("conforme", "non_conforme", "a_verifier", "justifie",
                                                                 "sans_objet")}
    click.echo(f"Contrôles juridiques{NBSP}: {len(conformite.verdicts)} dont {compte['conforme']} conforme(s), "
               f"{compte['non_conforme']} non conforme(s), {compte['a_verifier']} à vérifier, "
               f"{compte['justifie']} justifié(s), {compte['sans_objet']} sans objet.")
    for v in conformite.verdicts:
        if v.statut in COULEURS:
            click.secho(f"  {v.libelle_statut.upper()} – {v.libelle} ({', '.join(v.articles)}){NBSP}: {v.message}",
                        fg=COULEURS[v.statut])
    if conformite.bloquants:
        n = len(conformite.bloquants)
        click.secho(f"{n} obligation{'s' if n > 1 else ''} légale{'s' if n > 1 else ''} non respectée{'s' if n > 1 else ''}"
                    f"{NBSP}: le dossier ne doit pas être publié en l'état (voir l'annexe de conformité).",
                    fg="red", err=True)
    return bool(conformite.bloquants)


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
    from . import annexe as module_annexe
    from .conformite import verifier
    from .documents import ecrire_atomique
    from .generation import nom_sur, preparer

    analyse = preparer(reponses, ctx.obj["racine"], droit_du)
    conformite = verifier(analyse)
    contenus = module_annexe.contenus(analyse, conformite, nom_sur(str(analyse.contexte["reference"])))
    for nom, contenu in contenus.items():
        ecrire_atomique(sortie / nom, contenu)
        click.echo(f"  écrit{NBSP}: {sortie / nom}")
    if afficher_conformite(conformite):
        ctx.exit(1)


@main.command("bilan")
@click.argument("dossier", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--annee", type=click.IntRange(2000, 2100), metavar="AAAA",
              help="Ne retenir que les consultations lancées cette année-là.")
@click.option("--acheteur", metavar="ID", help="Ne retenir que les consultations de ce profil d'acheteur.")
@click.option("-o", "--sortie", type=click.Path(file_okay=False, path_type=Path), default=Path("sortie"),
              show_default=True, help="Dossier où écrire le rapport et le classeur.")
@click.pass_context
def bilan(ctx: click.Context, dossier: Path, annee: int | None, acheteur: str | None, sortie: Path) -> None:
    """Bilan SPASER de toutes les consultations d'un dossier : rapport Word avec graphiques et classeur Excel.

    Chaque fichier de réponses (*.yaml) du dossier et de ses sous-dossiers est une consultation ; un bilan
    est écrit pour chaque acheteur présent.
    """
    from .bilan import bilans
    from .rapport_bilan import ecrire

    resultats = bilans(dossier, ctx.obj["racine"], annee, acheteur)
    chemins = ecrire(resultats, sortie, ctx.obj["racine"], annee)
    for b in resultats:
        click.echo(f"{b.acheteur.profil['nom']}{NBSP}: {len(b.consultations)} consultation(s), "
                   f"{', '.join(str(a) for a in b.annees)}.")
    for chemin in chemins.values():
        click.echo(f"  écrit{NBSP}: {chemin}")
