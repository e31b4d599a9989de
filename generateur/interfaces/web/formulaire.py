"""Le questionnaire en formulaire HTML : champs à afficher, lecture des valeurs envoyées, conditions, erreurs.

Aucune question n'est écrite ici : tout vient de questionnaire.yaml (types, aides, défauts, bornes,
conditions, listes). Les erreurs sont celles de `reponses.valider`, les mêmes que pour la ligne de commande.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from werkzeug.exceptions import BadRequest

from ...donnees import cpv, reponses, saisie, yaml_lignes
from ...donnees.formats import pluriel
from ...erreurs import ErreurDonnees, Probleme
from ...droit.expressions import ErreursJinja, evaluer
from ...donnees.questionnaire import Question, Questionnaire

SOURCE_FORMULAIRE = "formulaire"
MAX_ELEMENTS = 500  # garde-fou si une liste n'a pas de maximum dans le questionnaire


# --- accès aux réponses par chemin pointé (« lots.0.intitule ») : saisie.lire et saisie.ecrire ---------

lire = saisie.lire


def poser(donnees: dict[str, Any], chemin: str, valeur: Any) -> None:
    """Range une valeur au chemin ; None retire la réponse (le défaut s'appliquera) sans laisser « prix: {} »."""
    if valeur is not None:
        saisie.ecrire(donnees, chemin, valeur)
        return
    parent, _, feuille = chemin.rpartition(".")
    noeud = lire(donnees, parent) if parent else donnees
    if isinstance(noeud, dict):
        noeud.pop(feuille, None)
        if parent and noeud == {} and not parent.rpartition(".")[2].isdigit():
            poser(donnees, parent, None)


# --- conditions ---------------------------------------------------------------------------------------

def avec_defauts(donnees: dict[str, Any], questionnaire: Questionnaire) -> dict[str, Any]:
    """Copie des réponses complétée par les défauts du questionnaire (contexte des conditions)."""
    complet = copy.deepcopy(donnees)
    try:
        reponses.completer(complet, questionnaire.questions)
    except ValueError:  # date mal saisie : elle sera signalée par la validation
        pass
    return complet


def visibilites(questionnaire: Questionnaire, donnees: dict[str, Any]) -> dict[str, bool]:
    """Pour chaque question de premier niveau : sa condition est-elle remplie par les réponses ?"""
    contexte = avec_defauts(donnees, questionnaire)
    resultat = {}
    for q in questionnaire.questions:
        if not q.condition:
            resultat[q.id] = True
            continue
        try:
            resultat[q.id] = bool(evaluer(q.condition, contexte))
        except ErreursJinja:
            resultat[q.id] = True  # une réponse manquante ou invalide : on pose la question plutôt que de la cacher
    return resultat


# --- lecture du formulaire envoyé --------------------------------------------------------------------

def _nombre(texte: str, entier: bool) -> Any:
    """Le nombre saisi, lu par le même analyseur que le terminal (saisie.lire_nombre) ; le texte tel quel s'il n'en
    est pas un : la validation dira alors « un nombre est attendu »."""
    brut = texte.strip().removesuffix("€").removesuffix("%").strip()
    if not brut:
        return None
    try:
        valeur = saisie.lire_nombre(brut)
    except ValueError:
        return texte.strip()
    if valeur == valeur.to_integral_value():
        return int(valeur)
    return texte.strip() if entier else float(valeur)


class FormulaireIncoherent(BadRequest):
    """Un formulaire que la page n'a pas pu produire (nombre d'éléments annoncé sans leurs champs) : 400, message."""


def _elements_envoyes(formulaire: Any, chemin: str) -> int:
    """Nombre d'éléments de la liste au chemin dont le formulaire contient au moins un champ (0, 1… sans trou)."""
    prefixe = f"{chemin}."
    rangs = {cle[len(prefixe):].partition(".")[0] for cle in formulaire.keys() if cle.startswith(prefixe)}
    n = 0
    while str(n) in rangs:
        n += 1
    return n


def _valeur(q: Question, chemin: str, formulaire: Any) -> Any:
    if q.type == "liste":
        try:
            nombre = int(formulaire.get(f"{chemin}.__nombre", "0"))
        except ValueError:
            nombre = 0
        nombre = max(0, min(nombre, q.max or MAX_ELEMENTS))
        envoyes = _elements_envoyes(formulaire, chemin)
        if nombre > envoyes:  # le nombre annoncé ne fabrique pas d'éléments que le formulaire ne contient pas
            raise FormulaireIncoherent(f"Formulaire incohérent : « {q.libelle} » annonce {pluriel(nombre, 'élément')} mais le formulaire "
                             f"n'en contient que {envoyes}. Recharger la page puis renvoyer le formulaire.")
        elements = []
        for i in range(nombre):
            element: dict[str, Any] = {}
            for sous in q.questions:
                poser(element, sous.id, _valeur(sous, f"{chemin}.{i}.{sous.id}", formulaire))
            elements.append(element)
        return elements
    if q.type == "choix_multiple":
        choisis = formulaire.getlist(chemin)
        return [c for c in q.choix if c in choisis] + [c for c in choisis if c not in q.choix]
    texte = str(formulaire.get(chemin, "")).replace("\r\n", "\n").strip()
    if q.type == "oui_non":
        return {"oui": True, "non": False}.get(texte, texte or None)
    if not texte:
        return None
    if q.type in ("montant", "pourcentage"):
        return _nombre(texte, entier=False)
    if q.type == "entier":
        return _nombre(texte, entier=True)
    if q.type == "date_heure":
        return texte.replace("T", " ")
    return texte


def questions_section(questionnaire: Questionnaire, section: str) -> list[Question]:
    return [q for q in questionnaire.questions if q.section == section]


def lire_formulaire(questionnaire: Questionnaire, section: str, formulaire: Any, donnees: dict[str, Any],
                    caches: set[str] | frozenset[str] = frozenset()) -> dict[str, Any]:
    """Réponses mises à jour avec les champs envoyés pour une section (les autres sections sont gardées).

    Une case à cocher décochée n'est pas envoyée : toute question affichée (hors `caches`) est relue.
    """
    resultat = copy.deepcopy(donnees)
    for q in questions_section(questionnaire, section):
        if q.id not in caches:
            poser(resultat, q.id, _valeur(q, q.id, formulaire))
    return resultat


def differences(questionnaire: Questionnaire, section: str, avant: dict[str, Any], apres: dict[str, Any],
                caches: set[str] | frozenset[str] = frozenset()) -> list[tuple[str, str]]:
    """(libellé, valeur lisible) des réponses de la section que `apres` renseigne autrement que `avant` : ce qu'une
    page envoyait et qui n'a pas été enregistré (« Lot 2 — Intitulé du lot », « Menuiseries »)."""
    resultat: list[tuple[str, str]] = []

    def parcourir(questions: list[Question], prefixe: str) -> None:
        for q in questions:
            chemin = f"{prefixe}{q.id}"
            valeur = lire(apres, chemin)
            if q.type == "liste":
                for i in range(len(valeur) if isinstance(valeur, list) else 0):
                    parcourir(q.questions, f"{chemin}.{i}.")
            elif valeur not in (None, "", []) and valeur != lire(avant, chemin):
                resultat.append((questionnaire.libelle(chemin), saisie.afficher(q, valeur) or str(valeur)))

    parcourir([q for q in questions_section(questionnaire, section) if q.id not in caches], "")
    return resultat


def ajouter_element(questionnaire: Questionnaire, donnees: dict[str, Any], chemin: str) -> dict[str, Any] | None:
    """Ajoute un élément vide à la liste au chemin ; None si la liste est pleine ou inconnue."""
    q = questionnaire.question(chemin)
    if q is None or q.type != "liste":
        return None
    resultat = copy.deepcopy(donnees)
    liste = lire(resultat, chemin)
    if not isinstance(liste, list):
        liste = []
        poser(resultat, chemin, liste)
    if len(liste) >= (q.max or MAX_ELEMENTS):
        return None
    element: dict[str, Any] = {}
    if any(s.id == "numero" for s in q.questions):  # « Lot 3 » porte d'office le numéro 3 (ou le suivant libre)
        pris = [e.get("numero") for e in liste if isinstance(e, dict) and isinstance(e.get("numero"), int)]
        element["numero"] = len(liste) + 1 if len(liste) + 1 not in pris else max(pris) + 1
    liste.append(element)
    return resultat


def retirer_element(donnees: dict[str, Any], chemin: str) -> dict[str, Any] | None:
    """Retire l'élément « lots.2 » ; None si le chemin ne désigne pas un élément de liste."""
    parent, _, index = chemin.rpartition(".")
    resultat = copy.deepcopy(donnees)
    liste = lire(resultat, parent)
    if not index.isdigit() or not isinstance(liste, list) or int(index) >= len(liste):
        return None
    del liste[int(index)]
    return resultat


def initiales(questionnaire: Questionnaire) -> dict[str, Any]:
    """Réponses d'une nouvelle consultation : chaque liste obligatoire reçoit ses éléments minimaux."""
    donnees: dict[str, Any] = {}
    for q in questionnaire.questions:
        if q.type == "liste" and q.min:
            numerotes = any(s.id == "numero" for s in q.questions)
            poser(donnees, q.id, [{"numero": i + 1} if numerotes else {} for i in range(q.min)])
    return donnees


# --- validation -----------------------------------------------------------------------------------------

def valider(questionnaire: Questionnaire, donnees: dict[str, Any]) -> list[Probleme]:
    """Problèmes des réponses, par `reponses.valider` : les mêmes messages que la ligne de commande."""
    document = yaml_lignes.Document(copy.deepcopy(donnees), SOURCE_FORMULAIRE)
    try:
        reponses.valider(document, questionnaire)
    except ErreurDonnees as exc:
        return list(exc.problemes)
    return []


def section_du_champ(questionnaire: Questionnaire, champ: str | None) -> str | None:
    q = questionnaire.question(champ) if champ else None
    return q.section if q else None


def message(probleme: Probleme) -> str:
    """« Lot 2 — Intitulé du lot : réponse obligatoire » ; le fichier et la ligne pour un fichier envoyé."""
    if probleme.fichier == SOURCE_FORMULAIRE:
        return str(Probleme(probleme.message, None, None, probleme.champ, probleme.libelle))
    return str(probleme)


# --- champs à afficher ------------------------------------------------------------------------------------

def ident_html(chemin: str) -> str:
    """Identifiant HTML d'un chemin de réponse : « lots.1.intitule » → « c-lots-1-intitule »."""
    return "c-" + re.sub(r"[^A-Za-z0-9_-]", "-", chemin) if chemin else "contenu"


_VOYELLE = re.compile(r"^[aeéèêiîoôuûhy]", re.IGNORECASE)


@dataclass
class Element:
    """Un élément d'une liste (un lot, un critère) : ses champs et les erreurs qui le visent en entier."""

    chemin: str
    rang: int  # 1, 2, 3… dans l'ordre de la liste
    champs: list["Champ"]
    erreurs: list[str] = field(default_factory=list)

    @property
    def ident(self) -> str:
        return ident_html(self.chemin)

    @property
    def principaux(self) -> list["Champ"]:
        """Champs obligatoires, toujours affichés."""
        return [c for c in self.champs if c.question.requis]

    @property
    def facultatifs(self) -> list["Champ"]:
        return [c for c in self.champs if not c.question.requis]

    @property
    def ouvrir_facultatifs(self) -> bool:
        return any(c.en_erreur for c in self.facultatifs)

    @property
    def facultatifs_renseignes(self) -> int:
        return sum(1 for c in self.facultatifs if c.renseigne)


@dataclass
class Champ:
    """Une question à afficher, à un chemin précis (« lots.1.intitule »)."""

    question: Question
    chemin: str
    valeur: Any
    visible: bool = True
    erreurs: list[str] = field(default_factory=list)
    elements: list[Element] = field(default_factory=list)
    proposition: str = ""  # réponse proposée d'après une autre (nature d'après le code CPV), non cochée d'office

    @property
    def ident(self) -> str:
        return ident_html(self.chemin)

    @property
    def decrit_par(self) -> str:
        """Valeur d'aria-describedby : l'aide et l'erreur du champ."""
        ids = ([f"{self.ident}-aide"] if self.question.aide else []) + ([f"{self.ident}-erreur"] if self.erreurs else [])
        return " ".join(ids)

    @property
    def premier_niveau(self) -> bool:
        return self.chemin == self.question.id

    @property
    def en_erreur(self) -> bool:
        return bool(self.erreurs) or any(e.erreurs or any(c.en_erreur for c in e.champs) for e in self.elements)

    @property
    def renseigne(self) -> bool:
        return self.valeur not in (None, "", [])

    # -- listes : « un lot » → « Lot 2 », « Ajouter un lot », « Supprimer le lot 2 »
    @property
    def _element(self) -> tuple[str, str]:
        article, _, nom = (self.question.element or "un élément").partition(" ")
        return article, nom

    def titre_element(self, rang: int) -> str:
        nom = self._element[1]
        return f"{nom[:1].upper()}{nom[1:]} {rang}"

    @property
    def ajouter(self) -> str:
        return f"Ajouter {self.question.element or 'un élément'}"

    def supprimer(self, rang: int) -> str:
        article, nom = self._element
        defini = "l'" if _VOYELLE.match(nom) else ("la " if article == "une" else "le ")
        return f"Supprimer {defini}{nom} {rang}"

    @property
    def colonnes(self) -> list[Question]:
        """Sous-questions renseignées dans au moins un élément : colonnes du tableau récapitulatif."""
        return [sq for sq in self.question.questions
                if any(c.renseigne for e in self.elements for c in e.champs if c.question.id == sq.id)]

    @property
    def plein(self) -> bool:
        return len(self.elements) >= (self.question.max or MAX_ELEMENTS)

    @property
    def minimum_atteint(self) -> bool:
        return len(self.elements) <= (self.question.min or 0)

    # -- champs simples
    @property
    def controle(self) -> str:
        """Contrôle HTML : texte, zone, nombre, date, date_heure, radios, liste_deroulante, cases, liste."""
        t = self.question.type
        if t == "choix":
            return "radios" if len(self.options) <= 5 else "liste_deroulante"
        return {"texte_long": "zone", "montant": "nombre", "pourcentage": "nombre", "entier": "entier",
                "oui_non": "radios", "choix_multiple": "cases"}.get(t, t if t in ("date", "date_heure", "liste") else "texte")

    @property
    def options(self) -> list[tuple[str, str]]:
        """(valeur, libellé) des boutons radio, d'une liste déroulante ou des cases."""
        q = self.question
        options = list(q.choix.items()) if q.type in ("choix", "choix_multiple") else [("oui", "Oui"), ("non", "Non")]
        if q.type != "choix_multiple" and not q.requis and q.defaut is None:
            options.insert(0, ("", "Non précisé"))
        return options

    @property
    def texte(self) -> str:
        """Valeur telle qu'un champ de saisie l'affiche (la valeur par défaut tant que rien n'est saisi)."""
        v = self.question.defaut if self.valeur is None else self.valeur
        if v is None:
            return ""
        if self.question.type == "date_heure":
            try:
                return reponses.lire_date_heure(v).strftime("%Y-%m-%dT%H:%M")
            except ValueError:
                return str(v)
        if self.question.type == "date" and isinstance(v, dt.date):
            return yaml_lignes.en_date(v).isoformat()
        if isinstance(v, float):
            return str(int(v)) if v.is_integer() else str(v).replace(".", ",")
        return str(v)

    def coche(self, cle: str) -> bool:
        """Une case, un bouton radio ou une option est-il choisi (défaut compris) ?"""
        v = self.question.defaut if self.valeur is None else self.valeur
        if self.question.type == "choix_multiple":
            return isinstance(v, list) and cle in v
        if self.question.type == "oui_non":
            return {"oui": v is True, "non": v is False}.get(cle, v is None)
        return (v if v is not None else "") == cle


def _champ(q: Question, chemin: str, donnees: Any, erreurs: dict[str, list[str]], visible: bool = True) -> Champ:
    valeur = lire(donnees, chemin)
    champ = Champ(q, chemin, valeur, visible, erreurs.get(chemin, []))
    if q.d_apres_cpv and valeur is None and isinstance(donnees, dict) and cpv.trouver(str(donnees.get("cpv") or "")):
        proposee = cpv.nature_proposee(str(donnees["cpv"]), q.d_apres_cpv)
        champ.proposition = q.choix.get(proposee, "") if proposee else ""
    if q.type == "liste":
        for i in range(len(valeur) if isinstance(valeur, list) else 0):
            sous = [_champ(s, f"{chemin}.{i}.{s.id}", donnees, erreurs) for s in q.questions]
            champ.elements.append(Element(f"{chemin}.{i}", i + 1, sous, erreurs.get(f"{chemin}.{i}", [])))
    return champ


def champs(questionnaire: Questionnaire, section: str, donnees: dict[str, Any], problemes: list[Probleme],
           caches: set[str] | frozenset[str] = frozenset()) -> list[Champ]:
    """Champs d'une section, avec leur visibilité et leurs erreurs (`caches` : questions posées ailleurs)."""
    erreurs: dict[str, list[str]] = {}
    for p in problemes:
        erreurs.setdefault(p.champ or "", []).append(p.message)
    vues = visibilites(questionnaire, donnees)
    return [_champ(q, q.id, donnees, erreurs, vues[q.id]) for q in questions_section(questionnaire, section)
            if q.id not in caches]


def chemins_affiches(liste: list[Champ]) -> set[str]:
    """Chemins qui ont un endroit où afficher une erreur (champs et éléments de liste)."""
    resultat = set()
    for c in liste:
        resultat.add(c.chemin)
        for e in c.elements:
            resultat.add(e.chemin)
            resultat |= chemins_affiches(e.champs)
    return resultat


def ancre(champ: str, affiches: set[str]) -> str:
    """Identifiant HTML du champ le plus proche qui affiche l'erreur d'un chemin."""
    while champ and champ not in affiches:
        champ = champ.rpartition(".")[0]
    return ident_html(champ)
