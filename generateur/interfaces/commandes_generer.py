"""Commande `dce generer` : les pièces d'une consultation, sa fiche de traçabilité, son annexe et son manifeste."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from .groupe import afficher_conformite, avertir_pieces_jointes, main, option_droit_du
from ..donnees.formats import pluriel


@main.command("generer")
@click.argument("reponses", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--sortie", type=click.Path(file_okay=False, path_type=Path), default=Path("sortie"),
              show_default=True, help="Dossier où écrire les documents.")
@option_droit_du
@click.option("--strict", is_flag=True,
              help="Ne rien écrire si une obligation légale n'est pas respectée ou si la relecture des pièces "
                   "trouve un défaut bloquant (code de sortie 2).")
@click.option("--pdf", is_flag=True, help="Convertir aussi chaque pièce Word en PDF (LibreOffice).")
@click.option("--pdfa", is_flag=True, help="Comme --pdf, en PDF/A-2b, format d'archivage.")
@click.pass_context
def generer(ctx: click.Context, reponses: Path, sortie: Path, droit_du: dt.date | None, strict: bool, pdf: bool,
            pdfa: bool) -> None:
    """Génère le RC, le CCAP, le CCTP, la fiche de traçabilité SPASER, l'annexe de conformité et le manifeste.

    Code de sortie 1 si une obligation légale n'est pas respectée (les documents sont écrits quand même).
    """
    from ..donnees.fichiers import ensemble
    from ..rendu.generation import ecrire, produire_dce

    if pdf or pdfa:
        from ..rendu.pdf import soffice
        from ..rendu.publication import convertir_pieces

        soffice()  # LibreOffice absent : le dire avant d'écrire quoi que ce soit
    # un dossier de sortie déjà rempli : les pièces Word dont les entrées n'ont pas changé y sont reprises
    dce = produire_dce(reponses, ctx.obj["racine"], droit_du, strict=strict,
                       precedente=sortie if sortie.is_dir() else None)
    noms = list(dce.contenus)
    with ensemble(sortie) as dossier:  # pièces et PDF mis en place ensemble, ou rien de nouveau
        fichiers = ecrire(dce.contenus, dossier)
        if pdf or pdfa:
            noms += [p.name for p in convertir_pieces(list(fichiers.values()), dossier, dce.analyse, pdfa=pdfa).values()]
    analyse = dce.analyse
    click.echo(f"Consultation {analyse.contexte['reference']} : {len(analyse.retenues())} clauses retenues, "
               f"{pluriel(analyse.contexte['lots'], 'lot')}, droit en vigueur au {analyse.date_droit.strftime('%d/%m/%Y')}.")
    for nom in noms:
        click.echo(f"  écrit : {sortie / nom}")
    avertir_pieces_jointes(analyse, reponses)
    if afficher_conformite(dce.conformite):
        ctx.exit(1)
