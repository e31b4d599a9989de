"""Aperçu d'une clause seule, rendue en Word pour une consultation, pour relecture par le service juridique."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path

from ..pieces.assemblage import rendre_clause
from ..pieces.blocs import Bloc, Segment, Tableau, Titre
from .documents import produire
from ..erreurs import ErreurDonnees, Probleme
from ..donnees.formats import date_longue
from .generation import modele_de, variables_modele
from ..pieces.markdown_ import vers_blocs
from ..droit.parcours import clause_par_id, periode
from ..droit.regles import preparer

def apercu(fichier_reponses: Path, ident: str, racine: Path, date_droit: dt.date | None = None) -> tuple[bytes, bool]:
    """Une clause seule rendue pour une consultation, dans le modèle Word de l'acheteur.

    Retourne le contenu du .docx et un booléen : la clause serait-elle retenue pour ces réponses ?
    Une clause que la règle écarte est tout de même rendue, pour relecture, avec un avertissement.
    """
    analyse = preparer(fichier_reponses, racine, date_droit)
    clause_par_id(analyse.catalogue, ident)
    selection = analyse.selection(ident)
    if selection is None:
        versions = ", ".join(f"version {v.version} {periode(v)}" for v in analyse.catalogue.clauses[ident])
        raise ErreurDonnees(Probleme(f"aucune version de la clause « {ident} » n'est en vigueur le "
                                     f"{date_longue(analyse.date_droit)} ({versions})"))
    retenue = selection.retenue
    if not retenue:
        selection = copy.copy(selection)
        selection.retenue = True
        selection.lots = [l["numero"] for l in analyse.contexte["lots"]]
    c = selection.clause
    texte = rendre_clause(analyse, selection)
    blocs: list[Bloc] = []
    titres: list[Titre] = []
    titre = Titre(1, f"{selection.numero or '–'}\u00a0– {c.titre}", "_Toc_apercu")
    blocs.append(titre)
    titres.append(titre)
    avertissement = ("Clause retenue pour ces réponses." if retenue else
                     f"Attention : la règle « {c.condition} » écarte cette clause pour ces réponses ; elle est rendue "
                     "ici pour relecture seulement" + (", pour tous les lots." if c.portee == "lot" else "."))
    blocs.append(Tableau([[[Segment(a, True)], [Segment(b)]] for a, b in [
        ("Rubrique", "Valeur"),
        ("Clause", f"{c.id}, version {c.version}, en vigueur {periode(c)}"),
        ("Pièce et article", f"{c.document}, article {selection.numero or '(non numéroté)'}"),
        ("Références", " ; ".join(c.references)),
        ("Statut juridique", c.statut_juridique + (f" – {c.note_juridique}" if c.note_juridique else "")),
        ("Règle", f"{c.condition} – {avertissement}"),
        ("Consultation", f"{analyse.contexte['reference']}, droit en vigueur au {date_longue(analyse.date_droit)}"),
    ]], True, [25, 75]))
    blocs.extend(vers_blocs(texte))
    variables = variables_modele(analyse, c.document, f"Aperçu de clause – {c.titre}")
    return produire(modele_de(analyse, c.document), variables, blocs, titres), retenue
