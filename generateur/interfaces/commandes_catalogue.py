"""Commandes du service juridique sur le catalogue : lister, montrer, apercu, couverture, importer.

La logique est dans la bibliothèque : vérification, parcours, couverture et import d'une clause Word.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from .groupe import lire_date, main, option_droit_du
from ..donnees.formats import pluriel
from ..erreurs import ErreurDCE, ErreurDonnees, Probleme


@main.group("catalogue")
def groupe_catalogue() -> None:
    """Outils du service juridique sur le catalogue de clauses."""


@groupe_catalogue.command("verifier")
@click.pass_context
def catalogue_verifier(ctx: click.Context) -> None:
    """Vérifie tout le catalogue et signale chaque problème avec son fichier et sa ligne."""
    from ..rendu.documents import verifier_modeles
    from ..droit.verification import verifier
    from ..pieces.relecture import verifier_regles
    from ..pieces import croises

    racine = ctx.obj["racine"]
    problemes = verifier(racine, lambda r: verifier_modeles(r) + verifier_regles(r) + croises.verifier_regles(r))
    if problemes:
        raise ErreurDCE(problemes)
    click.echo(f"Catalogue {racine} : aucun problème.")


def _charger(ctx: click.Context):
    from ..donnees import catalogue, questionnaire

    racine = ctx.obj["racine"]
    return racine, catalogue.charger(racine), questionnaire.charger(racine / "questionnaire.yaml")


def _action_valide(_ctx: click.Context, _param: click.Parameter, valeur: str | None) -> str | None:
    if valeur is not None and not all(p.isdigit() for p in valeur.split(".")):
        raise click.BadParameter(f"« {valeur} » n'est pas un identifiant d'action (par exemple 6.2)")
    return valeur


@groupe_catalogue.command("lister")
@click.option("--chantier", metavar="N", callback=_action_valide, help="Clauses qui mettent en œuvre une action de ce chantier.")
@click.option("--action", metavar="N.N", callback=_action_valide, help="Clauses qui mettent en œuvre cette action du SPASER.")
@click.option("--document", type=click.Choice(["RC", "CCAP", "CCTP"], case_sensitive=False), help="Pièce du DCE.")
@click.option("--en-vigueur-au", "jour", metavar="JJ/MM/AAAA",
              help="Seulement les clauses en vigueur à cette date, dans leur version de cette date.")
@click.pass_context
def catalogue_lister(ctx: click.Context, chantier: str | None, action: str | None, document: str | None,
                     jour: str | None) -> None:
    """Liste les clauses du catalogue (version en vigueur aujourd'hui, ou à la date donnée)."""
    from ..droit.parcours import lister, periode, tableau_texte

    _, cat, _ = _charger(ctx)
    date = lire_date(jour) or dt.date.today()
    clauses = lister(cat, date, en_vigueur_seulement=jour is not None, chantier=chantier, action=action,
                     document=document.upper() if document else None)
    if not clauses:
        click.echo("Aucune clause ne répond à ces critères.")
        return
    lignes = [["Identifiant", "V.", "Pièce", "Article", "Titre", "Actions", "En vigueur"]]
    for c in clauses:
        lignes.append([c.id, str(c.version), c.document, c.article, c.titre, ", ".join(c.actions) or "–", periode(c)])
    click.echo(tableau_texte(lignes, [34, 3, 5, 22, 48, 22, 50]))
    click.echo(f"\n{pluriel(clauses, 'clause')}.")


@groupe_catalogue.command("montrer")
@click.argument("ident", metavar="ID")
@click.pass_context
def catalogue_montrer(ctx: click.Context, ident: str) -> None:
    """Affiche une clause : métadonnées, versions, réponses qui la déclenchent et texte."""
    from ..donnees import yaml_lignes
    from ..droit.parcours import fiche_texte, titres_actions

    racine, cat, q = _charger(ctx)
    referentiel = yaml_lignes.lire(racine / "acheteurs" / cat.referentiel / "referentiel.yaml").donnees or {}
    click.echo(fiche_texte(cat, q, ident, titres_actions(referentiel)))


@groupe_catalogue.command("apercu")
@click.argument("ident", metavar="ID")
@click.option("--reponses", "fichier", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Fichier de réponses de la consultation pour laquelle rendre la clause.")
@click.option("-o", "--sortie", type=click.Path(dir_okay=False, path_type=Path),
              help="Fichier .docx à écrire (défaut : apercu-ID.docx dans le dossier courant).")
@option_droit_du
@click.pass_context
def catalogue_apercu(ctx: click.Context, ident: str, fichier: Path, sortie: Path | None, droit_du: dt.date | None) -> None:
    """Rend une seule clause en Word, pour relecture, avec les réponses d'une consultation."""
    from ..donnees.fichiers import ecrire_atomique
    from ..rendu.apercu import apercu
    from ..droit.parcours import nom_fichier_sur

    contenu, retenue = apercu(fichier, ident, ctx.obj["racine"], droit_du)
    sortie = sortie or Path(f"apercu-{nom_fichier_sur(ident)}.docx")
    if sortie.suffix.lower() != ".docx":
        raise ErreurDCE(Probleme("l'aperçu s'écrit dans un fichier .docx", sortie))
    ecrire_atomique(sortie, contenu)
    if not retenue:
        click.secho(f"Attention : la règle de « {ident} » l'écarte pour ces réponses ; aperçu rendu pour relecture.",
                    fg="yellow", err=True)
    click.echo(f"Aperçu écrit : {sortie}")


@groupe_catalogue.command("couverture")
@click.option("--acheteur", "ident_acheteur", metavar="ID",
              help="Profil d'acheteur dont le référentiel est couvert (défaut : référentiel du catalogue).")
@click.option("--en-vigueur-au", "jour", metavar="JJ/MM/AAAA", help="État du catalogue à cette date (défaut : aujourd'hui).")
@click.option("--export", "export", type=click.Path(dir_okay=False, path_type=Path),
              help="Écrit aussi le tableau dans un fichier .docx ou .xlsx.")
@click.pass_context
def catalogue_couverture(ctx: click.Context, ident_acheteur: str | None, jour: str | None, export: Path | None) -> None:
    """Montre, par axe, chantier et action du SPASER, les clauses qui la mettent en œuvre et les actions sans clause."""
    from ..donnees import acheteurs
    from ..pieces import couverture
    from ..rendu import couverture_fichiers
    from ..donnees.fichiers import ecrire_atomique

    racine, cat, _ = _charger(ctx)
    if export is not None and export.suffix.lower() not in (".docx", ".xlsx"):
        raise ErreurDCE(Probleme("format d'export inconnu : .docx ou .xlsx", export))
    acheteur = acheteurs.charger(racine, ident_acheteur or cat.referentiel)
    resultat = couverture.calculer(cat, acheteur, lire_date(jour) or dt.date.today())
    click.echo(couverture.texte_terminal(resultat))
    if export is not None:
        if export.suffix.lower() == ".xlsx":
            contenu = couverture_fichiers.xlsx(resultat)
        else:
            propres = acheteur.profil.get("modeles") or {}
            modele = acheteur.dossier / str(propres["CCAP"]) if "CCAP" in propres else cat.modeles() / "dce.docx"
            contenu = couverture_fichiers.docx(resultat, modele, cat.version)
        ecrire_atomique(export, contenu)
        click.echo(f"Export écrit : {export}")


@groupe_catalogue.command("importer")
@click.argument("fichier", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--document", type=click.Choice(["RC", "CCAP", "CCTP"], case_sensitive=False), default="CCAP",
              show_default=True, help="Pièce à laquelle appartient la clause.")
@click.option("--id", "ident", help="Identifiant de la clause (défaut : tiré du nom du fichier, préfixé par la pièce).")
@click.option("--article", help="Article du plan de la pièce (catalogue.yaml) ; sinon à compléter.")
@click.option("--titre", help="Titre du sous-article ; défaut : premier titre du document Word.")
@click.option("-o", "--sortie", type=click.Path(dir_okay=False, path_type=Path),
              help="Fichier .md à écrire (défaut : clauses/<pièce>/<id>.md du catalogue).")
@click.option("--forcer", is_flag=True, help="Remplacer un fichier existant.")
@click.pass_context
def catalogue_importer(ctx: click.Context, fichier: Path, document: str, ident: str | None, article: str | None,
                       titre: str | None, sortie: Path | None, forcer: bool) -> None:
    """Convertit une clause Word (.docx) en fichier de clause Markdown avec ses métadonnées à compléter."""
    from ..rendu import import_word
    from ..donnees.fichiers import ecrire_atomique

    racine, cat, _ = _charger(ctx)
    document = document.upper()
    if fichier.suffix.lower() != ".docx":
        raise ErreurDonnees(Probleme("seuls les documents Word .docx sont importés", fichier))
    articles = [str(a["id"]) for a in cat.articles(document)]
    if article and article not in articles:
        raise ErreurDonnees(Probleme(f"article « {article} » absent du plan du {document} ; articles : "
                                     f"{', '.join(articles)}"))
    if ident and not ident.startswith(document.lower() + "-"):
        raise ErreurDonnees(Probleme(f"l'identifiant d'une clause du {document} commence par « {document.lower()}- »"))
    ident, texte, a_completer = import_word.clause(fichier, document, articles, ident, article, titre)
    if ident in cat.clauses and not forcer:
        raise ErreurDonnees(Probleme(f"la clause « {ident} » existe déjà ({cat.clauses[ident][0].fichier.name}) : "
                                     "choisir un autre --id, ou --forcer"))
    sortie = sortie or racine / "clauses" / document.lower() / f"{ident}.md"
    if sortie.exists() and not forcer:
        raise ErreurDonnees(Probleme("fichier déjà présent : --forcer pour le remplacer", sortie))
    ecrire_atomique(sortie, texte.encode("utf-8"))
    click.echo(f"Clause écrite : {sortie}")
    click.echo(f"À compléter : {', '.join(a_completer)} (valeurs « {import_word.A_COMPLETER} »), puis les actions du "
               "SPASER, la règle de sélection et les variables ; `dce catalogue verifier` signale ce qui reste.")
