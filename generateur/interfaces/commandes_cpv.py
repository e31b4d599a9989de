"""Commande `dce cpv chercher` : trouver un code CPV par un mot de son libellé, ou par ses premiers chiffres."""

from __future__ import annotations

import click

from ..donnees import cpv
from .groupe import main


@main.group("cpv")
def groupe_cpv() -> None:
    """La nomenclature CPV 2008 (règlement (CE) n° 213/2008), avec ses libellés français."""


@groupe_cpv.command("chercher")
@click.argument("mots", nargs=-1, required=True)
@click.option("-n", "--nombre", type=click.IntRange(1, 500), default=20, show_default=True,
              help="Nombre de codes affichés au plus.")
def chercher(mots: tuple[str, ...], nombre: int) -> None:
    """Codes CPV dont le libellé contient tous les MOTS (sans tenir compte des accents), ou qui commencent
    par les chiffres donnés. Exemple : dce cpv chercher travaux peinture"""
    requete = " ".join(mots)
    trouves = cpv.chercher(requete, nombre)
    if not trouves:
        raise click.ClickException(f"aucun code CPV ne correspond à « {requete} » : essayer un mot plus court "
                                   "ou les premiers chiffres du code")
    for c in trouves:
        click.echo(f"{c.code}  {c.libelle}")
