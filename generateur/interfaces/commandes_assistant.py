"""Commandes de l'acheteur : `dce nouveau`, `dce verifier`, `dce expliquer` et `dce questionnaire schema`."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Callable

import click

from .groupe import main, option_droit_du

NBSP = "\u00a0"


class Terminal:
    """L'interface de l'assistant sur le terminal (click : Ctrl-C et fin de saisie lèvent Abort)."""

    def demander(self, invite: str) -> str:
        try:
            return click.prompt(invite, default="", show_default=False, prompt_suffix=" ")
        except click.exceptions.Abort:  # Ctrl-C ou fin de saisie : l'assistant garde son brouillon
            raise KeyboardInterrupt from None

    def afficher(self, texte: str = "") -> None:
        click.echo(texte)


@main.command("nouveau")
@click.argument("fichier", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def nouveau(ctx: click.Context, fichier: Path | None) -> None:
    """Assistant : pose le questionnaire une question à la fois et écrit le fichier de réponses.

    Sur un FICHIER existant, chaque réponse est proposée par défaut (modification). Le fichier n'est écrit
    qu'après le récapitulatif, d'un seul coup ; un brouillon garde les réponses à chaque section et au Ctrl-C,
    et la même commande le reprend. Au récapitulatif, « m » modifie une réponse.
    """
    from .assistant import Assistant

    existant = fichier if fichier is not None and fichier.exists() else None
    assistant = Assistant(ctx.obj["racine"], Terminal(), existant)
    try:
        ecrit = assistant.executer(fichier)
    except (KeyboardInterrupt, EOFError, click.exceptions.Abort):
        garde = assistant.brouillon if assistant.brouillon is not None and assistant.brouillon.is_file() else None
        suite = (f"réponses gardées dans le brouillon {garde} ; relancer la même commande pour reprendre"
                 if garde else "aucune réponse à garder")
        click.echo(f"\nInterrompu{NBSP}: le fichier de réponses n'est pas écrit ; {suite}.", err=True)
        ctx.exit(130)
    if ecrit is None:
        ctx.exit(1)


def _fichier_de_reponses(commande: Callable[..., None]) -> Callable[..., None]:
    """Argument REPONSES et option --droit-du, communs à `verifier` et `expliquer`."""
    commande = option_droit_du(commande)
    return click.argument("reponses", type=click.Path(exists=True, dir_okay=False, path_type=Path))(commande)


@main.command("verifier")
@_fichier_de_reponses
@click.pass_context
def verifier(ctx: click.Context, reponses: Path, droit_du: dt.date | None) -> None:
    """Vérifie un fichier de réponses sans rien écrire : tous les problèmes d'un coup, avec ligne et champ.

    Code de sortie 2 si le fichier est invalide, 1 si une obligation légale n'est pas respectée, 0 sinon.
    """
    from ..donnees import questionnaire
    from ..droit import suggestions
    from .groupe import afficher_conformite, avertir_pieces_jointes
    from ..pieces.lecture import controler
    from ..droit.explication import refus_a_justifier
    from ..donnees.formats import montant
    from ..droit.regles import preparer
    from ..donnees.formats import typographie

    analyse = preparer(reponses, ctx.obj["racine"], droit_du)
    ctx_regles = analyse.contexte
    lots = ctx_regles["lots"]
    click.echo(f"{reponses}{NBSP}: fichier valide ({len(lots)} lot{'s' if len(lots) > 1 else ''}, "
               f"{montant(ctx_regles['montant_total'])}, {ctx_regles['procedure_libelle'].lower()}).")
    suivies = suggestions.etats(suggestions.charger(ctx.obj["racine"] / "questionnaire.yaml"), ctx_regles)
    q = questionnaire.charger(ctx.obj["racine"] / "questionnaire.yaml")
    for etat in refus_a_justifier(suivies):
        s = etat.suggestion
        suite = (f"motiver le refus dans la réponse « {q.libelle(s.justification)} »" if s.justification
                 else "aucun refus n'est possible")
        click.secho(typographie(f"  À JUSTIFIER – {s.titre} ({s.reference}) : {suite}."), fg="yellow")
    avertir_pieces_jointes(analyse, reponses)
    if afficher_conformite(controler(analyse)):
        ctx.exit(1)


@main.command("expliquer")
@_fichier_de_reponses
@click.pass_context
def expliquer(ctx: click.Context, reponses: Path, droit_du: dt.date | None) -> None:
    """Sans écrire de document : clauses retenues et écartées (règle et réponses lues), actions du SPASER,
    valeurs calculées, suggestions et écarts au droit et aux cibles de l'acheteur."""
    from ..droit import explication, suggestions
    from ..pieces.lecture import controler
    from ..droit.regles import preparer

    analyse = preparer(reponses, ctx.obj["racine"], droit_du)
    resultat = explication.expliquer(analyse, suggestions.charger(ctx.obj["racine"] / "questionnaire.yaml"),
                                     controler(analyse))
    click.echo(explication.texte(resultat), nl=False)


@main.group("questionnaire")
def groupe_questionnaire() -> None:
    """Le questionnaire, définition unique du fichier de réponses."""


@groupe_questionnaire.command("schema")
@click.option("-o", "--sortie", type=click.Path(dir_okay=False, path_type=Path),
              help="Fichier où écrire le schéma (sinon : la sortie standard).")
@click.pass_context
def questionnaire_schema(ctx: click.Context, sortie: Path | None) -> None:
    """Exporte le schéma JSON (draft 2020-12) du fichier de réponses, pour d'autres outils."""
    from ..donnees import questionnaire
    from ..donnees.fichiers import ecrire_atomique

    racine = ctx.obj["racine"]
    texte = json.dumps(questionnaire.charger(racine / "questionnaire.yaml").schema(), ensure_ascii=False,
                       indent=2) + "\n"
    if sortie is None:
        click.echo(texte, nl=False)
    else:
        ecrire_atomique(sortie, texte.encode("utf-8"))
        click.echo(f"Schéma JSON écrit dans {sortie}.")
