"""Ligne de commande `dce` : analyse les options, appelle la bibliothèque, affiche en français."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from typing import Any

import click

from . import __version__, cli_fr
from .catalogue import resoudre_racine
from .erreurs import ErreurDCE

cli_fr.installer()

CONTEXTE = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def lire_date(valeur: str | None) -> dt.date | None:
    if not valeur:
        return None
    try:
        return dt.datetime.strptime(valeur, "%d/%m/%Y").date()
    except ValueError:
        raise click.BadParameter(f"« {valeur} » n'est pas une date JJ/MM/AAAA") from None


def option_droit_du(commande: Any) -> Any:
    """Option --droit-du JJ/MM/AAAA, reçue par la commande comme une date (ou None)."""
    return click.option("--droit-du", "droit_du", metavar="JJ/MM/AAAA", callback=lambda _c, _p, v: lire_date(v),
                        help="Appliquer le droit en vigueur à cette date plutôt qu'à la date de lancement.")(commande)


class Groupe(click.Group):
    """Groupe de commandes qui traduit les erreurs de dce en messages français et codes de sortie."""

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except ErreurDCE as exc:
            nombre = len(exc.problemes)
            click.secho(f"Erreur : {nombre} problème{'s' if nombre > 1 else ''} à corriger.", fg="red", err=True)
            for p in exc.problemes:
                click.echo(f"  - {p}", err=True)
            ctx.exit(2)
        except KeyboardInterrupt:
            click.echo("\nInterrompu : aucun fichier partiellement écrit.", err=True)
            ctx.exit(130)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except Exception as exc:  # noqa: BLE001 - dernier rempart : jamais de trace brute pour l'utilisateur
            if os.environ.get("DCE_DEBUG"):
                raise
            click.secho(f"Erreur interne de dce ({type(exc).__name__} : {exc}). "
                        "Relancer avec DCE_DEBUG=1 pour le détail et signaler l'anomalie.", fg="red", err=True)
            ctx.exit(3)


@click.group(cls=Groupe, context_settings=CONTEXTE, subcommand_metavar="COMMANDE [ARGUMENTS]...",
             options_metavar="[OPTIONS]")
@click.version_option(__version__, "-V", "--version", prog_name="dce", message="%(prog)s, version %(version)s")
@click.option("--catalogue", "racine", type=click.Path(file_okay=False, path_type=Path), envvar="DCE_RACINE",
              help="Dossier du catalogue (catalogue.yaml, clauses/, modeles/, acheteurs/). Défaut : celui de l'installation.")
@click.pass_context
def main(ctx: click.Context, racine: Path | None) -> None:
    """dce : rédige les pièces d'un dossier de consultation (RC, CCAP, CCTP) à partir d'un fichier de
    réponses, avec les clauses du catalogue juridique et la traçabilité des actions du SPASER."""
    ctx.obj = {"racine": resoudre_racine(racine)}


@main.command("generer")
@click.argument("reponses", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--sortie", type=click.Path(file_okay=False, path_type=Path), default=Path("sortie"),
              show_default=True, help="Dossier où écrire les documents.")
@option_droit_du
@click.option("--strict", is_flag=True,
              help="Ne rien écrire si une obligation légale n'est pas respectée (code de sortie 2).")
@click.option("--pdf", is_flag=True, help="Convertir aussi chaque pièce Word en PDF (LibreOffice).")
@click.option("--pdfa", is_flag=True, help="Comme --pdf, en PDF/A-2b, format d'archivage.")
@click.pass_context
def generer(ctx: click.Context, reponses: Path, sortie: Path, droit_du: dt.date | None, strict: bool, pdf: bool,
            pdfa: bool) -> None:
    """Génère le RC, le CCAP, le CCTP, la fiche de traçabilité SPASER, l'annexe de conformité et le manifeste.

    Code de sortie 1 si une obligation légale n'est pas respectée (les documents sont écrits quand même).
    """
    from .commandes_conformite import afficher_conformite
    from .generation import generer as generer_dce

    if pdf or pdfa:
        from .pdf import soffice

        soffice()  # LibreOffice absent : le dire avant d'écrire quoi que ce soit
    resultat = generer_dce(reponses, sortie, ctx.obj["racine"], droit_du, strict=strict)
    analyse = resultat.analyse
    click.echo(f"Consultation {analyse.contexte['reference']} : {len(analyse.retenues())} clauses retenues, "
               f"{len(analyse.contexte['lots'])} lot(s), droit en vigueur au {analyse.date_droit.strftime('%d/%m/%Y')}.")
    for nom, chemin in resultat.fichiers.items():
        click.echo(f"  écrit : {chemin}")
    if pdf or pdfa:
        from .publication import convertir_pieces

        for chemin in convertir_pieces(list(resultat.fichiers.values()), sortie, analyse, pdfa=pdfa).values():
            click.echo(f"  écrit : {chemin}")
    if resultat.conformite is not None and afficher_conformite(resultat.conformite):
        ctx.exit(1)


@main.group("catalogue", subcommand_metavar="COMMANDE [ARGUMENTS]...")
def groupe_catalogue() -> None:
    """Outils du service juridique sur le catalogue de clauses."""


@groupe_catalogue.command("verifier")
@click.pass_context
def catalogue_verifier(ctx: click.Context) -> None:
    """Vérifie tout le catalogue et signale chaque problème avec son fichier et sa ligne."""
    from .verification import verifier

    racine = ctx.obj["racine"]
    problemes = verifier(racine)
    if problemes:
        raise ErreurDCE(problemes)
    click.echo(f"Catalogue {racine} : aucun problème.")


def _charger_commandes() -> None:
    """Chaque module generateur/commandes_*.py ajoute ses commandes au groupe `main`."""
    import importlib
    import pkgutil

    from . import __path__ as chemins

    for module in sorted(m.name for m in pkgutil.iter_modules(chemins) if m.name.startswith("commandes_")):
        importlib.import_module(f"{__package__}.{module}")


_charger_commandes()

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
