"""Parcourir le catalogue : lister les clauses, montrer une clause et les réponses qui la déclenchent (texte).

Ce sont les outils de relecture du service juridique : quelle clause met en œuvre quelle action,
quelle version est en vigueur à une date, quelles réponses de l'acheteur la déclenchent, et à
quoi elle ressemble une fois rendue pour une consultation donnée.
"""

from __future__ import annotations

import difflib
import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from ..donnees.catalogue import NIVEAUX, Catalogue, Clause
from ..erreurs import ErreurDonnees, Probleme
from .expressions import chemins_utilises
from ..donnees.formats import date_longue
from ..donnees.questionnaire import Questionnaire


def version_courante(versions: list[Clause], jour: dt.date) -> Clause | None:
    """Version en vigueur à `jour` ; à défaut, la prochaine à entrer en vigueur ; None si toutes sont closes."""
    for c in versions:
        if c.en_vigueur(jour):
            return c
    futures = sorted((c for c in versions if c.du > jour), key=lambda c: c.du)
    return futures[0] if futures else None


def clause_par_id(catalogue: Catalogue, ident: str) -> list[Clause]:
    """Toutes les versions d'une clause, la plus récente d'abord ; erreur française si l'identifiant est inconnu."""
    if ident not in catalogue.clauses:
        proches = difflib.get_close_matches(ident, sorted(catalogue.clauses), n=4, cutoff=0.6)
        suggestion = f" ; identifiants proches : {', '.join(proches)}" if proches else ""
        raise ErreurDonnees(Probleme(f"clause « {ident} » absente du catalogue{suggestion}"))
    return sorted(catalogue.clauses[ident], key=lambda c: c.du, reverse=True)


def _chantier(action: str) -> str:
    return action.split(".")[0]


def lister(catalogue: Catalogue, jour: dt.date, *, en_vigueur_seulement: bool = False, chantier: str | None = None,
           action: str | None = None, document: str | None = None) -> list[Clause]:
    """Clauses (une version chacune) qui répondent aux filtres, dans l'ordre des pièces et du plan."""
    retenues = []
    for versions in catalogue.clauses.values():
        c = next((v for v in versions if v.en_vigueur(jour)), None) if en_vigueur_seulement \
            else version_courante(versions, jour)
        if c is None:
            continue
        if document and c.document != document:
            continue
        if action and action not in c.actions:
            continue
        if chantier and chantier not in {_chantier(a) for a in c.actions}:
            continue
        retenues.append(c)
    ordre_doc = {d: i for i, d in enumerate(("RC", "CCAP", "CCTP"))}
    rang = {(d, a["id"]): i for d in catalogue.documents for i, a in enumerate(catalogue.articles(d))}
    return sorted(retenues, key=lambda c: (ordre_doc.get(c.document, 9), rang.get((c.document, c.article), 99),
                                           c.ordre, c.id))


def periode(c: Clause) -> str:
    """« depuis le 1er avril 2019 » ou « du 1er avril 2019 au 31 décembre 2025 »."""
    if c.au:
        return f"du {date_longue(c.du)} au {date_longue(c.au)}"
    return f"depuis le {date_longue(c.du)}"


def tableau_texte(lignes: list[list[str]], largeurs_max: list[int] | None = None) -> str:
    """Tableau en texte pour le terminal : colonnes alignées, cellules trop longues coupées par « … »."""
    if not lignes:
        return ""
    n = len(lignes[0])
    largeurs_max = largeurs_max or [60] * n
    cellules = [[(c if len(c) <= largeurs_max[i] else c[: largeurs_max[i] - 1] + "…") for i, c in enumerate(l)]
                for l in lignes]
    largeurs = [max(len(l[i]) for l in cellules) for i in range(n)]
    sortie = []
    for j, l in enumerate(cellules):
        sortie.append("  ".join(c.ljust(largeurs[i]) for i, c in enumerate(l)).rstrip())
        if j == 0:
            sortie.append("  ".join("-" * largeurs[i] for i in range(n)))
    return "\n".join(sortie)


@dataclass
class Declencheur:
    """Une donnée lue par la règle d'une clause : réponse de l'acheteur ou valeur calculée."""

    chemin: str
    nature: str  # « réponse », « calcul », « moteur »
    libelle: str
    detail: str = ""


def declencheurs(catalogue: Catalogue, questionnaire: Questionnaire, expression: str,
                 _vus: set[str] | None = None) -> list[Declencheur]:
    """Réponses et calculs que lit une expression ; les calculs sont dépliés jusqu'aux réponses qu'ils lisent."""
    vus = _vus if _vus is not None else set()
    calculs = {c["nom"]: (section, c) for section in ("consultation", "lot")
               for c in catalogue.calculs.get(section, [])}
    resultat: list[Declencheur] = []
    for chemin in chemins_utilises(expression):
        cle = chemin[4:] if chemin.startswith("lot.") else chemin
        if cle in vus:
            continue
        vus.add(cle)
        nom = cle.split(".")[0]
        if cle in calculs or nom in calculs:
            _, calcul = calculs.get(cle) or calculs[nom]
            resultat.append(Declencheur(cle, "calcul", str(calcul.get("explication", "")),
                                        f"{calcul['expression']} ({calcul.get('reference', '')})"))
            resultat.extend(declencheurs(catalogue, questionnaire, str(calcul["expression"]), vus))
            continue
        affiche = chemin if chemin.startswith("lot.") else cle
        if nom == "acheteur":
            resultat.append(Declencheur(cle, "profil", "politique ou identité de l'acheteur (acheteurs/<id>/acheteur.yaml)"))
            continue
        question = questionnaire.question(("lots." + cle) if chemin.startswith("lot.") else cle)
        if question is None and "." in cle:
            question = questionnaire.question(cle.rsplit(".", 1)[0])
        if question is not None:
            choix = f"valeurs : {', '.join(question.choix)}" if question.choix else f"type {question.type}"
            resultat.append(Declencheur(affiche, "réponse", question.libelle, choix))
        elif nom not in ("param", "retenue", "article", "action", "true", "false", "none"):
            resultat.append(Declencheur(affiche, "moteur", "valeur fournie par le moteur"))
    return resultat


def fiche_texte(catalogue: Catalogue, questionnaire: Questionnaire, ident: str, titres_actions: dict[str, str]) -> str:
    """Tout ce qu'un juriste veut savoir d'une clause : métadonnées, versions, règle, texte source."""
    versions = clause_par_id(catalogue, ident)
    c = versions[0]
    racine = catalogue.racine
    lignes = [f"{c.id} – {c.titre}", ""]
    lignes.append(f"Pièce et article : {c.document}, article « {c.article} » "
                  f"({_titre_article(catalogue, c)}), rang {c.ordre}")
    lignes.append(f"Portée : {'évaluée lot par lot' if c.portee == 'lot' else 'la consultation'}")
    if c.actions:
        lignes.append("Actions du SPASER :")
        lignes.extend(f"  - {l.action} {titres_actions.get(l.action, '(inconnue du référentiel)')} : "
                      f"{NIVEAUX[l.niveau]}" + (f", si {l.si}" if l.si else "") for l in c.liens)
    else:
        lignes.append("Actions du SPASER : aucune")
    lignes.append(f"Références juridiques : {' ; '.join(c.references)}")
    lignes.append(f"Statut juridique : {c.statut_juridique}")
    if c.note_juridique:
        lignes.append(f"Note juridique : {c.note_juridique}")
    if c.decp:
        lignes.append(f"Données essentielles (DECP) : {', '.join(c.decp)}")
    if c.deroge_ccag:
        for d in c.deroge_ccag:
            articles = ", ".join(f"{k} {v}" for k, v in (d.get("articles") or {}).items())
            lignes.append(f"Dérogation au CCAG : {d.get('objet', '')} ({articles})")
    lignes.append("")
    lignes.append("Versions :")
    for v in versions:
        fichier = v.fichier.relative_to(racine) if v.fichier.is_relative_to(racine) else v.fichier
        lignes.append(f"  - version {v.version}, en vigueur {periode(v)} : {fichier}")
    lignes.append("")
    lignes.append(f"Règle de sélection : {c.condition}")
    if c.condition == "true":
        lignes.append("  La clause est retenue dans toute consultation où elle est en vigueur.")
    else:
        lignes.append("  Réponses et valeurs qui la déclenchent :")
        for d in declencheurs(catalogue, questionnaire, c.condition):
            detail = f" [{d.detail}]" if d.detail else ""
            lignes.append(f"  - {d.chemin} ({d.nature}) : {d.libelle}{detail}")
    lignes.append("")
    lignes.append(f"Texte (version {c.version}) :")
    lignes.append("")
    lignes.append(c.corps.strip("\n"))
    return "\n".join(lignes)


def _titre_article(catalogue: Catalogue, c: Clause) -> str:
    return next((str(a["titre"]) for a in catalogue.articles(c.document) if a["id"] == c.article), "?")


def nom_fichier_sur(ident: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", ident).strip("-") or "clause"


def titres_actions(referentiel: dict[str, Any]) -> dict[str, str]:
    """Identifiant d'action → « « titre » » (référentiel brut, sans profil d'acheteur)."""
    return {str(a.get("id")): f"« {a.get('titre', '')} »" for axe in referentiel.get("axes", [])
            for ch in axe.get("chantiers", []) for a in ch.get("actions", [])}
