"""Commande `dce publier` : le DCE complet en Word, Excel et PDF, sa liste des pièces et son archive zip."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from ..donnees.formats import pluriel
from .groupe import main, option_droit_du


@main.command("publier")
@click.argument("reponses", type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--sortie", type=click.Path(file_okay=False, path_type=Path),
              help="Dossier où écrire les pièces, leurs PDF, la liste et l'archive (défaut : « publication » ; pour "
                   "un DOSSIER de consultations, le sous-dossier publication/ de chacune).")
@option_droit_du
@click.option("--pdfa", is_flag=True, help="PDF/A-2b, format d'archivage, au lieu du PDF ordinaire.")
@click.option("--travailleurs", type=click.IntRange(1, 32), metavar="N",
              help="Conversions LibreOffice simultanées (défaut : selon le nombre de processeurs).")
@click.option("--strict", is_flag=True,
              help="Ne rien écrire si une obligation légale n'est pas respectée (code de sortie 2).")
@click.pass_context
def publier(ctx: click.Context, reponses: Path, sortie: Path | None, droit_du: dt.date | None, pdfa: bool,
            travailleurs: int | None, strict: bool) -> None:
    """REPONSES : un fichier de réponses, ou un DOSSIER de consultations (un sous-dossier par consultation avec son
    reponses.yaml, comme pour « dce regenerer ») publiées en lot avec une seule instance de LibreOffice par
    travailleur pour tout le lot (droit : --droit-du, sinon celui de la version en vigueur de chaque consultation,
    comme l'assistant web) ; code de sortie 1 si une consultation a échoué.

    Écrit le dossier de consultation des entreprises, à déposer sur le profil d'acheteur (REFERENCE-DCE/ et
    REFERENCE-DCE.zip : RC, acte d'engagement de chaque lot, CCAP, CCTP, bordereau des prix, cadre de mémoire
    technique en Word ou Excel et en PDF par LibreOffice, pièces jointes par l'acheteur), et le dossier interne
    (REFERENCE-interne/ et REFERENCE-interne.zip : annexe de conformité, fiche de traçabilité, manifeste,
    réponses), chacun avec sa liste des pièces et leurs empreintes SHA-256."""
    if reponses.is_dir():
        _publier_lot(ctx, reponses, sortie, droit_du, pdfa, travailleurs, strict)
        return
    from ..rendu.publication import publier as publier_dce

    publication = publier_dce(reponses, sortie or Path("publication"), ctx.obj["racine"], droit_du, pdfa=pdfa,
                              travailleurs=travailleurs, strict=strict,
                              progression=lambda _, message: click.echo(f"{message}…", err=True))
    analyse = publication.analyse
    redigees = [p for p in publication.pieces if p.pdf]
    jointes = [p for p in publication.pieces if not p.pdf]
    click.echo(f"Consultation {analyse.contexte['reference']} : {pluriel(len(redigees), 'pièce')}, chacune en "
               f"{'Word ou Excel' if any(p.fichier.suffix == '.xlsx' for p in redigees) else 'Word'} "
               f"et en {'PDF/A' if pdfa else 'PDF'}"
               + (f", et {pluriel(len(jointes), 'pièce jointe', 'pièces jointes')} par l'acheteur." if jointes else "."))
    click.echo(f"Dossier de consultation des entreprises : {publication.dossier}")
    for piece in publication.pieces:
        click.echo(f"  {piece.libelle} : {piece.fichier.name}{', ' + piece.pdf.name if piece.pdf else ''}")
    click.echo(f"  liste des pièces : {publication.liste.name}")
    click.echo(f"Dossier interne, à ne pas publier : {publication.dossier_interne}")
    for piece in publication.internes:
        click.echo(f"  {piece.libelle} : {piece.fichier.name}{', ' + piece.pdf.name if piece.pdf else ''}")
    click.echo(f"  liste des pièces : {publication.liste_interne.name if publication.liste_interne else '—'}")
    conformite = publication.generation.conformite
    if conformite is None or conformite.etat == "conforme":
        click.secho(f"Archive à déposer sur le profil d'acheteur : {publication.archive}", bold=True)
    else:  # l'annexe ne peut pas être signée : l'archive n'est qu'un projet, et on le dit là où on la nomme
        points = len(conformite.bloquants) + len(conformite.a_verifier)
        click.secho(f"Projet de DCE, à ne pas déposer sur le profil d'acheteur en l'état : {publication.archive}"
                    f" ({pluriel(points, 'point')} de l'annexe de conformité à régler avant le dépôt, listés "
                    "ci-dessous)", bold=True, fg="yellow")
    click.echo(f"Archive interne : {publication.archive_interne}")
    for avertissement in publication.avertissements:
        click.secho(f"Attention : {avertissement}", fg="yellow", err=True)
    if conformite is not None:
        from .groupe import afficher_conformite

        if afficher_conformite(conformite):
            ctx.exit(1)


def _publier_lot(ctx: click.Context, dossier: Path, sortie: Path | None, droit_du: dt.date | None, pdfa: bool,
                 travailleurs: int | None, strict: bool) -> None:
    """Rapport d'une publication en lot : une ligne par consultation publiée, les échecs sur la sortie d'erreur."""
    from ..lot.publication_lot import publier_lot

    bilan = publier_lot(dossier, sortie, ctx.obj["racine"], droit_du, pdfa=pdfa, travailleurs=travailleurs,
                        strict=strict, progression=lambda _, message: click.echo(f"{message}…", err=True))
    n = len(bilan.consultations)
    click.echo(f"{pluriel(n, 'consultation')} en {bilan.duree:.1f} s : "
               f"{pluriel(len(bilan.publiees), 'publiée', 'publiées')}, {len(bilan.echecs)} en échec ; "
               f"{pluriel(bilan.pieces_converties, 'pièce convertie', 'pièces converties')} en "
               f"{'PDF/A' if pdfa else 'PDF'}.")
    bloquants = []
    for c in bilan.publiees:
        publication = c.publication
        assert publication is not None
        conformite = publication.generation.conformite
        if conformite is not None and conformite.bloquants:
            bloquants.append(c)
        click.echo(f"  {c.dossier} : {publication.analyse.contexte['reference']}, archive {publication.archive}")
        for avertissement in publication.avertissements:
            click.secho(f"  Attention ({c.dossier}) : {avertissement}", fg="yellow", err=True)
    for c in bloquants:
        click.secho(f"  {c.dossier} : obligation légale non respectée, le dossier ne doit pas être publié en l'état "
                    f"(voir l'annexe de conformité).", fg="red", err=True)
    if bilan.echecs:
        click.secho(f"Échecs ({len(bilan.echecs)}) : rien n'a été écrit pour ces consultations.", fg="red", err=True)
        for c in bilan.echecs:
            click.echo(f"  - {c.dossier} : {c.erreur}", err=True)
    if bilan.echecs or bloquants:
        ctx.exit(1)
