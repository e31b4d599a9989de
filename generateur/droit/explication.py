"""`dce expliquer` : pourquoi chaque clause est là, ou n'y est pas, sans écrire aucun document.

Pour chaque clause : la règle qui l'a retenue ou écartée et les réponses qu'elle a lues ; puis les actions
du SPASER couvertes, les valeurs calculées avec leur référence, le sort des suggestions et les écarts
au droit (contrôles de catalogue.yaml, clause sociale lot par lot) et aux cibles de la politique d'achat.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .conformite import Conformite, lots_sans_clause_sociale, refus_a_justifier  # noqa: F401 (refus_a_justifier : API de `dce verifier`)
from ..donnees.formats import date_longue, euros, montant, montant_ttc, nombre, pourcent
from .regles import Analyse, Calcul, Selection
from ..donnees.formats import typographie
from ..donnees.saisie import INS, lire
from .suggestions import Etat, Suggestion, actions_lisibles, etats
from .spaser import actions_mises_en_oeuvre

JUSTIFICATION_SOCIALE = "justifications.absence_clause_sociale"  # question du questionnaire (CCP L2112-2-1)
STATUTS_ECART = ("non_conforme", "a_verifier", "justifie")


@dataclass
class Ecart:
    """Un écart au droit ou aux cibles de l'acheteur."""

    genre: str  # droit | cible
    message: str
    reference: str = ""
    justification: str = ""


@dataclass
class Explication:
    analyse: Analyse
    suggestions: list[Etat]
    conformite: Conformite
    ecarts: list[Ecart]


def clauses_a_valider(analyse: Analyse) -> list[Selection]:
    """Clauses retenues dont la source juridique n'est que partiellement vérifiée, ou pas du tout (en-tête
    `statut_juridique` : partiel, non_verifie), dans l'ordre des pièces et des articles."""
    return [s for document in analyse.catalogue.documents for _, _, selections in analyse.plans.get(document, [])
            for s in selections if s.retenue and s.clause.statut_juridique != "verifie"]


def _valeur_cible(cible: dict[str, Any], annee: int) -> tuple[Any, int | None]:
    valeurs = cible.get("valeurs")
    if isinstance(valeurs, dict) and valeurs:
        annees = sorted(int(a) for a in valeurs)
        choisie = next((a for a in annees if a >= annee), annees[-1])
        return valeurs.get(choisie, valeurs.get(str(choisie))), choisie
    return cible.get("valeur"), None


def _texte_cible(cible: dict[str, Any], annee: int) -> str:
    valeur, an = _valeur_cible(cible, annee)
    unite = str(cible.get("unite", ""))
    chiffre = nombre(valeur, 2) if isinstance(valeur, (int, float)) else str(valeur)
    texte = f"{chiffre}{INS if unite.startswith('%') else ' '}{unite}".strip()
    if an is not None:
        texte += f" en {an}"
    return texte


def ecarts(analyse: Analyse, suivies: list[Etat], conformite: Conformite) -> list[Ecart]:
    """Écarts au droit (clause sociale par lot, contrôles juridiques) et aux cibles de l'acheteur."""
    ctx = analyse.contexte
    resultat: list[Ecart] = []
    if ctx.get("clause_sociale_obligatoire"):
        justification = " ".join(str(lire(ctx, JUSTIFICATION_SOCIALE) or "").split())
        for lot in lots_sans_clause_sociale(analyse):
            resultat.append(Ecart(
                "droit",
                f"lot {lot['numero']} : {montant(lot['montant_estime'])}, aucune clause sociale alors que le marché "
                f"dépasse le seuil européen ({montant(ctx['montant_total'])} pour un seuil de "
                f"{montant(ctx['seuil_europeen'])})",
                "CCP L2112-2-1, consultations lancées à compter du 22 août 2026", justification))
    for v in conformite.verdicts:
        if v.statut in STATUTS_ECART:
            resultat.append(Ecart("droit", f"{v.libelle_statut} – {v.libelle} : {v.message}", ", ".join(v.articles)))
    cibles = (analyse.acheteur.profil.get("politique") or {}).get("cibles") or {}
    annee = ctx["date_lancement"].year
    for etat in suivies:
        s = etat.suggestion
        if etat.retenue or not s.cible or s.cible not in cibles:
            continue
        cible = cibles[s.cible]
        resultat.append(Ecart(
            "cible", f"« {s.titre} » non retenue ; cible « {cible.get('libelle', s.cible)} » : "
                     f"{_texte_cible(cible, annee)}", str(cible.get("source", "")), etat.justification))
    return resultat


def expliquer(analyse: Analyse, suggestions: list[Suggestion], conformite: Conformite) -> Explication:
    """Tout ce que `dce expliquer` affiche, sans rien écrire ; `conformite` : les contrôles de la consultation
    (generateur.pieces.lecture.controler, qui lit les pièces assemblées)."""
    suivies = etats(suggestions, analyse.contexte)
    return Explication(analyse, suivies, conformite, ecarts(analyse, suivies, conformite))


# -- rendu texte
def _lisible(valeur: Any, mots: set[str] = frozenset()) -> str:  # type: ignore[assignment]
    """Valeur lue par une règle ; une liste d'ensembles (lots, critères) ne montre que les champs que la règle cite."""
    if isinstance(valeur, bool):
        return "oui" if valeur else "non"
    if valeur is None:
        return "vide"
    if isinstance(valeur, (int, float)):
        return nombre(valeur, 2)
    if isinstance(valeur, str):
        return f"« {valeur} »"
    if isinstance(valeur, list) and valeur and all(isinstance(v, dict) for v in valeur):
        morceaux = []
        for element in valeur:
            if "numero" not in element and "intitule" not in element:  # ni lot ni critère : index { code, part }…
                morceaux.append(", ".join(f"{k} : {_lisible(v)}" for k, v in element.items()))
                continue
            nom = f"n° {element['numero']}" if "numero" in element else f"« {element['intitule']} »"
            champs = [f"{k} : {_lisible(v)}" for k, v in element.items()
                      if k in mots and k not in ("numero", "intitule")]
            morceaux.append(nom + (f" ({', '.join(champs)})" if champs else ""))
        return "[" + " ; ".join(morceaux) + "]"
    if isinstance(valeur, list):
        return "[" + ", ".join(_lisible(v) for v in valeur) + "]"
    if isinstance(valeur, dict):
        return "{" + ", ".join(f"{k} : {_lisible(v)}" for k, v in valeur.items()) + "}"
    return str(valeur)


def _lues(s: Selection, lots: list[dict[str, Any]]) -> str:
    mots = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", s.clause.condition))
    morceaux = []
    for chemin, valeur in s.lues.items():
        if chemin.startswith("lot.") and isinstance(valeur, list):
            valeur_texte = ", ".join(f"lot {l['numero']} : {_lisible(v, mots)}" for l, v in zip(lots, valeur))
        else:
            valeur_texte = _lisible(valeur, mots)
        morceaux.append(f"{chemin} = {valeur_texte}")
    return " ; ".join(morceaux)


def _regle(s: Selection, lots: list[dict[str, Any]]) -> str:
    if s.clause.condition.strip() == "true":
        return "toujours retenue"
    lues = _lues(s, lots)
    return f"{s.clause.condition}" + (f" → {lues}" if lues else "")


def valeur_calculee(c: Calcul) -> str:
    """Valeur calculée mise en forme selon son nom (montants, taux, durées)."""
    v = c.valeur
    if isinstance(v, bool) or v is None or not isinstance(v, (int, float)):
        return _lisible(v) if not isinstance(v, str) else v
    nom = c.nom
    if nom in ("montant_ttc", "avance_base_ttc", "avance_montant_pme", "avance_montant_non_pme"):
        return montant_ttc(v)
    if nom.startswith(("montant", "seuil")):
        return montant(v)
    if "cout_horaire" in nom:
        return euros(v)
    if "taux" in nom or nom in ("tva", "part_main_oeuvre"):
        return pourcent(v)
    if nom.startswith("heures"):
        return f"{nombre(v)}{INS}h"
    if nom.startswith("duree"):
        return f"{nombre(v)} mois"
    if nom.startswith("delai"):
        return f"{nombre(v)} jours"
    return nombre(v, 2)


def texte(e: Explication) -> str:
    """Explication complète, en français, pour le terminal."""
    a = e.analyse
    ctx = a.contexte
    lots = ctx["lots"]
    lignes: list[str] = []
    ajout = lignes.append
    ajout(f"Consultation {ctx['reference']} – {' '.join(str(ctx['objet']).split())}")
    ajout(f"{ctx['procedure_libelle']} ({ctx['procedure_article']}) ; montant estimé {montant(ctx['montant_total'])} ; "
          f"{len(lots)} lot{'s' if len(lots) > 1 else ''} ; droit en vigueur au {date_longue(a.date_droit)}.")
    ajout("")
    ajout("Règles qui ont choisi la procédure, la variation des prix et l'avance")
    for c in (c for c in a.calculs if c.lot is None and c.nom.startswith("motif_") and isinstance(c.valeur, str)):
        ajout(f"    {c.explication.removeprefix('Règle qui a choisi ').split(',')[0]} : {c.valeur}")
    for lot in lots:
        if lot.get("motif_avance"):
            base = (f", base {montant_ttc(lot['avance_base_ttc'])} (CCP R2191-7)"
                    if ctx["forme"] == "marche" or lot.get("avance_sur_minimum") else "")
            taux = (f" ; taux {pourcent(lot['avance_taux_pme'])} pour une PME, {pourcent(lot['avance_taux_non_pme'])} sinon"
                    f"{base} ; {lot['motif_avance_taux']}") if lot.get("avance_versee") else ""
            ajout(f"    avance, lot {lot['numero']} : {lot['motif_avance']}{taux}.")

    retenues = [s for s in a.selections if s.retenue]
    ajout("")
    ajout(f"Clauses retenues ({len(retenues)})")
    for document in a.catalogue.documents:
        pieces = [s for _, _, selections in a.plans.get(document, []) for s in selections]
        if not pieces:
            continue
        ajout(f"  {document}")
        for s in pieces:
            actions = f" ; {_actions(s.clause.actions)}" if s.clause.actions else ""
            portee = f" ; lots {', '.join(str(n) for n in s.lots)}" if s.clause.portee == "lot" else ""
            ajout(f"    {s.numero} {s.clause.titre} ({s.clause.id}, v{s.clause.version}{portee}{actions})")
            ajout(f"        règle : {_regle(s, lots)}")
    a_valider = clauses_a_valider(a)
    ajout("")
    ajout(f"Clauses à faire valider par le service juridique ({len(a_valider)})")
    for s in a_valider:
        statut = "non vérifiée" if s.clause.statut_juridique == "non_verifie" else "partiellement vérifiée"
        ajout(f"    {s.clause.document} {s.numero} {s.clause.titre} ({s.clause.id}, v{s.clause.version}) : source {statut}")
        if s.clause.note_juridique.strip():
            ajout(f"        note : {' '.join(s.clause.note_juridique.split())}")
    if not a_valider:
        ajout("    aucune")
    ecartees = sorted((s for s in a.selections if not s.retenue), key=lambda s: (s.clause.document, s.clause.id))
    ajout("")
    ajout(f"Clauses écartées ({len(ecartees)})")
    for s in ecartees:
        ajout(f"    {s.clause.document} {s.clause.titre} ({s.clause.id}, v{s.clause.version})")
        ajout(f"        règle : {_regle(s, lots)}")

    paires = actions_mises_en_oeuvre(a)
    par_action: dict[str, list[str]] = {}
    titres: dict[str, str] = {}
    for action, s in paires:
        titres[action.id] = action.titre
        par_action.setdefault(action.id, []).append(f"{s.clause.document} {s.numero} ({s.clause.id})")
    ajout("")
    ajout(f"Actions du SPASER mises en œuvre au-delà du droit ({len(par_action)})")
    for ident, ou in par_action.items():
        ajout(f"    {ident} {titres[ident]} : {', '.join(dict.fromkeys(ou))}")

    ajout("")
    ajout("Valeurs calculées")
    ajout("  Consultation")
    for c in (c for c in a.calculs if c.lot is None):
        ajout(f"    {c.nom} = {valeur_calculee(c)}  ({c.reference})")
    for lot in lots:
        ajout(f"  Lot {lot['numero']} – {lot['intitule']}")
        for c in (c for c in a.calculs if c.lot == lot["numero"]):
            ajout(f"    {c.nom} = {valeur_calculee(c)}  ({c.reference})")

    ajout("")
    ajout(f"Suggestions pour cet achat ({len(e.suggestions)})")
    for etat in e.suggestions:
        s = etat.suggestion
        actions = actions_lisibles(s, a.contexte, a.acheteur.actions_pour) or "hors du référentiel"
        ajout(f"    [{etat.statut}] {s.titre} ({actions})")
        ajout(f"        pourquoi : {etat.raison}")
        if etat.obligatoire:
            ajout(f"        obligatoire : {s.reference}")
        if etat.justification:
            ajout(f"        justification : « {etat.justification} »")

    droit = [x for x in e.ecarts if x.genre == "droit"]
    cibles = [x for x in e.ecarts if x.genre == "cible"]
    ajout("")
    ajout(f"Écarts au droit ({len(droit)})")
    for x in droit:
        ajout(f"    - {x.message}" + (f" ({x.reference})" if x.reference and x.reference not in x.message else ""))
        if x.justification:
            ajout(f"      justification enregistrée : « {x.justification} »")
    if not droit:
        ajout("    aucun")
    ajout("")
    ajout(f"Écarts aux cibles de l'acheteur ({len(cibles)})")
    for x in cibles:
        ajout(f"    - {x.message}" + (f" – source : {x.reference}" if x.reference else ""))
        if x.justification:
            ajout(f"      justification enregistrée : « {x.justification} »")
    if not cibles:
        ajout("    aucun")
    return typographie("\n".join(lignes)) + "\n"


def _actions(etiquettes: list[str]) -> str:
    return ("action " if len(etiquettes) == 1 else "actions ") + ", ".join(etiquettes)
