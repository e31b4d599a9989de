"""Clauses retenues → blocs de chaque document (articles numérotés, renvois résolus)."""

from __future__ import annotations

from jinja2.exceptions import TemplateSyntaxError

from .blocs import Bloc, Titre
from ..erreurs import ErreurClause, Probleme
from ..droit.expressions import ErreursJinja, message_erreur, modele_clause
from .markdown_ import vers_blocs
from .texte_technique import blocs_techniques
from ..droit.regles import ARTICLE_TECHNIQUE, Analyse, Selection, contexte_clause




def rendre_clause(analyse: Analyse, selection: Selection) -> str:
    """Texte Markdown d'une clause, variables remplacées ; erreur précise sinon."""
    clause = selection.clause
    try:
        return modele_clause(clause).render(contexte_clause(analyse, selection))
    except TemplateSyntaxError as exc:
        ligne = clause.ligne_corps + (exc.lineno or 1) - 1
        raise ErreurClause(Probleme(f"clause « {clause.id} » : {message_erreur(exc)}", clause.fichier, ligne)) from None
    except ErreursJinja as exc:
        ligne = _ligne_erreur(exc, clause.ligne_corps)
        raise ErreurClause(Probleme(f"clause « {clause.id} » impossible à rendre : {message_erreur(exc)}",
                                    clause.fichier, ligne)) from None


def _ligne_erreur(exc: BaseException, decalage: int) -> int | None:
    """Ligne du modèle Jinja où l'erreur s'est produite (d'après la pile d'appel du modèle compilé)."""
    tb = exc.__traceback__
    ligne = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            ligne = tb.tb_lineno
        tb = tb.tb_next
    return decalage + ligne - 1 if ligne else None


def blocs_document(analyse: Analyse, document: str) -> tuple[list[Bloc], list[Titre]]:
    """Corps d'un document et entrées de sa table des matières."""
    blocs: list[Bloc] = []
    titres: list[Titre] = []
    for numero, article, selections in analyse.plans[document]:
        titre = Titre(1, f"Article {numero} – {article['titre']}", f"_Toc_art_{numero}")
        blocs.append(titre)
        titres.append(titre)
        for s in selections:
            if s.numero != numero:
                sous_titre = Titre(2, f"{s.numero}\u00a0– {s.clause.titre}", f"_Toc_art_{s.numero.replace('.', '_')}")
                blocs.append(sous_titre)
                titres.append(sous_titre)
            blocs.extend(vers_blocs(rendre_clause(analyse, s)))
        if document == "CCTP" and article["id"] == ARTICLE_TECHNIQUE:  # le texte du prescripteur, lot par lot
            techniques, sous_titres = blocs_techniques(analyse)
            blocs.extend(techniques)
            titres.extend(sous_titres)
    return blocs, titres
