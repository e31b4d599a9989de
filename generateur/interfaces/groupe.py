"""Le groupe de commandes `dce` : options communes, erreurs traduites en codes de sortie, verdicts affichés.

Chaque module commandes_*.py y ajoute ses commandes ; cli.py les rassemble.
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import sys
from pathlib import Path
from typing import Any

import click

from .. import __version__
from . import cli_fr
from ..donnees.catalogue import resoudre_racine
from ..droit.conformite import Conformite
from ..donnees.fichiers import RAISONS, erreur_systeme
from ..erreurs import ErreurDCE
from ..donnees.formats import pluriel

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
    """Groupe de commandes qui traduit les erreurs de dce en messages français et codes de sortie.

    `modules` : module (de ce paquet) qui ajoute chaque commande au groupe en s'important (cli.py) ; seul celui de la
    commande appelée est importé (motif « lazy loading » de click) : `dce generer` n'importe pas les modules des
    autres commandes. L'aide et une commande inconnue (liste des commandes proches) les importent tous."""

    modules: dict[str, str] = {}
    group_class = type  # ses sous-groupes (« dce base », « dce utilisateur »…) sont des Groupe, aide comprise

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("subcommand_metavar", "COMMANDE [ARGUMENTS]...")  # « COMMAND [ARGS]... » sinon
        super().__init__(*args, **kwargs)

    def _importer(self, nom: str | None) -> None:
        from importlib import import_module

        for module in sorted(set(self.modules.values())) if nom is None else [self.modules[nom]]:
            import_module(f"{__package__}.{module}")

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and self.modules:
            self._importer(cmd_name if cmd_name in self.modules else None)
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        if self.modules:
            self._importer(None)
        return super().list_commands(ctx)

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            try:
                return super().invoke(ctx)
            except OSError as exc:
                # droits, disque plein, lecture seule… : à corriger par l'utilisateur ; un fichier introuvable
                # hors du dossier de sortie peut venir de dce lui-même (code 3)
                if exc.errno not in RAISONS or exc.errno == errno.ENOENT:
                    raise
                raise erreur_systeme(exc) from None
        except ErreurDCE as exc:
            nombre = len(exc.problemes)
            click.secho(f"Erreur : {nombre} problème{'s' if nombre > 1 else ''} à corriger.", fg="red", err=True)
            for p in exc.problemes:
                click.echo(f"  - {p}", err=True)
            ctx.exit(2)
        except KeyboardInterrupt:
            click.echo("\nInterrompu : aucun fichier partiellement écrit.", err=True)
            ctx.exit(130)
        except BrokenPipeError:  # sortie lue par « | head » puis fermée : rien à signaler
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # pas de nouvelle erreur à la sortie
            ctx.exit(0)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except Exception as exc:  # noqa: BLE001 - dernier rempart : jamais de trace brute pour l'utilisateur
            if os.environ.get("DCE_DEBUG"):
                raise
            click.secho(f"Erreur interne de dce ({type(exc).__name__} : {exc}). "
                        "Relancer avec DCE_DEBUG=1 pour le détail et signaler l'anomalie.", fg="red", err=True)
            ctx.exit(3)


@click.group(cls=Groupe, context_settings=CONTEXTE)
@click.version_option(__version__, "-V", "--version", prog_name="dce", message="%(prog)s, version %(version)s")
@click.option("--catalogue", "racine", type=click.Path(file_okay=False, path_type=Path), envvar="DCE_RACINE",
              help="Dossier du catalogue (catalogue.yaml, clauses/, modeles/, acheteurs/). Défaut : celui de l'installation.")
@click.pass_context
def main(ctx: click.Context, racine: Path | None) -> None:
    """dce : rédige les pièces d'un dossier de consultation (RC, CCAP, CCTP) à partir d'un fichier de
    réponses, avec les clauses du catalogue juridique et la traçabilité des actions du SPASER."""
    ctx.obj = {"racine": resoudre_racine(racine)}


NBSP = "\u00a0"


COULEURS = {"non_conforme": "red", "a_verifier": "yellow", "justifie": "cyan"}


def avertir_pieces_jointes(analyse: Any, fichier_reponses: Path) -> None:
    """Pièce jointe par l'acheteur absente ou hors du dossier : avertissement (dce publier s'arrêtera)."""
    from ..rendu.generation import pieces_jointes_manquantes

    for message in pieces_jointes_manquantes(analyse, fichier_reponses):
        click.secho(f"Attention : {message} (dce publier s'arrêtera tant qu'elle manque).", fg="yellow", err=True)


def afficher_conformite(conformite: Conformite) -> bool:
    """Résumé des contrôles au terminal ; vrai si une obligation légale n'est pas respectée."""
    compte = {statut: conformite.compte(statut) for statut in ("conforme", "non_conforme", "a_verifier", "justifie",
                                                                 "sans_objet")}
    click.echo(f"Contrôles juridiques{NBSP}: {len(conformite.verdicts)} dont {pluriel(compte['conforme'], 'conforme')}, "
               f"{pluriel(compte['non_conforme'], 'non conforme', 'non conformes')}, {compte['a_verifier']} à vérifier, "
               f"{pluriel(compte['justifie'], 'justifié')}, {compte['sans_objet']} sans objet.")
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
