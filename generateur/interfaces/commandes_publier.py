"""Commande `dce publier` : le DCE complet en Word, Excel et PDF, sa liste des pièces et son archive zip."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from .groupe import main, option_droit_du


@main.command("publier")
@click.argument("reponses", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--sortie", type=click.Path(file_okay=False, path_type=Path), default=Path("publication"),
              show_default=True, help="Dossier où écrire les pièces, leurs PDF, la liste et l'archive.")
@option_droit_du
@click.option("--pdfa", is_flag=True, help="PDF/A-2b, format d'archivage, au lieu du PDF ordinaire.")
@click.option("--travailleurs", type=click.IntRange(1, 32), metavar="N",
              help="Conversions LibreOffice simultanées (défaut : selon le nombre de processeurs).")
@click.option("--strict", is_flag=True,
              help="Ne rien écrire si une obligation légale n'est pas respectée (code de sortie 2).")
@click.pass_context
def publier(ctx: click.Context, reponses: Path, sortie: Path, droit_du: dt.date | None, pdfa: bool,
            travailleurs: int | None, strict: bool) -> None:
    """Écrit le DCE à déposer sur le profil d'acheteur : RC, acte d'engagement de chaque lot, CCAP, CCTP,
    bordereau des prix, cadre de mémoire technique et annexes, en Word ou Excel et en PDF (LibreOffice),
    la liste des pièces avec leur empreinte SHA-256 et l'archive REFERENCE.zip."""
    from ..rendu.publication import publier as publier_dce

    publication = publier_dce(reponses, sortie, ctx.obj["racine"], droit_du, pdfa=pdfa,
                              travailleurs=travailleurs, strict=strict)
    analyse = publication.analyse
    click.echo(f"Consultation {analyse.contexte['reference']} : {len(publication.pieces)} pièces, chacune en "
               f"{'Word ou Excel' if any(p.fichier.suffix == '.xlsx' for p in publication.pieces) else 'Word'} "
               f"et en {'PDF/A' if pdfa else 'PDF'}.")
    for piece in publication.pieces:
        click.echo(f"  {piece.libelle} : {piece.fichier.name}, {piece.pdf.name if piece.pdf else '—'}")
    click.echo(f"  liste des pièces : {publication.liste}")
    click.secho(f"Archive à déposer : {publication.archive}", bold=True)
    for avertissement in publication.avertissements:
        click.secho(f"Attention : {avertissement}", fg="yellow", err=True)
    conformite = publication.generation.conformite
    if conformite is not None:
        from .groupe import afficher_conformite

        if afficher_conformite(conformite):
            ctx.exit(1)
