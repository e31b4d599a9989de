"""Le questionnaire (questionnaire.yaml) : définition unique du fichier de réponses.

Il sert à trois choses : valider un fichier de réponses, compléter les valeurs par défaut,
et exporter un schéma JSON pour d'autres outils.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from . import cache, yaml_lignes
from ..erreurs import ErreurDonnees, Probleme

TYPES = {"texte", "texte_long", "montant", "entier", "pourcentage", "date", "date_heure",
         "choix", "choix_multiple", "oui_non", "liste"}
MOTIF_DATE_HEURE = r"^(\d{4}-\d{2}-\d{2}|\d{2}/\d{2}/\d{4})([ T]\d{1,2}[:h]\d{2}(:\d{2})?)?$"


@dataclass
class Question:
    """Une question : où la réponse se range, comment la vérifier, quand la poser."""

    id: str
    libelle: str
    type: str
    aide: str = ""
    defaut: Any = None
    requis: bool = False
    condition: str | None = None
    choix: dict[str, str] = field(default_factory=dict)
    min: Any = None
    max: Any = None
    motif: str | None = None
    max_longueur: int | None = None
    questions: list["Question"] = field(default_factory=list)
    # nature d'achat proposée d'après le code CPV : division (« 45 ») ou plage (« 03-44 ») → valeur du choix
    d_apres_cpv: dict[str, str] = field(default_factory=dict)
    replie: bool = False  # assistant web : rangée sous « Autres réglages », replié (la valeur par défaut convient souvent)
    element: str = ""  # liste : un élément avec son article (« un lot »), pour « Ajouter un lot », « Lot 2 »
    section: str = ""


@dataclass
class Questionnaire:
    sections: list[dict[str, Any]]
    questions: list[Question]
    fichier: Path
    nomenclatures: dict[str, dict[str, str]] = field(default_factory=dict)

    def schema(self) -> dict[str, Any]:
        """Schéma JSON (draft 2020-12) du fichier de réponses."""
        racine = _objet(self.questions)
        racine["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        racine["title"] = "Fichier de réponses dce"
        racine["description"] = "Réponses d'un acheteur décrivant une consultation (généré depuis questionnaire.yaml)."
        return racine

    def libelle(self, chemin: str) -> str:
        """Le chemin d'une réponse dit avec les mots du questionnaire, sans clé interne :
        « lots.0.montant_estime » → « Lot 1 — Montant estimé du lot (€ HT) » ; « criteres » → « Critères »."""
        morceaux = chemin.split(".")
        questions, noms, i = self.questions, [], 0
        derniere: Question | None = None
        while i < len(morceaux):
            for j in range(len(morceaux), i, -1):
                q = next((x for x in questions if x.id == ".".join(morceaux[i:j])), None)
                if q is not None:
                    break
            else:
                break
            derniere, i = q, j
            if q.type == "liste" and i < len(morceaux) and morceaux[i].isdigit():
                noms.append(f"{nom_element(q)} {int(morceaux[i]) + 1}")
                questions, derniere, i = q.questions, None, i + 1
        if derniere is not None:
            noms.append(derniere.libelle)
        return " — ".join(noms) if noms else chemin

    def question(self, chemin: str) -> Question | None:
        """Question à un chemin de réponse (« lots.0.intitule » → la sous-question intitule)."""
        # trouvée une fois par chemin et par questionnaire chargé (jamais modifié après sa lecture) : la fiche et
        # l'annexe en cherchent une centaine par consultation, chacune en parcourant les listes de questions
        trouvees = _QUESTIONS.obtenir(self, dict)
        if chemin not in trouvees:
            trouvees[chemin] = self._chercher(chemin)
        return trouvees[chemin]

    def _chercher(self, chemin: str) -> Question | None:
        morceaux = [m for m in chemin.split(".") if not m.isdigit()]
        questions = self.questions
        trouve = None
        i = 0
        while i < len(morceaux):
            for j in range(len(morceaux), i, -1):
                candidat = ".".join(morceaux[i:j])
                q = next((q for q in questions if q.id == candidat), None)
                if q:
                    trouve, questions, i = q, q.questions, j
                    break
            else:
                return trouve if i else None
        return trouve


_QUESTIONS = cache.ParObjet(8)  # questionnaire chargé → {chemin: question}
_EMPREINTES = cache.ParObjet(8)  # questionnaire chargé (jamais modifié après sa lecture) → `empreinte`


def empreinte(questionnaire: Questionnaire) -> str:
    """Empreinte d'un questionnaire chargé : sections, questions (libellés, choix) et nomenclatures, mises en pickle
    sans mémo (les mêmes octets pour un questionnaire relu du cache disque ou de son fichier) ; une fois par
    questionnaire chargé. Pour les clés des mémoires qui le lisent (réponses validées, clé de l'analyse)."""
    return _EMPREINTES.obtenir(questionnaire, lambda: cache.empreinte(cache.octets_stables(
        (questionnaire.sections, questionnaire.questions, questionnaire.nomenclatures))))


def nom_element(liste: Question) -> str:
    """Nom d'un élément d'une liste : « Lots » → « Lot », « Lignes du bordereau… » → « Ligne »."""
    mot = liste.libelle.split()[0]
    return mot[:-1] if mot.endswith("s") else mot


def _question(brut: dict[str, Any], section: str, fichier: Path, doc: yaml_lignes.Document, chemin: str) -> Question:
    connus = set(Question.__dataclass_fields__) - {"section"}
    inconnus = set(brut) - connus
    if inconnus or "id" not in brut or brut.get("type") not in TYPES:
        raison = (f"clés inconnues {sorted(inconnus)}" if inconnus
                  else f"type « {brut.get('type')} » inconnu" if "id" in brut else "id manquant")
        raise ErreurDonnees(Probleme(f"question invalide : {raison}", fichier, doc.ligne(chemin)))
    sous = [_question(q, section, fichier, doc, f"{chemin}.questions.{i}") for i, q in enumerate(brut.get("questions", []))]
    return Question(**{**brut, "questions": sous, "section": section})


# Forme de questionnaire.yaml (le détail de chaque question est vérifié par _question).
SCHEMA = {
    "type": "object", "required": ["sections"],
    "properties": {
        "sections": {"type": "array", "items": {"type": "object", "required": ["id"], "properties": {
            "id": {"type": "string"}, "questions": {"type": "array", "items": {"$ref": "#/$defs/question"}}}}},
        "nomenclatures": {"type": "object", "additionalProperties": {"type": "object"}},
    },
    "$defs": {"question": {"type": "object", "properties": {
        "id": {"type": "string"}, "questions": {"type": "array", "items": {"$ref": "#/$defs/question"}}}}},
}


@lru_cache(maxsize=8)
def charger(fichier: Path) -> Questionnaire:
    """Le questionnaire lu et validé ; d'une commande à l'autre, gardé dans le cache disque sous l'empreinte du
    fichier et du code qui le lit (`cache.objet`)."""
    try:
        octets = Path(fichier).read_bytes()
    except OSError:
        return _charger(fichier)
    cle = cache.empreinte(str(fichier), octets, cache.sources(__file__, yaml_lignes.__file__))
    return cache.objet("questionnaire", cle, lambda: _charger(fichier))


def _charger(fichier: Path) -> Questionnaire:
    doc = yaml_lignes.lire(fichier)
    problemes = yaml_lignes.structure(doc, SCHEMA)
    if problemes:
        raise ErreurDonnees(problemes)
    sections = doc.donnees.get("sections", [])
    questions = []
    vus: dict[str, str] = {}
    for i, section in enumerate(sections):
        for j, q in enumerate(section.get("questions", [])):
            chemin = f"sections.{i}.questions.{j}"
            question = _question(q, section["id"], fichier, doc, chemin)
            if question.id in vus:
                raise ErreurDonnees(Probleme(f"question « {question.id} » déjà définie (section {vus[question.id]})",
                                             fichier, doc.ligne(chemin), "id"))
            vus[question.id] = section["id"]
            questions.append(question)
    return Questionnaire(sections, questions, fichier, doc.donnees.get("nomenclatures") or {})


def _schema_question(q: Question) -> dict[str, Any]:
    s: dict[str, Any]
    if q.type in ("texte", "texte_long"):
        s = {"type": "string", "maxLength": q.max_longueur or (100000 if q.type == "texte_long" else 2000)}
        if q.motif:
            s["pattern"] = q.motif
    elif q.type in ("montant", "pourcentage"):
        s = {"type": "number", "minimum": 0 if q.min is None else q.min}
        s["maximum"] = 100 if q.type == "pourcentage" and q.max is None else q.max
        if s["maximum"] is None:
            del s["maximum"]
    elif q.type == "entier":
        s = {"type": "integer"}
        if q.min is not None:
            s["minimum"] = q.min
        if q.max is not None:
            s["maximum"] = q.max
    elif q.type == "date":
        s = {"type": "string", "format": "date"}
    elif q.type == "date_heure":
        s = {"type": "string", "pattern": MOTIF_DATE_HEURE}
    elif q.type == "choix":
        s = {"enum": list(q.choix)}
    elif q.type == "choix_multiple":
        s = {"type": "array", "items": {"enum": list(q.choix)}, "uniqueItems": True}
    elif q.type == "oui_non":
        s = {"type": "boolean"}
    else:  # liste
        s = {"type": "array", "items": _objet(q.questions)}
        if q.min is not None:
            s["minItems"] = q.min
        if q.max is not None:
            s["maxItems"] = q.max
    s["title"] = q.libelle
    if q.aide:
        s["description"] = q.aide
    if q.defaut is not None:
        s["default"] = q.defaut.isoformat() if isinstance(q.defaut, dt.date) else q.defaut
    if not q.requis:
        s = {"anyOf": [s, {"type": "null"}], "title": q.libelle}
    return s


def _objet(questions: list[Question]) -> dict[str, Any]:
    """Objet JSON dont les propriétés suivent les chemins pointés des questions."""
    racine: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False, "required": []}
    for q in questions:
        *parents, feuille = q.id.split(".")
        noeud = racine
        for p in parents:
            enfant = noeud["properties"].setdefault(
                p, {"type": "object", "properties": {}, "additionalProperties": False, "required": []})
            noeud = enfant
        noeud["properties"][feuille] = _schema_question(q)
        if q.requis and not q.condition:
            noeud["required"].append(feuille)
    _nettoyer(racine)
    return racine


def _nettoyer(noeud: dict[str, Any]) -> None:
    if not noeud.get("required", True):
        del noeud["required"]
    for enfant in noeud.get("properties", {}).values():
        if enfant.get("type") == "object":
            _nettoyer(enfant)
