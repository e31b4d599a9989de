"""Ce que les pièces assemblées disent, lu dans le modèle de document neutre (blocs) : texte, lots présentés,
dérogations récapitulées ; et les contrôles juridiques appliqués à ces faits."""

from __future__ import annotations

import re
from typing import Any

from .assemblage import blocs_document
from .blocs import Bloc, Liste, Paragraphe, Tableau, Titre, texte
from ..droit.conformite import Conformite, dernier_article, normaliser, verifier
from ..donnees.formats import typographie
from ..droit.regles import Analyse

def texte_blocs(blocs: list[Bloc]) -> str:
    """Texte lisible des blocs d'une pièce (titres, paragraphes, listes, cellules)."""
    morceaux: list[str] = []
    for b in blocs:
        if isinstance(b, Titre):
            morceaux.append(b.texte)
        elif isinstance(b, Tableau):
            morceaux.extend(" | ".join(texte(c) for c in ligne) for ligne in b.lignes)
        elif isinstance(b, Paragraphe):
            morceaux.append(texte(b.segments))
        elif isinstance(b, Liste):
            pile = list(b.elements)
            while pile:
                e = pile.pop(0)
                morceaux.append(texte(e.segments))
                if e.sous_liste:
                    pile.extend(e.sous_liste.elements)
    return "\n".join(morceaux)


def _lignes_de_lots(blocs: list[Bloc]) -> list[tuple[str, str]]:
    """(numéro, intitulé) de chaque ligne des tableaux de lots d'une pièce (en-tête « Lot | Intitulé | … »)."""
    lignes = []
    for b in blocs:
        if isinstance(b, Tableau) and len(b.lignes) > 1 and len(b.lignes[0]) >= 2 and \
                [normaliser(texte(c)) for c in b.lignes[0][:2]] == ["Lot", "Intitulé"]:
            lignes.extend((normaliser(texte(l[0])), normaliser(texte(l[1]))) for l in b.lignes[1:] if len(l) >= 2)
    return lignes


def _lots_lus(blocs: list[Bloc], lots: list[dict[str, Any]]) -> tuple[list[int], list[str]]:
    """Lots qu'une pièce présente avec leur intitulé exact, et lignes qui divergent des réponses."""
    attendus = {str(l["numero"]): normaliser(typographie(str(l["intitule"]))) for l in lots}  # tel qu'imprimé
    lignes = _lignes_de_lots(blocs)
    divergentes = [f"lot {n} «\u00a0{i}\u00a0»" for n, i in lignes if attendus.get(n) != i]
    trouves = sorted(l["numero"] for l in lots if (str(l["numero"]), attendus[str(l["numero"])]) in lignes)
    return trouves, divergentes


def _derogations(analyse: Analyse, blocs_ccap: list[Bloc]) -> list[dict[str, Any]]:
    """Dérogations des clauses retenues, et si chacune figure dans un tableau du dernier article du CCAP."""
    dernier = dernier_article(analyse, "CCAP")["numero"]
    lignes: set[tuple[str, str]] = set()
    dans_dernier = False
    for b in blocs_ccap:
        if isinstance(b, Titre) and b.niveau == 1:
            dans_dernier = bool(re.match(rf"^Article {re.escape(dernier)}\b", b.texte))
        elif dans_dernier and isinstance(b, Tableau):
            lignes.update((normaliser(texte(l[0])), normaliser(texte(l[1]))) for l in b.lignes if len(l) >= 2)
    return [{**d, "recapitulee": (d["article_ccap"], d["article_ccag"]) in lignes} for d in analyse.derogations]


def faits_des_pieces(analyse: Analyse, corps: dict[str, list[Bloc]]) -> dict[str, Any]:
    """Faits lus dans les blocs de chaque pièce, tels que les contrôles de conformité les attendent."""
    lots = analyse.contexte["lots"]
    lus = {doc: _lots_lus(corps.get(doc, []), lots) for doc in analyse.catalogue.documents}
    return {
        "lots_par_piece": {doc: trouves for doc, (trouves, _) in lus.items()},
        "lots_divergents": [f"{doc}, {ligne}" for doc, (_, divergentes) in lus.items() for ligne in divergentes],
        "derogations": _derogations(analyse, corps.get("CCAP", [])),
    }


def controler(analyse: Analyse, corps: dict[str, list[Bloc]] | None = None) -> Conformite:
    """Contrôles juridiques de la consultation, sur ses pièces assemblées (assemblées ici si `corps` manque)."""
    if corps is None:
        corps = {doc: blocs_document(analyse, doc)[0] for doc in analyse.catalogue.documents}
    return verifier(analyse, faits_des_pieces(analyse, corps))
